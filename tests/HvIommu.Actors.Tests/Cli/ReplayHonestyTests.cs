using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Configuration;
using HvIommu.Actors.Tests.Simulation;
using Xunit;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// A replay says REPRODUCED only of the run recorded: a schedule file that carries choices the run never takes
/// (a hand edit, another config) is not that run, and a bare schedule replayed on the wrong topology says how to
/// give it the right one.
/// </summary>
[Trait("Category", "Actors")]
public sealed class ReplayHonestyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-replay-honesty-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Record()
    {
        var report = Path.Combine(_dir, "r.json");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", RaceConfig, "--mode", "deterministic", "--seed", "1", "--report", report, "--plain"]);
        Assert.True(exit == ExitCodes.Matched, stdout + stderr);
        return Path.ChangeExtension(report, ".schedule");
    }

    private static string RaceConfig => RepoFiles.Path("config", "races", "h5-drain.conf");

    [Fact]
    public void A_schedule_with_environment_choices_the_run_never_takes_did_not_reproduce()
    {
        var schedule = Record();
        var lines = File.ReadAllLines(schedule).ToList();
        var choices = lines.FindIndex(l => l.StartsWith("choices", StringComparison.Ordinal));
        Assert.True(lines.Take(choices).Any(l => l.StartsWith("values ", StringComparison.Ordinal)), "the race draws environment choices");
        lines.Insert(choices, "0/2 1/3");  // continues the values list: two more choices than the run makes
        var edited = Path.Combine(_dir, "edited.schedule");
        File.WriteAllLines(edited, lines);

        var (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--schedule", edited, "--config", RaceConfig, "--plain"]);
        Assert.True(exit == ExitCodes.Mismatched, stdout + stderr);
        Assert.Contains("DIVERGED: the run finished after", stdout);
        Assert.Contains("leaving 2 unused", stdout);

        // The file as recorded replays to its end.
        (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--schedule", schedule, "--config", RaceConfig, "--plain"]);
        Assert.True(exit == ExitCodes.Matched, stdout + stderr);
        Assert.Contains("result: replayed", stdout);
    }

    [Fact]
    public void A_bare_schedule_replayed_without_its_config_diverges_and_says_to_pass_it()
    {
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--schedule", Record(), "--plain"]);
        Assert.True(exit == ExitCodes.Mismatched, stdout + stderr);
        Assert.Contains("DIVERGED", stdout);
        Assert.Contains("used the embedded default; pass that run's config with --config", stdout);
    }
}
