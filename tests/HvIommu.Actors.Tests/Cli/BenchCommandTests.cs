using System.Text.Json;
using HvIommu.Actors.Bench;
using HvIommu.Actors.Cli;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// <c>bench</c> end to end on a small budget: the JSON's <c>stress.operations</c> counts guest operations
/// (map → DMA → unmap), as <c>--ops</c> asks for them and the text line prints them, not the pages they unmapped;
/// the measured run follows an unmeasured warm-up run (<c>--warm-up-ops</c>).
/// </summary>
[Trait("Category", "Actors")]
public sealed class BenchCommandTests
{
    [Fact]
    public void Bench_json_counts_stress_operations_not_pages_unmapped()
    {
        var r = HostileInputTests.Run("bench", "--json", "--ops", "300", "--schedules", "2");
        Assert.True(r.Code == ExitCodes.Matched, r.Out + r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var stress = doc.RootElement.GetProperty("stress");
        // The default topology's buffers are 1 to many pages, so 300 operations unmap well over 300 pages.
        Assert.Equal(300, stress.GetProperty("operations").GetInt64());
        // The measured run came after an unmeasured one of a tenth of its operations.
        Assert.Equal(30, stress.GetProperty("warmUpOperations").GetInt64());
        Assert.True(stress.GetProperty("dmaPerSecond").GetDouble() > 0);
        Assert.True(stress.GetProperty("allocatedBytesPerOperation").GetDouble() > 0);
        // It says what it measured: the embedded default topology, with the operations asked for.
        var workload = stress.GetProperty("workload");
        Assert.Equal("default.conf (embedded)", workload.GetProperty("config").GetString());
        Assert.Equal(300, workload.GetProperty("ops").GetInt64());
        Assert.Equal(2, doc.RootElement.GetProperty("deterministic").GetProperty("scheduleProfile").GetProperty("schedules").GetInt64());
        // schedules/s is the warm block's; the cold block and the start ran before it, in blocks of --schedules.
        var schedules = doc.RootElement.GetProperty("deterministic");
        var warmUp = schedules.GetProperty("warmUpSchedules").GetInt64();
        Assert.True(warmUp >= 52 && (warmUp - 50) % 2 == 0 && warmUp <= 50 + 2 * WarmThroughput.MaxWarmUpBlocks, $"warmUpSchedules {warmUp}");
        Assert.True(schedules.GetProperty("schedulesPerSecond").GetDouble() > 0 && schedules.GetProperty("coldSchedulesPerSecond").GetDouble() > 0);

        // The --json help names every field the output has, down to the schedule profile's.
        var help = string.Concat(HostileInputTests.Run("bench", "--help").Out.Where(c => !char.IsWhiteSpace(c)));
        var deterministic = doc.RootElement.GetProperty("deterministic");
        foreach (var field in stress.EnumerateObject().Concat(workload.EnumerateObject()).Concat(deterministic.EnumerateObject()).Concat(deterministic.GetProperty("scheduleProfile").EnumerateObject()))
            Assert.Contains($"\"{field.Name}\"", help);
    }

    [Fact]
    public void A_warm_up_applies_to_the_measured_stress_run_only()
    {
        HostileInputTests.BadInput(HostileInputTests.Run("bench", "--soak", "--warm-up-ops", "5"), "--warm-up-ops", "--soak");
        HostileInputTests.BadInput(HostileInputTests.Run("bench", "--races", "--warm-up-ops", "5"), "--warm-up-ops", "does not apply to --races");
        HostileInputTests.BadInput(HostileInputTests.Run("bench", "--warm-up-ops", "-1"), "--warm-up-ops");
    }
}
