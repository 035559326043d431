using HvIommu.Actors.Minimize;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Minimize;

/// <summary>
/// minimize end to end (issue: shrink a failing deterministic run): for a few wrong scenarios a failing report
/// from explore --strategy pct is minimized into a run that replay reproduces with the same violation kind, no
/// larger than the original in delivered messages and steps, whose minimal.conf loads and runs on its own.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class MinimizeCommandTests
{
    [Theory]
    [InlineData("h5-drain-wrong")]
    [InlineData("h2-free-iova-wrong")]
    [InlineData("h7-empty-wrong")]
    [InlineData("h8-flush-failure-wrong")]
    public void Minimized_run_fails_the_same_way_and_is_no_larger(string scenario)
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-minimize-").FullName;
        try
        {
            var r = MinimizeFixture.ExploreAndMinimize(scenario, dir, "20s");
            Assert.True(r.Exit == 0, r.Output);
            Assert.Contains("replay: dotnet run --project src/Actors -c Release -- replay --report", r.Output);

            var (replayed, replayOut, replayErr) = RunEndToEndTests.Run(["replay", "--report", Path.Combine(r.Dir, "report.json")]);
            Assert.True(replayed == 0, replayOut + replayErr);
            Assert.Contains("REPRODUCED", replayOut);
            var (kind, _, _) = MinimizeFixture.Read(Path.Combine(r.Dir, "report.json"));
            Assert.Equal(r.Kind, kind);

            Assert.True(r.MinimalMessages <= r.OriginalMessages, $"messages {r.OriginalMessages} → {r.MinimalMessages}");
            Assert.True(r.MinimalSteps <= r.OriginalSteps, $"steps {r.OriginalSteps} → {r.MinimalSteps}");

            var conf = Path.Combine(r.Dir, "minimal.conf");
            var loaded = SimConfig.Load(conf);
            Assert.Equal(Model.Settings.RunMode.Deterministic, loaded.Settings.Mode);
            var (ran, runOut, runErr) = RunEndToEndTests.Run(["run", "--config", conf, "--plain"]);
            Assert.True(ran is 0 or 1, runOut + runErr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_report_without_a_violation_is_bad_input()
    {
        var dir = Directory.CreateTempSubdirectory("hviommu-minimize-").FullName;
        try
        {
            var report = Path.Combine(dir, "clean.json");
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--mode", "deterministic", "--ops", "20", "--report", report, "--plain"]);
            Assert.True(exit == 0, stdout + stderr);
            var (minimized, minOut, minErr) = RunEndToEndTests.Run(["minimize", "--report", report, "--out", Path.Combine(dir, "out")]);
            Assert.True(minimized == 2, minOut + minErr);
            Assert.Contains("nothing to minimize", minErr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Missing_arguments_are_bad_input()
    {
        var (exit, _, stderr) = RunEndToEndTests.Run(["minimize", "--out", "x"]);
        Assert.Equal(2, exit);
        Assert.Contains("Option '--report' is required", stderr);
    }
}
