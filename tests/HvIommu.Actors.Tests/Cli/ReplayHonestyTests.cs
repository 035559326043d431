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

    // A run cut short by --max-steps replays to the same point: no divergence past its last recorded step, and no
    // HypercallHung for the hypercalls outstanding there (the right twin of a race is correct).
    [Theory]
    [InlineData("h5-drain-right", 300)]
    [InlineData("h5-drain-wrong", 100)]
    public void A_run_cut_short_by_its_step_budget_replays_reproduced_with_no_hung_hypercall(string scenario, int maxSteps)
    {
        var report = Path.Combine(_dir, scenario + ".json");
        var config = RepoFiles.Path("config", "scenarios", scenario + ".conf");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", config, "--mode", "deterministic", "--seed", "1",
            "--max-steps", maxSteps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--report", report, "--plain"]);
        Assert.True(exit is ExitCodes.Matched or ExitCodes.Mismatched, stdout + stderr);

        (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--report", report, "--plain"]);
        Assert.True(exit == ExitCodes.Matched, stdout + stderr);
        Assert.Contains("REPRODUCED", stdout);
        Assert.DoesNotContain("HypercallHung", stdout);
        Assert.DoesNotContain("DIVERGED", stdout);
    }

    // An explorer whose schedule found the expected violation before running out of steps keeps it (exit 0), and a
    // schedule that found nothing by then is still its hang detector (exit 3).
    [Fact]
    public void An_explorer_keeps_a_violation_found_before_the_step_budget_ran_out()
    {
        var report = Path.Combine(_dir, "ex.json");
        var config = RepoFiles.Path("config", "scenarios", "h5-drain-wrong.conf");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["explore", "--config", config, "--seeds", "5", "--max-steps", "100", "--report", report, "--plain"]);
        Assert.True(exit == ExitCodes.Matched, stdout + stderr);
        Assert.Contains("found 1 violation kept: MATCHED (exit 0)", stdout);
        (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--report", report, "--plain"]);
        Assert.True(exit == ExitCodes.Matched, stdout + stderr);
    }

    // A replay that leaves its recording says which recorded line did not fit: an environment choice missing, or
    // recorded out of another number of options.
    [Theory]
    [InlineData("values 1/2 1/2 1/2", "the run needed environment choice 4, but only 3 were recorded (line values)")]
    [InlineData("values 1/2 1/3 1/2 1/2", "environment choice 2 was recorded out of 3 options (line values), and the run offered 2")]
    public void A_replay_that_leaves_its_environment_choices_says_which(string values, string why)
    {
        var schedule = Record();
        var lines = File.ReadAllLines(schedule).ToList();
        var at = lines.FindIndex(l => l.StartsWith("values ", StringComparison.Ordinal));
        Assert.Equal("values 1/2 1/2 1/2 1/2", lines[at]);
        lines[at] = values;
        var edited = Path.Combine(_dir, "values.schedule");
        File.WriteAllLines(edited, lines);

        var (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--schedule", edited, "--config", RaceConfig, "--plain"]);
        Assert.True(exit == ExitCodes.Mismatched, stdout + stderr);
        Assert.Contains($": {why}; the run is not the one recorded", stdout);
    }

    // An edit of the very first choice (the run's start) is a divergence at step 0, not a simulator failure.
    [Fact]
    public void A_schedule_whose_first_choice_was_edited_diverges_at_step_0()
    {
        var schedule = Record();
        var lines = File.ReadAllLines(schedule).ToList();
        var at = lines.FindIndex(l => l.StartsWith("choices ", StringComparison.Ordinal));
        var words = lines[at].Split(' ');
        words[1] = words[1] == "9" ? "8" : "9";
        lines[at] = string.Join(' ', words);
        var edited = Path.Combine(_dir, "first.schedule");
        File.WriteAllLines(edited, lines);

        var (exit, stdout, stderr) = RunEndToEndTests.Run(["replay", "--schedule", edited, "--config", RaceConfig, "--plain"]);
        Assert.True(exit == ExitCodes.Mismatched, stdout + stderr);
        Assert.Contains("DIVERGED at schedule step 0", stdout);
        Assert.DoesNotContain("SIMULATOR FAILURE", stdout + stderr);
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
