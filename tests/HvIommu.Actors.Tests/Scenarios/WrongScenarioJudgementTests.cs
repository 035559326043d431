using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// A run of a scenario that names <c>expect-kind</c> stops at the first violation of that kind, not at the first
/// of any kind: on h5-drain-wrong a deterministic seed whose run meets another H5 symptom first (a stale
/// translation after the flush) goes on to the expected DMA to a freed frame — one run, judged fairly. Without an
/// expected kind the same run stops at its first violation.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class WrongScenarioJudgementTests
{
    private static string Scenario(string name) => Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", name + ".conf");

    [Fact]
    public void A_run_goes_on_past_another_kind_to_the_expected_one_and_without_one_stops_at_the_first()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-judge-").FullName;
        try
        {
            var any = Path.Combine(dir, "h5-any.conf");
            File.WriteAllText(any, File.ReadAllText(Scenario("h5-drain-wrong")).Replace("expect-kind = DmaToFreedFrame", "", StringComparison.Ordinal));
            // The first seed whose run, stopping at its first violation, stops at another kind.
            var seed = Enumerable.Range(1, 60).FirstOrDefault(s =>
            {
                var (_, output, _) = RunEndToEndTests.Run(["run", "--config", any, "--seed", s.ToString(System.Globalization.CultureInfo.InvariantCulture), "--plain"]);
                return output.Contains("1. StaleTranslationAfterFlush [H5]", StringComparison.Ordinal);
            });
            Assert.True(seed > 0, "no seed of 1..60 meets a stale translation first");
            var text = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var (first, stopped, _) = RunEndToEndTests.Run(["run", "--config", any, "--seed", text, "--plain"]);
            Assert.Equal(0, first);
            Assert.DoesNotContain("DmaToFreedFrame [H5]", stopped);
            Assert.Contains("found 1 violation kept: MATCHED (exit 0)", stopped);

            var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", Scenario("h5-drain-wrong"), "--seed", text, "--plain"]);
            Assert.True(exit == 0, stdout + stderr);
            var stale = stdout.IndexOf(". StaleTranslationAfterFlush [H5]", StringComparison.Ordinal);
            var freed = stdout.IndexOf(". DmaToFreedFrame [H5]", StringComparison.Ordinal);
            Assert.True(stale >= 0 && freed > stale, stdout);
            Assert.Contains("result: expected violation DmaToFreedFrame, found", stdout);
            Assert.Contains("MATCHED (exit 0)", stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // How the tests judge a wrong scenario: a stress-mode file gets up to three draws of the thread schedule, a
    // deterministic one exactly one (ScenarioFiles.JudgeWrong).
    [Fact]
    public void A_stress_mode_wrong_scenario_is_redrawn_until_it_matches_at_most_three_times()
    {
        var file = Path.Combine(ScenarioFiles.Directory, "h3-lazy-window-wrong.conf");
        Assert.True(ScenarioFiles.IsStress(file));
        var runs = 0;
        var (_, attempts) = ScenarioFiles.JudgeWrong(file, () => ++runs, r => r == 2);
        Assert.Equal(2, attempts);
        runs = 0;
        var (last, capped) = ScenarioFiles.JudgeWrong(file, () => ++runs, _ => false);
        Assert.Equal((3, 3), (last, capped));
    }

    [Fact]
    public void A_deterministic_wrong_scenario_gets_exactly_one_run()
    {
        var file = Path.Combine(ScenarioFiles.Directory, "h5-attach-flush-wrong.conf");
        Assert.False(ScenarioFiles.IsStress(file));
        var runs = 0;
        var (_, attempts) = ScenarioFiles.JudgeWrong(file, () => ++runs, _ => false);
        Assert.Equal((1, 1), (attempts, runs));
    }
}
