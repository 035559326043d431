using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Runs;

/// <summary>What a finished run hands back to the command line: its report, its verdict (which the command line maps to
/// the exit code) and its trace (if recorded).</summary>
/// <param name="Operations">Guest operations completed (map → DMA → unmap; a replayed trace's events), the figure
/// the progress line counts as "ops"; 0 where the runner does not count them.</param>
public sealed record RunResult(RunReport Report, RunVerdict Verdict, RunOutcome Outcome, string? Failure, Tracing.SimTrace? Trace = null, long Operations = 0);

/// <summary>
/// Runs one topology in stress mode (docs/design.md §2): the simulation actors on Akka's thread-pool dispatcher
/// on all cores, until the operation budget or the duration is spent, then drain and teardown. The
/// wall clock here drives only progress output, the duration limit and the hang watchdog — the command
/// line's business, outside the simulation.
/// </summary>
public static class StressRunner
{
    /// <param name="trace">Record a bounded trace (memory events, hypercall round trips, flushes, violations); a
    /// stress run's trace has no message causes, so it is not causal-complete.</param>
    /// <param name="cancel">Ctrl-C: stop starting operations, drain, and report what ran (marked partial).</param>
    public static RunResult Run(LoadedConfig config, string reproduceCommand, IRunProgress? progress, bool verbose, bool trace = false, CancellationToken cancel = default)
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
        var interrupted = false;
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
            if (cancel.IsCancellationRequested && !interrupted)
            {
                interrupted = true;
                world.Budget.Stop();
            }
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

        var report = ReportBuilder.Build(config, world, wall.Elapsed.TotalSeconds, reproduceCommand, Reporting.RunMode.Stress) with { Partial = interrupted };
        return new RunResult(report, RunVerdicts.Of(failure, report.OutcomeMatched), outcome, failure, simTrace, OperationsDone(world));
    }

    /// <summary>Guest operations completed: the synthetic workload's (map → DMA → unmap) plus a replayed trace's events.</summary>
    private static long OperationsDone(SimWorld world) => world.Budget.Completed + (world.TraceReplay?.EventsFinished ?? 0);

    private static ProgressSnapshot Snapshot(SimWorld world, double seconds)
    {
        var dma = world.Counters.Get(SimCounter.DmaTransactions);
        var traced = world.TraceReplay;
        return new ProgressSnapshot(OperationsDone(world), world.Budget.Total + (traced?.Trace.Events.Length ?? 0), seconds > 0 ? dma / seconds : 0, (int)Math.Min(int.MaxValue, world.Violations.Total), seconds, Metrics.MemorySample.Now());
    }
}
