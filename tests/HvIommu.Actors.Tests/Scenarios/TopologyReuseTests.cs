using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// An explorer keeps a schedule's actors for the next schedule of the same settings and starts them again
/// (<c>hviommu.run.reuse-actors</c>, on by default) instead of stopping them and creating new ones. Every schedule must
/// be the one new actors give: an explore with reuse on and one with reuse off, schedule by schedule (the portfolio's
/// strategies in turn, as <c>explore</c> plans them), give the same trace hash, choices, environment values, failure
/// and report — on wrong twins whose schedules find violations, right twins, and schedules cut short by their step
/// budget (work left in the mailboxes; the next schedule starts on new actors).
/// </summary>
[Trait("Category", "Scenario")]
public sealed class TopologyReuseTests
{
    private static readonly string[] Scenarios =
    [
        "h2-free-iova-wrong", "h1-free-tables-wrong", "h17-input-page-wrong", "h10-fq-teardown-wrong", "h1-free-tables-right",
    ];

    private const int Schedules = 6;

    // Schedules at these indexes run out of steps mid-schedule.
    private static readonly int[] CutShort = [2];

    private static LoadedConfig WithReuse(LoadedConfig config, bool reuse) =>
        config with { Settings = config.Settings with { Run = config.Settings.Run with { ReuseActors = reuse } } };

    private static List<(string Fingerprint, bool Kept, ScheduleResult Result)> Explore(LoadedConfig config)
    {
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "reuse");
        var options = new ScheduleOptions();
        var plan = options.Plan();
        var expected = DeterministicRunner.ExpectedSteps(config);
        var results = new List<(string, bool, ScheduleResult)>();
        for (var i = 0; i < Schedules; i++)
        {
            var seed = 1 + (ulong)i;
            var concrete = options.For(plan.Next(seed, i)) with { MaxSteps = CutShort.Contains(i) ? 60 + 7 * i : ScheduleOptions.DefaultMaxSteps };
            var kept = system.Kept is not null;
            var result = DeterministicRunner.RunSchedule(system, config, seed, concrete, "", expected, recordLatencies: false, trace: false);
            plan.Observe(result.Decisions);
            results.Add((ScheduleReuseAcrossScenariosTests.Fingerprint(result), kept, result));
        }
        return results;
    }

    [Fact]
    public void An_explore_gives_the_same_schedules_with_its_actors_kept_and_with_new_actors_for_each()
    {
        var mismatches = new List<string>();
        int kept = 0, cutShort = 0, violating = 0;
        foreach (var name in Scenarios)
        {
            var config = SimConfig.Load(Path.Combine(ScenarioFiles.Directory, name + ".conf"));
            var reused = Explore(WithReuse(config, true));
            var fresh = Explore(WithReuse(config, false));
            for (var i = 0; i < Schedules; i++)
            {
                if (reused[i].Fingerprint != fresh[i].Fingerprint)
                    mismatches.Add($"{name} schedule {i}:\n  new    {fresh[i].Fingerprint}\n  reused {reused[i].Fingerprint}");
                Assert.False(fresh[i].Kept, "reuse off kept a run's actors");
                kept += reused[i].Kept ? 1 : 0;
                cutShort += reused[i].Result.OutOfSteps ? 1 : 0;
                violating += reused[i].Result.Report.Violations.Count > 0 ? 1 : 0;
                // A schedule after one cut short starts on new actors.
                if (i > 0 && reused[i - 1].Result.OutOfSteps)
                    Assert.False(reused[i].Kept, $"{name} schedule {i} reused the actors of a schedule cut short");
            }
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        // The comparison has teeth: most schedules started on kept actors, some were cut short, some found violations.
        Assert.True(kept >= Scenarios.Length * (Schedules - 1 - CutShort.Length), $"only {kept} schedules reused their actors");
        Assert.True(cutShort >= Scenarios.Length, $"only {cutShort} schedules ran out of steps");
        Assert.True(violating > 0);
    }

    // A replay whose first recorded choice is not the start's (an edited file) diverges at step 0 without creating the
    // run; its CreateRun must not be left for a cleanup drive to deliver outside the schedule, and a kept run must
    // stay kept: the next schedule on the same system is the one a new system gives.
    [Fact]
    public void A_replay_that_diverges_at_its_start_leaves_a_kept_run_for_the_next_schedule()
    {
        var config = WithReuse(SimConfig.Load(Path.Combine(ScenarioFiles.Directory, "h2-free-iova-wrong.conf")), true);
        var expected = DeterministicRunner.ExpectedSteps(config);
        ScheduleResult Run(DeterministicSystem system, ulong seed, ScheduleOptions options) =>
            DeterministicRunner.RunSchedule(system, config, seed, options, "", expected, recordLatencies: false, trace: false);

        string freshThird;
        using (var fresh = DeterministicRunner.CreateSystem(config, verbose: false, name: "fresh"))
            freshThird = ScheduleReuseAcrossScenariosTests.Fingerprint(Run(fresh, 3, new ScheduleOptions()));

        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "kept");
        var first = Run(system, 1, new ScheduleOptions());
        Assert.NotNull(system.Kept);
        var edited = first.Schedule with { Choices = [first.Schedule.Choices[0] + 1000, .. first.Schedule.Choices.Skip(1)] };
        var diverged = Run(system, 1, new ScheduleOptions(Replay: edited));
        Assert.Equal(0, diverged.Drive.DivergedAtStep);
        Assert.Null(diverged.Failure);
        Assert.Equal(0, diverged.Report.Stats.Steps);
        Assert.NotNull(system.Kept);
        Assert.Equal(freshThird, ScheduleReuseAcrossScenariosTests.Fingerprint(Run(system, 3, new ScheduleOptions())));
    }
}
