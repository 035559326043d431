using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Sweep;
using HvIommu.Actors.Tests.Deterministic;

namespace HvIommu.Actors.Tests.Sweep;

/// <summary>
/// Sweep cells and cluster workers interleave the portfolio as <c>explore</c> does, with each seed's strategy a
/// function of (seed, schedule index) alone: two explorers that ran different seeds before give a seed the same
/// strategy and the same schedule, and so does the coordinator's re-run.
/// </summary>
[Trait("Category", "Scenario")]
public sealed class ExplorationStrategyTests
{
    private static ExplorationJob Job(LoadedConfig config, string strategy, ulong first) =>
        new(File.ReadAllText(config.File), config.File, [[]], first, 30, null, strategy, null, 1_000_000, null, Stress: false);

    [Fact]
    public void The_portfolio_is_interleaved_by_schedule_index_with_the_length_of_schedule_0()
    {
        var config = SimConfig.Load(RaceExplorationTests.Race("h5-drain"));
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "indexed-a");
        var strategies = Job(config, StrategySpec.Default, 100).Strategies();

        var texts = Enumerable.Range(0, 7).Select(i => strategies.For(system, config, 100 + (ulong)i).Strategy).ToArray();

        var first = DeterministicRunner.RunSchedule(system, config, 100, new ScheduleOptions(StrategySpec.Random), "", trace: false);
        var length = first.Decisions;
        Assert.True(length > 0);
        Assert.Equal(length, strategies.Length);
        Assert.Equal(
            [StrategySpec.Random, StrategySpec.Delay(1, length), StrategySpec.Random, StrategySpec.Pct(1, length), StrategySpec.Random, StrategySpec.Delay(2, length), StrategySpec.Random],
            texts.Select(t => t.Replace(" coins=eventful", "", StringComparison.Ordinal)));
        // The same as explore's plan with that length, schedule by schedule (coins included).
        var plan = StrategySpec.Parse(StrategySpec.Default);
        Assert.Equal(texts, Enumerable.Range(0, 7).Select(i => plan.Next(100 + (ulong)i, i, length).Description));
    }

    [Fact]
    public void A_seed_gets_the_same_strategy_and_schedule_whatever_the_explorer_ran_before()
    {
        var config = SimConfig.Load(RaceExplorationTests.Race("h4-devtlb-first"));
        var job = Job(config, StrategySpec.Default, 1);
        using var runnerA = new LeaseRunner(job, "indexed-a");
        using var runnerB = new LeaseRunner(job, "indexed-b");
        // A runs seeds 1..8 in order; B starts at seed 8 (another lease), with nothing run before.
        var a = Enumerable.Range(1, 8).Select(s => runnerA.RunOne(config, 0, (ulong)s)).Last();
        var b = runnerB.RunOne(config, 0, 8);
        Assert.Equal(a.Steps, b.Steps);
        Assert.Equal(a.Outcome?.TraceHash, b.Outcome?.TraceHash);

        // The coordinator's re-run: a fresh plan in a fresh system names the concrete strategy of seed 8 and
        // gives the same trace hash.
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "indexed-rerun");
        var concrete = job.Strategies().For(system, config, 8);
        Assert.StartsWith("pct depth=2 length=", concrete.Strategy); // index 7: the systematic member's fourth turn, PCT's second (depth 2)
        var rerun = DeterministicRunner.RunSchedule(system, config, 8, concrete, "", trace: false);
        Assert.Equal(b.Steps, rerun.Report.Stats.Steps);
        var replayed = DeterministicRunner.RunSchedule(system, config, 8, new ScheduleOptions(Replay: rerun.Schedule), "", trace: false);
        Assert.Equal(rerun.Report.TraceHash, replayed.Report.TraceHash);
    }

    [Fact]
    public void A_fixed_length_or_random_strategy_runs_no_extra_schedule()
    {
        var config = SimConfig.Load(RaceExplorationTests.Race("h5-drain"));
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "indexed-fixed");
        var pct = Job(config, "pct length=40", 1).Strategies();
        Assert.Equal("pct depth=2 length=40", pct.For(system, config, 2).Strategy);
        Assert.Null(pct.Length);
        var random = Job(config, StrategySpec.Random, 1).Strategies();
        Assert.Equal(StrategySpec.Random, random.For(system, config, 5).Strategy);
        Assert.Null(random.Length);
    }
}

/// <summary>A cluster exploration whose scenario names an expected kind stops only at that kind, as local
/// <c>explore</c> does: schedules of other kinds are counted and listed with their first seed.</summary>
[Trait("Category", "Actors")]
public sealed class SweepStateExpectKindTests
{
    private static readonly ExplorationJob Job = new("hviommu {}", "x.conf", [[]], 10, 100, null, StrategySpec.Default, null, 1000, null, Stress: false);

    private static LeaseProgress Piece(Lease lease, long count, params SeedOutcome[] notable) => new(lease.Id, 0, lease.First, count, count * 10, notable, 0.1);

    [Fact]
    public void Other_kinds_are_counted_and_the_run_goes_on_until_the_expected_kind()
    {
        var state = new SweepState(Job, stopAtFirst: true, answers: SweepState.ShowsKind("DmaToFreedFrame"));
        var lease = state.Take("w")!;
        Assert.True(state.Report("w", Piece(lease, 3, new SeedOutcome(0, 11, ["StaleTranslationAfterFlush"], "h1", null))));
        Assert.False(state.Stopped);
        Assert.Null(state.EarliestFound);

        var next = state.Take("w")!;
        Assert.True(state.Report("w", Piece(next, next.Count, new SeedOutcome(0, next.First + 1, ["StaleTranslationAfterFlush", "DmaToFreedFrame"], "h2", null))));
        Assert.True(state.Stopped);
        Assert.Equal(next.First + 1, state.EarliestFound!.Seed);

        var tally = state.Tallies[0];
        Assert.Equal(
            [$"  StaleTranslationAfterFlush: 2 schedule(s), first seed 11 (schedule 2)", $"  DmaToFreedFrame: 1 schedule(s), first seed {next.First + 1} (schedule {next.First + 1 - 10 + 1})"],
            HvIommu.Actors.Cluster.ClusterExplore.KindsSummary(tally, 10));
        Assert.Equal(11UL, tally.FirstOfKind["StaleTranslationAfterFlush"].Seed);
    }

    [Fact]
    public void Without_an_expected_kind_any_violation_stops_the_run_and_a_failure_always_does()
    {
        var any = new SweepState(Job, stopAtFirst: true);
        var lease = any.Take("w")!;
        any.Report("w", Piece(lease, 2, new SeedOutcome(0, 11, ["LostMapping"], "h", null)));
        Assert.True(any.Stopped);

        var expecting = new SweepState(Job, stopAtFirst: true, answers: SweepState.ShowsKind("DmaToFreedFrame"));
        var l2 = expecting.Take("w")!;
        expecting.Report("w", Piece(l2, 2, new SeedOutcome(0, 11, [], "h", "boom")));
        Assert.True(expecting.Stopped);
    }
}
