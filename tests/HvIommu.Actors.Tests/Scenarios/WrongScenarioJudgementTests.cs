using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// A run of a scenario that names <c>expect-kind</c> stops at the first violation of that kind, not at the first
/// of any kind: h5-drain-wrong's deterministic seed 11 meets a stale translation after the flush (another H5
/// symptom) first, then the expected DMA to a freed frame — one run, judged fairly. Without an expected kind the
/// run still stops at its first violation.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class WrongScenarioJudgementTests
{
    private static string Scenario(string name) => Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", name + ".conf");

    [Fact]
    public void A_run_goes_on_past_another_kind_to_the_expected_one()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", Scenario("h5-drain-wrong"), "--seed", "11", "--plain"]);
        Assert.True(exit == 0, stdout + stderr);
        var stale = stdout.IndexOf(". StaleTranslationAfterFlush [H5]", StringComparison.Ordinal);
        var freed = stdout.IndexOf(". DmaToFreedFrame [H5]", StringComparison.Ordinal);
        Assert.True(stale >= 0 && freed > stale, stdout);
        Assert.Contains("result: expected violation DmaToFreedFrame, found 2 violations kept: MATCHED (exit 0)", stdout);
    }

    [Fact]
    public void Without_an_expected_kind_a_run_stops_at_its_first_violation()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-judge-").FullName;
        try
        {
            var config = Path.Combine(dir, "h5-any.conf");
            File.WriteAllText(config, File.ReadAllText(Scenario("h5-drain-wrong")).Replace("expect-kind = DmaToFreedFrame", "", StringComparison.Ordinal));
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", config, "--seed", "11", "--plain"]);
            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains("1. StaleTranslationAfterFlush [H5]", stdout);
            Assert.DoesNotContain("DmaToFreedFrame [H5]", stdout);
            Assert.Contains("found 1 violation kept: MATCHED (exit 0)", stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
