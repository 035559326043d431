using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// An explorer's system carries state from one schedule to the next (the previous world's memory, allocator,
/// caches and hazard attribution; the driver, the host and the mailboxes). Nothing of it may leak: every
/// scenario's schedule, wrong and right twin, must give the same trace hash, choices, violations and failure on
/// a fresh system as on one that ran every other scenario's schedules before it.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class ScheduleReuseAcrossScenariosTests
{
    private static readonly ulong[] Seeds = [1, 2];

    // The schedule (trace hash, choices, environment values), the failure, and the whole report but its wall time:
    // counters, cache statistics and each violation's addresses, frames and serials see data a leak would change.
    internal static string Fingerprint(ScheduleResult r) =>
        $"{r.Report.TraceHash} | {string.Join(",", r.Schedule.Choices)} | {string.Join(",", (r.Schedule.Values ?? []).Select(v => v.Value))} | "
        + $"{string.Join(";", r.Report.Violations.Select(v => v.Kind))} | {r.Failure} | "
        + JsonSerializer.Serialize(r.Report with { Stats = r.Report.Stats with { WallSeconds = 0 } });

    private static ScheduleResult Run(DeterministicSystem system, LoadedConfig config, ulong seed) =>
        DeterministicRunner.RunSchedule(system, config, seed, new ScheduleOptions(), "", DeterministicRunner.ExpectedSteps(config), recordLatencies: false, trace: false);

    [Fact]
    public void Every_scenario_schedule_is_the_same_on_a_fresh_system_and_after_every_other_scenario()
    {
        var configs = ScenarioFiles.All().Select(f => (Name: ScenarioFiles.Stem(f), Config: SimConfig.Load(f))).ToList();
        Assert.NotEmpty(configs);
        // Fresh: each scenario on its own system, seeds in order (the first alone, the next after its own twin seed).
        var fresh = new Dictionary<(string, ulong), string>();
        foreach (var (name, config) in configs)
        {
            using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "fresh");
            foreach (var seed in Seeds)
                fresh[(name, seed)] = Fingerprint(Run(system, config, seed));
        }
        // Reused: one system for all, scenarios and seeds in reverse order, so each schedule follows a different one.
        using var shared = DeterministicRunner.CreateSystem(configs[0].Config, verbose: false, name: "shared");
        var mismatches = new List<string>();
        foreach (var (name, config) in Enumerable.Reverse(configs))
            foreach (var seed in Seeds.Reverse())
            {
                var reused = Fingerprint(Run(shared, config, seed));
                if (reused != fresh[(name, seed)])
                    mismatches.Add($"{name} seed {seed}:\n  fresh  {fresh[(name, seed)]}\n  reused {reused}");
            }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        // The comparison has teeth: the catalogue's wrong twins find violations here.
        Assert.Contains(fresh.Values, f => f.Split(" | ")[3].Length > 0);
    }
}
