using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Simulation;

/// <summary>What a finished run hands back to the command line: its report, its exit code and its trace (if recorded).</summary>
public sealed record RunResult(RunReport Report, int ExitCode, RunOutcome Outcome, string? Failure, Tracing.SimTrace? Trace = null);

/// <summary>
/// Runs one topology in stress mode (DESIGN.md §2): the simulation actors on Akka's thread-pool dispatcher
/// on all cores, until the operation budget or the duration is spent, then drain and teardown. The
/// wall clock here drives only progress output, the duration limit and the hang watchdog — the command
/// line's business, outside the simulation.
/// </summary>
public static class StressRunner
{
    /// <param name="trace">Record a bounded trace (memory events, hypercall round trips, flushes, violations); a
    /// stress run's trace has no message causes, so it is not causal-complete.</param>
    public static RunResult Run(LoadedConfig config, string reproduceCommand, IRunProgress? progress, bool verbose, bool trace = false)
    {
        var settings = config.Settings;
        var clock = new MonotonicClock();
        var simTrace = trace ? new Tracing.SimTrace(settings.Run.TraceCapacity, clock, recordsMessages: false) : null;
        var world = new SimWorld(settings, clock, trace: simTrace);
        var akkaConfig = ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(verbose)).WithFallback(config.Merged);
        using var system = ActorSystem.Create("hviommu", akkaConfig);
        var done = new TaskCompletionSource<RunOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var wall = Stopwatch.StartNew();
        system.ActorOf(RunSupervisor.Props(world, settings.Run.Dispatcher, done), "run");

        progress?.Start($"{(settings.Name.Length > 0 ? settings.Name : config.File)} — seed {settings.Seed}, stress");
        var deadline = settings.Run.Duration + settings.Run.HangTimeout + settings.Run.HangTimeout + TimeSpan.FromSeconds(30);
        string? failure = null;
        string? hung = null;
        var tick = TimeSpan.FromTicks(Math.Min(settings.Run.ProgressInterval.Ticks, Math.Max(TimeSpan.TicksPerMillisecond, settings.Run.HangTimeout.Ticks / 4)));
        var lastProgress = TimeSpan.Zero;
        while (!done.Task.Wait(tick))
        {
            if (world.ReportHungHypercalls((long)settings.Run.HangTimeout.TotalNanoseconds) is { } stuck)
            {
                hung = stuck;
                break;
            }
            if (wall.Elapsed >= settings.Run.Duration)
                world.Budget.Stop();
            if (wall.Elapsed >= deadline)
            {
                failure = $"the run did not finish within {deadline.TotalSeconds:0} s: an actor is stuck (hang detected)";
                break;
            }
            if (wall.Elapsed - lastProgress >= settings.Run.ProgressInterval)
            {
                lastProgress = wall.Elapsed;
                progress?.Update(Snapshot(world, wall.Elapsed.TotalSeconds));
            }
        }
        progress?.Update(Snapshot(world, wall.Elapsed.TotalSeconds));
        progress?.Stop();
        var outcome = done.Task.IsCompleted ? done.Task.Result : new RunOutcome(true, "", hung ?? "", hung is null ? failure : null);
        failure ??= outcome.SimulatorFailure;
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        wall.Stop();

        var report = ReportBuilder.Build(config, world, wall.Elapsed.TotalSeconds, reproduceCommand, Reporting.RunMode.Stress);
        var exit = failure is not null ? Cli.ExitCodes.SimulatorFailure : report.OutcomeMatched ? Cli.ExitCodes.Matched : Cli.ExitCodes.Mismatched;
        return new RunResult(report, exit, outcome, failure, simTrace);
    }

    private static ProgressSnapshot Snapshot(SimWorld world, double seconds)
    {
        var dma = world.Counters.Get(Metrics.SimCounter.DmaTransactions);
        var traced = world.TraceReplay;
        return new ProgressSnapshot(world.Budget.Completed + (traced?.EventsFinished ?? 0), world.Budget.Total + (traced?.Trace.Events.Length ?? 0), seconds > 0 ? dma / seconds : 0, (int)Math.Min(int.MaxValue, world.Violations.Total), seconds, Metrics.MemorySample.Now());
    }
}

/// <summary>Turns a finished world into the report of DESIGN.md §3.</summary>
internal static class ReportBuilder
{
    // The resolved config is the same for every schedule an explorer runs; render it once.
    private static readonly ConditionalWeakTable<Config, StrongBox<JsonElement>> ResolvedJson = new();

    public static RunReport Build(LoadedConfig config, SimWorld world, double wallSeconds, string reproduce, Reporting.RunMode mode)
    {
        var s = world.Settings;
        var c = world.Counters.Snapshot();
        var atc = world.AtcStats;
        var iotlb = world.Host.Iotlb.Stats;
        var stats = new RunStats(
            c.MessagesDelivered, c.DmaTransactions, c.Maps, c.Unmaps,
            c.HypercallsByName().Where(kv => kv.Value > 0).ToDictionary(kv => kv.Key, kv => kv.Value),
            c.VmExits,
            new Reporting.CacheStats(iotlb.Hits, iotlb.Misses),
            new Reporting.CacheStats(atc.Hits, atc.Misses),
            wallSeconds, world.ModelledNs, c.Steps,
            world.Latencies.ToDictionary(kv => kv.Key, kv => kv.Value.Summarize()))
        {
            Findings = Enum.GetValues<ViolationKind>().Where(k => world.Violations.Count(k) > 0).ToDictionary(k => k.ToString(), k => world.Violations.Count(k)),
            Memory = mode == Reporting.RunMode.Stress ? MemoryOf(world) : null,
            WorkloadTrace = world.TraceReplay is { } replay ? WorkloadTraceStatsOf(replay) : null,
        };
        var violations = world.Violations.Kept
            .Select(v => new ViolationRecord(v.Kind.ToString(), v.Hazard, v.Step, v.SimTimeNs, NullIfEmpty(v.Vcpu), NullIfEmpty(v.Device),
                v.Domain == 0 ? null : v.Domain, v.Iova == 0 ? null : ViolationRecord.Hex(v.Iova), v.Frame == 0 ? null : ViolationRecord.Hex(v.Frame),
                v.Description, v.Explanation, reproduce))
            .ToList();
        var expectedKind = s.ExpectKind is null ? (ViolationKind?)null : Enum.Parse<ViolationKind>(s.ExpectKind);
        var matched = s.Expect == Expectation.Clean
            ? world.Violations.Total == 0
            : expectedKind is { } k ? world.Violations.Count(k) > 0 : world.Violations.Total > 0;
        return new RunReport(s.Seed, mode, new ReportConfig(config.File, ResolvedJson.GetValue(config.Merged, static c => new StrongBox<JsonElement>(HoconJson.ToJson(c))).Value), stats, violations,
            s.Expect == Expectation.Clean ? ExpectedOutcome.Clean : ExpectedOutcome.Violation, s.ExpectKind, matched, []);
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    private static MemoryStats MemoryOf(SimWorld world)
    {
        var m = Metrics.MemorySample.Now();
        return new MemoryStats(m.RssBytes, m.PeakRssBytes, m.ManagedHeapBytes, m.Gen2Collections, world.Oracle.Retention.Total);
    }

    private static WorkloadTraceStats WorkloadTraceStatsOf(Model.Workload.TraceReplay replay)
    {
        var t = replay.Trace;
        return new WorkloadTraceStats(t.File, t.MapEvents, t.UnmapEvents, t.BytesMapped, t.BytesUnmapped, t.Cpus, t.SkippedLines, t.OtherEvents,
            replay.Ordering == Model.Workload.TraceOrdering.Global ? "global" : "per-cpu", replay.LongLivedMaps, replay.RelocatedMaps);
    }
}
