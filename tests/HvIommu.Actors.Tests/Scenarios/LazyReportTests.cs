using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// An explorer asks <see cref="DeterministicRunner.RunSchedule"/> for a lazy report: the schedule's outcome (violations,
/// match, expectation, steps, trace hash) at once, the whole report only when read — before the next schedule on the
/// same system resets the world it is built from. Schedule by schedule, against a system that builds every report at
/// once (as before): the outcome and the report read lazily are the eager ones, on wrong twins whose schedules find
/// violations, a right twin, and schedules cut short by their step budget; a report not read in time is refused, not
/// built from the next schedule's world.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class LazyReportTests
{
    private static readonly string[] Scenarios = ["h2-free-iova-wrong", "h1-free-tables-wrong", "h17-input-page-wrong", "h10-fq-teardown-wrong", "h1-free-tables-right"];

    private const int Schedules = 6;

    private static ScheduleResult Run(DeterministicSystem system, LoadedConfig config, int i, bool lazy) =>
        DeterministicRunner.RunSchedule(system, config, 1 + (ulong)i, new ScheduleOptions(MaxSteps: i == 2 ? 70 : ScheduleOptions.DefaultMaxSteps), "repro",
            DeterministicRunner.ExpectedSteps(config), recordLatencies: false, trace: false, lazyReport: lazy);

    private static string Outcome(ScheduleResult r) =>
        $"{r.Seed} {r.Steps} {r.TraceHash} {r.Expected} {r.OutcomeMatched} {r.Verdict} {r.Failure} [{string.Join(";", r.Violations.Select(v => $"{v.Kind}@{v.Step}:{v.Explanation}:{v.Reproduce}"))}]";

    private static string OutcomeOfReport(ScheduleResult r) =>
        $"{r.Report.Seed} {r.Report.Stats.Steps} {r.Report.TraceHash} {r.Report.Expected} {r.Report.OutcomeMatched} {r.Verdict} {r.Failure} [{string.Join(";", r.Report.Violations.Select(v => $"{v.Kind}@{v.Step}:{v.Explanation}:{v.Reproduce}"))}]";

    [Fact]
    public void A_lazily_built_report_and_outcome_are_the_ones_built_at_once_and_an_unread_report_expires()
    {
        var mismatches = new List<string>();
        int violating = 0, failed = 0, unbuilt = 0, expired = 0;
        foreach (var name in Scenarios)
        {
            var config = SimConfig.Load(Path.Combine(ScenarioFiles.Directory, name + ".conf"));
            using var eagerSystem = DeterministicRunner.CreateSystem(config, verbose: false, name: "eager");
            using var lazySystem = DeterministicRunner.CreateSystem(config, verbose: false, name: "lazy");
            ScheduleResult? unread = null;
            for (var i = 0; i < Schedules; i++)
            {
                var eager = Run(eagerSystem, config, i, lazy: false);
                Assert.True(eager.HasReport);
                var lazy = Run(lazySystem, config, i, lazy: true);
                if (unread is not null)
                {
                    // The schedule before was never read: its world is this schedule's now.
                    Assert.Throws<InvalidOperationException>(() => unread.Report);
                    expired++;
                    unread = null;
                }
                // A failed schedule (cut short here) has its report at once; any other builds it when read.
                Assert.Equal(lazy.Failure is not null, lazy.HasReport);
                unbuilt += lazy.HasReport ? 0 : 1;
                if (Outcome(lazy) != OutcomeOfReport(eager))
                    mismatches.Add($"{name} schedule {i} outcome:\n  eager {OutcomeOfReport(eager)}\n  lazy  {Outcome(lazy)}");
                if (i % 2 == 1 && !lazy.HasReport)
                {
                    unread = lazy;
                    continue;
                }
                if (ScheduleReuseAcrossScenariosTests.Fingerprint(lazy) != ScheduleReuseAcrossScenariosTests.Fingerprint(eager))
                    mismatches.Add($"{name} schedule {i} report:\n  eager {ScheduleReuseAcrossScenariosTests.Fingerprint(eager)}\n  lazy  {ScheduleReuseAcrossScenariosTests.Fingerprint(lazy)}");
                Assert.Equal(OutcomeOfReport(lazy), Outcome(lazy));
                violating += eager.Report.Violations.Count > 0 ? 1 : 0;
                failed += eager.Failure is not null ? 1 : 0;
            }
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        // The comparison has teeth: reports built lazily, schedules with violations and failed ones among those compared.
        Assert.True(unbuilt >= Scenarios.Length * 3, $"only {unbuilt} reports were left to build lazily");
        Assert.True(violating >= 3, $"only {violating} compared schedules found violations");
        Assert.True(failed >= 1, $"only {failed} compared schedules failed");
        Assert.True(expired >= Scenarios.Length, $"only {expired} unread reports expired");
    }

    [Fact]
    public void A_kept_result_keeps_its_report_past_later_schedules()
    {
        var config = SimConfig.Load(Path.Combine(ScenarioFiles.Directory, "h2-free-iova-wrong.conf"));
        using var eagerSystem = DeterministicRunner.CreateSystem(config, verbose: false, name: "eager");
        using var lazySystem = DeterministicRunner.CreateSystem(config, verbose: false, name: "lazy");
        var kept = Run(lazySystem, config, 0, lazy: true).Keep();
        var expected = ScheduleReuseAcrossScenariosTests.Fingerprint(Run(eagerSystem, config, 0, lazy: false));
        for (var i = 1; i < 4; i++)
            _ = Run(lazySystem, config, i, lazy: true);
        Assert.Equal(expected, ScheduleReuseAcrossScenariosTests.Fingerprint(kept));
    }
}
