using HvIommu.Actors.Configuration;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Tests.Configuration;

/// <summary><c>hviommu.driver.hazards</c>: each knob is read into <see cref="DriverHazards"/>, and a bad value
/// names the key, the value and what is allowed.</summary>
[Trait("Category", "Model")]
public sealed class DriverHazardsConfigSpec
{
    private const string File = "hazards.conf";
    private const string Section = "hviommu.driver.hazards.";

    private static DriverHazards Read(string text) => SimConfig.Parse(text, File).Settings.Driver.Hazards;

    [Fact]
    public void Each_switch_turns_on_alone()
    {
        Assert.Equal(DriverHazards.None with { FreeTablesBeforeFlush = true }, Read(Section + "free-tables-before-flush = on"));
        Assert.Equal(DriverHazards.None with { FreeIovaBeforeFlush = true }, Read(Section + "free-iova-before-flush = on"));
        Assert.Equal(DriverHazards.None with { BrokenFlushQueueCounter = true }, Read(Section + "broken-flush-queue-counter = on"));
        Assert.Equal(DriverHazards.None with { RacyTableInstall = true }, Read(Section + "racy-table-install = on"));
    }

    [Theory]
    [InlineData("exact", FlushRangeMode.Exact)]
    [InlineData("empty", FlushRangeMode.Empty)]
    [InlineData("off-by-one", FlushRangeMode.OffByOne)]
    [InlineData("overflow", FlushRangeMode.Overflow)]
    public void Flush_range_words(string word, FlushRangeMode mode) =>
        Assert.Equal(mode, Read(Section + "flush-range = " + word).FlushRange);

    [Theory]
    [InlineData("free-tables-before-flush")]
    [InlineData("free-iova-before-flush")]
    [InlineData("broken-flush-queue-counter")]
    [InlineData("racy-table-install")]
    public void A_switch_that_is_not_on_or_off(string key) =>
        AssertSingleProblem(Section + key + " = sometimes", Section + key, "sometimes", "expected on or off");

    [Fact]
    public void An_unknown_flush_range_lists_the_modes() =>
        AssertSingleProblem(Section + "flush-range = roughly", Section + "flush-range", "roughly",
            "expected one of: exact, empty, off-by-one, overflow");

    [Fact]
    public void An_unknown_hazard_key_lists_the_known_ones() =>
        AssertSingleProblem(Section + "free-buffers-early = on", Section + "free-buffers-early", "on", "free-tables-before-flush");

    private static void AssertSingleProblem(string text, string key, string value, string allowed)
    {
        var e = Assert.Throws<ConfigException>(() => SimConfig.Parse(text, File));
        var p = Assert.Single(e.Problems);
        Assert.Equal(key, p.Key);
        Assert.Equal(value, p.Value);
        Assert.Contains(allowed, p.Message);
    }
}
