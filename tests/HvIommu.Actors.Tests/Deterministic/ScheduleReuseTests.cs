using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>
/// One deterministic system serves many schedules (explorers, bench): a schedule must be the same whether it runs
/// alone on a fresh system or after others on a reused one — same trace hash, same recorded choices, same
/// violations — and its recorded schedule must replay exactly there. The bench profile only observes.
/// </summary>
[Trait("Category", "Actors")]
public sealed class ScheduleReuseTests
{
    private static readonly LoadedConfig Race = SimConfig.Parse(BenchCommand.MinimalFreeBeforeFlush, "bench-free-before-flush (embedded)");

    private static ScheduleResult Run(DeterministicSystem system, ulong seed, ScheduleOptions? options = null, SchedulePhases? phases = null) =>
        DeterministicRunner.RunSchedule(system, Race, seed, options ?? new ScheduleOptions(), "", recordLatencies: false, trace: false, phases: phases);

    private static (string Hash, string Choices, string Violations) Fingerprint(ScheduleResult r) =>
        (r.Report.TraceHash ?? "", string.Join(",", r.Schedule.Choices) + "|" + string.Join(",", (r.Schedule.Values ?? []).Select(v => v.Value)),
            string.Join(";", r.Report.Violations.Select(v => v.Kind)));

    [Fact]
    public void A_schedule_is_the_same_alone_and_after_others_and_replays_from_its_record()
    {
        ulong[] seeds = [3, 4, 5, 6, 7, 8];
        var alone = new Dictionary<ulong, (string, string, string)>();
        foreach (var seed in seeds)
        {
            using var fresh = DeterministicRunner.CreateSystem(Race, verbose: false, name: "alone-" + seed);
            alone[seed] = Fingerprint(Run(fresh, seed));
        }
        using var reused = DeterministicRunner.CreateSystem(Race, verbose: false, name: "reused");
        // Forwards, then backwards after different predecessors, then each replayed from its recorded schedule.
        foreach (var seed in seeds.Concat(seeds.Reverse()))
        {
            var result = Run(reused, seed);
            Assert.Null(result.Failure);
            Assert.Equal(alone[seed], Fingerprint(result));
            var replay = Run(reused, seed, new ScheduleOptions(Replay: ScheduleFile.Parse(result.Schedule.ToText())));
            Assert.True(replay.Drive.Deterministic, $"seed {seed}: replay left its schedule at step {replay.Drive.DivergedAtStep}");
            Assert.Equal(alone[seed], Fingerprint(replay));
        }
        Assert.Contains(alone.Values, f => f.Item3.Length > 0);
    }

    [Fact]
    public void The_profile_only_observes_and_counts_every_step()
    {
        using var system = DeterministicRunner.CreateSystem(Race, verbose: false, name: "profiled");
        var plain = Run(system, 11);
        var phases = new SchedulePhases();
        var profiled = Run(system, 11, phases: phases);
        Assert.Equal(Fingerprint(plain), Fingerprint(profiled));
        Assert.Equal(1, phases.Schedules);
        var steps = phases.Steps;
        Assert.Equal(profiled.Report.Stats.Steps, steps.MessageSteps + steps.SystemSteps + steps.TimerSteps);
        Assert.True(steps.MessageSteps > 0 && steps.MessageTicks > 0);
        // Steps run while the run starts (the supervisor's creation) and while it is driven: their clock reads nest
        // inside those two laps, so this holds however loaded the machine is.
        Assert.True(phases.Ticks(SchedulePhase.Start) + phases.Ticks(SchedulePhase.Drive) >= steps.MessageTicks + steps.SystemTicks + steps.TimerTicks);
    }
}
