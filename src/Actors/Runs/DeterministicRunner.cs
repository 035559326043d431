using System.Diagnostics;
using Akka.Configuration;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Randomness;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Runs;

/// <summary>How a deterministic schedule is chosen: a strategy seeded from the run's seed, or a recorded schedule.</summary>
/// <param name="Strategy">A strategy as <see cref="StrategySpec"/> spells it: <c>portfolio</c> (the default),
/// <c>random</c>, <c>pct [depth=D] [length=L]</c>, <c>delay [bound=B] [length=L]</c>.</param>
/// <param name="PctDepth">PCT's bug depth d (d − 1 priority change points) when the strategy text gives none;
/// null = the depths tried in turn.</param>
/// <param name="MaxSteps">A schedule that has not finished after this many steps is reported as a hang.</param>
/// <param name="Replay">Replay exactly this schedule instead of choosing.</param>
/// <param name="Custom">Builds the strategy from (seed, expected steps) instead of the above (the minimizer's
/// schedules that fall back to a default choice and record their deviations from it).</param>
public sealed record ScheduleOptions(string Strategy = StrategySpec.Default, int? PctDepth = null, long MaxSteps = ScheduleOptions.DefaultMaxSteps, ScheduleFile? Replay = null, Func<ulong, long, IScheduleStrategy>? Custom = null)
{
    /// <summary>Steps after which an unfinished schedule is a hang, unless <c>--max-steps</c> says otherwise.</summary>
    public const long DefaultMaxSteps = 50_000_000;

    /// <summary>
    /// The strategy of a single schedule, a function of these options and the seed alone: a custom one, the
    /// replay, or the strategy text's first pick for this seed (the portfolio's first member is uniform random,
    /// as a single run has always been; with no length given PCT's change points are drawn over
    /// <paramref name="expectedSteps"/>). An explorer asks <see cref="Plan"/> instead, which interleaves the
    /// portfolio's members and learns the length across its schedules.
    /// </summary>
    public IScheduleStrategy Create(ulong seed, long expectedSteps) => Custom is not null
        ? Custom(seed, expectedSteps)
        : Replay is not null
        ? new ReplayStrategy(Replay)
        : Plan().Next(seed, 0, expectedSteps);

    /// <summary>A fresh plan of <see cref="Strategy"/> for one explorer's schedules.</summary>
    public StrategyPlan Plan() => StrategySpec.Parse(Strategy, PctDepth);

    /// <summary>These options with the concrete strategy of one schedule (its text names it for reproduction).</summary>
    public ScheduleOptions For(IScheduleStrategy strategy) => this with { Strategy = strategy.Description, PctDepth = null, Custom = (_, _) => strategy };
}

/// <summary>One deterministic schedule's result: the report, the recorded schedule, where a replay left its path,
/// and the causal trace when one was recorded.</summary>
/// <remarks>A result asked for with <c>lazyReport</c> (<see cref="DeterministicRunner.RunSchedule"/>) builds its
/// <see cref="Report"/> when first read, from the schedule's world, which the next schedule on the same system resets:
/// read it (or call <see cref="Keep"/>) before that, or reading it throws. Its outcome — <see cref="Violations"/>,
/// <see cref="OutcomeMatched"/>, <see cref="Expected"/>, <see cref="Steps"/>, <see cref="TraceHash"/> — is always
/// there, equal to the report's fields of the same names.</remarks>
public sealed record ScheduleResult(RunVerdict Verdict, ScheduleFile Schedule, DriveResult Drive, string? Failure, Tracing.SimTrace? Trace = null)
{
    /// <summary>A result whose report is already built.</summary>
    public ScheduleResult(RunReport report, RunVerdict verdict, ScheduleFile schedule, DriveResult drive, string? failure, Tracing.SimTrace? trace = null)
        : this(verdict, schedule, drive, failure, trace)
    {
        Report = report;
    }

    internal ScheduleResult(DeferredReport report, RunVerdict verdict, ScheduleFile schedule, DriveResult drive, string? failure, Tracing.SimTrace? trace = null)
        : this(verdict, schedule, drive, failure, trace)
    {
        _deferred = report;
    }

    // Exactly one of the two is set: the report, or what builds it once (shared by the copies `with` makes).
    private RunReport? _report;
    private DeferredReport? _deferred;

    /// <summary>The schedule's report (docs/report.md). See the remarks for a result whose report is built lazily.</summary>
    /// <exception cref="InvalidOperationException">The report was never read and the next schedule on its system has
    /// reset the world it would be built from.</exception>
    public RunReport Report
    {
        get => _report ?? _deferred!.Report;
        init => (_report, _deferred) = (value, null);
    }

    /// <summary>True once the report is built (it was given, read, or kept).</summary>
    public bool HasReport => _report is not null || _deferred!.Built;

    /// <summary>Builds the report now, so that it can be read after later schedules on the same system; returns this.</summary>
    public ScheduleResult Keep()
    {
        _ = Report;
        return this;
    }

    /// <summary>The violations the report keeps (<see cref="RunReport.Violations"/>).</summary>
    public IReadOnlyList<ViolationRecord> Violations => _report?.Violations ?? _deferred!.Verdict.Violations;

    /// <summary><see cref="RunReport.OutcomeMatched"/>.</summary>
    public bool OutcomeMatched => _report?.OutcomeMatched ?? _deferred!.Verdict.OutcomeMatched;

    /// <summary><see cref="RunReport.Expected"/>.</summary>
    public ExpectedOutcome Expected => _report?.Expected ?? _deferred!.Verdict.Expected;

    /// <summary>The seed (<see cref="RunReport.Seed"/>).</summary>
    public ulong Seed => _report?.Seed ?? _deferred!.Verdict.Seed;

    /// <summary>Steps of the schedule (<see cref="RunStats.Steps"/>).</summary>
    public long Steps => _report?.Stats.Steps ?? _deferred!.Steps;

    /// <summary>The trace hash (<see cref="RunReport.TraceHash"/>).</summary>
    public string? TraceHash => _report is not null ? _report.TraceHash : _deferred!.TraceHash;

    /// <summary>Decision steps of the schedule (steps with two or more ready candidates): what plans learn from.</summary>
    public long Decisions { get; init; }

    /// <summary>The schedule ran out of its step budget (<c>--max-steps</c>) with work still runnable; <see cref="Failure"/>
    /// says so. To an explorer that is its hang detector (a simulator failure, exit 3).</summary>
    public bool OutOfSteps { get; init; }

    /// <summary>A replay that left its recording: the first recorded choice that did not fit, and why.</summary>
    public string? Divergence { get; init; }

    /// <summary>
    /// The result as one <c>run</c> judges it: a schedule that ran out of its step budget did not finish, which is
    /// not a simulator failure but a run that did not test what it was asked to — not matched (exit 1) with the
    /// reason as <see cref="RunReport.DidNotRun"/>, unless the expected violation was already found.
    /// </summary>
    public ScheduleResult AsSingleRun() => OutOfSteps ? Judged(Expected == ExpectedOutcome.Violation && OutcomeMatched) : this;

    /// <summary>
    /// The result as an explorer judges it: running out of steps is its hang detector (a simulator failure), unless
    /// the schedule had already found violations — those are real, found before the budget, and the schedule is
    /// judged as one <c>run</c> would (<see cref="AsSingleRun"/>).
    /// </summary>
    public ScheduleResult AsExplored() => OutOfSteps && Violations.Count > 0 ? AsSingleRun() : this;

    private ScheduleResult Judged(bool matched)
    {
        if (Failure is not { } why)
            return this;
        var report = matched ? Report : Report with { OutcomeMatched = false, DidNotRun = why };
        return this with { Report = report, Verdict = matched ? RunVerdict.Matched : RunVerdict.NotMatched, Failure = null };
    }
}

/// <summary>A schedule's report, built from its world when first asked for — until the next schedule on the same
/// system resets that world (<see cref="Expire"/>).</summary>
internal sealed class DeferredReport(Func<RunReport> build, ReportVerdict verdict, long steps, string traceHash)
{
    // Dropped once the report is built or can no longer be: it holds the world.
    private Func<RunReport>? _build = build;
    private RunReport? _report;

    public ReportVerdict Verdict { get; } = verdict;
    public long Steps { get; } = steps;
    public string TraceHash { get; } = traceHash;
    public bool Built => _report is not null;

    public RunReport Report
    {
        get
        {
            if (_report is null)
            {
                if (_build is null)
                    throw new InvalidOperationException($"the report of seed {Verdict.Seed}'s schedule was not read before the next schedule on its system reset the world it is built from: read it (or Keep() the result) first");
                _report = _build();
                _build = null;
            }
            return _report;
        }
    }

    /// <summary>The world is about to be reset: a report not built by now never will be.</summary>
    public void Expire() => _build = null;
}

/// <summary>
/// Runs the simulation actors deterministically (docs/design.md §2): every actor on the deterministic dispatcher,
/// one mailbox step at a time on this thread, each choice made by a seeded strategy, virtual time for every
/// timer. Same seed and config → same interleaving, trace hash and violations. One ActorSystem serves many
/// schedules; the world is rebuilt and reseeded for each.
/// </summary>
public static class DeterministicRunner
{
    /// <summary>The steps an explorer expects one schedule of <paramref name="config"/> to take (its
    /// <c>expectedSteps</c> below): 20 per operation, at least 1,000.</summary>
    public static long ExpectedSteps(LoadedConfig config) => Math.Max(1000, config.Settings.Run.Ops * 20);

    /// <summary>The system for deterministic runs of <paramref name="config"/> (logging and the config's akka section applied).</summary>
    public static DeterministicSystem CreateSystem(LoadedConfig config, bool verbose, string name = "hviommu-deterministic") =>
        DeterministicSystem.Create(name, ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(verbose)).WithFallback(config.Merged));

    /// <param name="recordLatencies">False for explorers (see <see cref="SimWorld"/>).</param>
    /// <param name="trace">Record the causal trace (every send, delivery and memory event, bounded); it only
    /// observes, so the schedule and the trace hash are the same with and without it.</param>
    /// <param name="cancel">Ctrl-C: stop driving; the report covers the steps that ran and is marked partial.</param>
    /// <param name="phases">When given, the schedule's wall time by phase is added to it (bench's profile).</param>
    /// <param name="lazyReport">Build the report only when it is read (see <see cref="ScheduleResult"/>): for an
    /// explorer that reads only the outcome of most schedules. A schedule that failed or was interrupted gets its report
    /// at once either way.</param>
    public static ScheduleResult RunSchedule(DeterministicSystem system, LoadedConfig config, ulong seed, ScheduleOptions options, string reproduce, long expectedSteps = 100_000, bool recordLatencies = true, bool trace = true, CancellationToken cancel = default, SchedulePhases? phases = null, bool lazyReport = false)
    {
        var mark = Stopwatch.GetTimestamp();
        // This schedule resets the world the previous one on this system left; its report, if never read, cannot be built after.
        if (Pending.TryGetValue(system, out var pending))
        {
            pending.Expire();
            Pending.Remove(system);
        }
        var settings = config.Settings with { Seed = seed };
        var wall = Stopwatch.StartNew();
        var strategy = options.Create(seed, expectedSteps);
        // The actors of the schedule before are kept for this one when its settings (seed aside) were these.
        var topology = settings.Run.ReuseActors ? settings with { Seed = 0 } : null;
        system.Reset(seed, strategy, topology);
        var simTrace = trace ? new Tracing.SimTrace(settings.Run.TraceCapacity, system.Clock, recordsMessages: true) : null;
        var world = new SimWorld(settings, system.Clock, recordLatencies, simTrace, Previous.TryGetValue(system, out var previous) ? previous : null) { Choices = strategy.ChoosesEnvironment ? system.Driver : null, ScheduledReplays = strategy.ChoosesEnvironment && strategy.Version >= 3 };
        var done = new TaskCompletionSource<RunOutcome>();
        if (system.Kept is null || !Slots.TryGetValue(system, out var slot))
            Slots.AddOrUpdate(system, slot = new RunSlot(world, done));
        (slot.World, slot.Done) = (world, done);
        system.Driver.Tracer = simTrace;
        system.Driver.Profile = phases?.Steps;
        DriveResult drive;
        try
        {
            Lap(phases, ref mark, SchedulePhase.Prepare);
            system.StartRun(RunSupervisor.Props(slot, DeterministicSystem.DispatcherId));
            Lap(phases, ref mark, SchedulePhase.Start);
            // The budget covers the whole schedule, the start's steps included: --max-steps N stops at step N.
            drive = system.DriveUntil(() => done.Task.IsCompleted || cancel.IsCancellationRequested, Math.Max(0, options.MaxSteps - system.Driver.Steps));
            Lap(phases, ref mark, SchedulePhase.Drive);
        }
        finally
        {
            system.Driver.Tracer = null;
            system.Driver.Profile = null;
        }
        var steps = system.Driver.Steps;
        var traceHash = system.Driver.Trace.ToString();
        var schedule = system.Driver.Record();
        var decisions = system.Driver.Decisions;

        string? failure = null;
        var outOfSteps = false;
        var interrupted = !done.Task.IsCompleted && cancel.IsCancellationRequested;
        if (interrupted)
            failure = null;
        else if (drive.GuardTrips > 0)
            failure = $"nondeterminism detected: work reached the deterministic dispatcher from another thread ({drive.GuardActor ?? "unknown actor"})";
        else if (done.Task.IsCompleted && done.Task.Result.SimulatorFailure is { } crash)
            failure = crash;
        else if (!done.Task.IsCompleted && options.Replay is { } recorded && drive.DivergedAtStep == recorded.Choices.Count)
            // The replay took every recorded choice and work was still runnable: the recorded run itself was cut short
            // (its step budget, or an interrupt), and the replay stops where it stopped.
            (outOfSteps, failure) = (true, $"the schedule did not finish within its recorded {Counted.Of(recorded.Choices.Count, "step")}: "
                + "the recorded run was cut short by its step budget (--max-steps) or an interrupt");
        else if (!done.Task.IsCompleted && drive.TimedOut)
            // The step budget ran out while work was still runnable: the run did not finish, which says nothing about
            // the hypercalls outstanding at that step (a HypercallHung verdict needs a schedule with nothing left to run).
            (outOfSteps, failure) = (true, $"the schedule did not finish within {Counted.Of(options.MaxSteps, "step")} (--max-steps): a hang, or more work than that budget — "
                + "if the run was still progressing (many DMAs per operation, many operations), raise --max-steps");
        // A replay that left its recording is not the recorded run: its outstanding hypercalls say nothing either.
        else if (!done.Task.IsCompleted && drive.DivergedAtStep is null && world.ReportHungHypercalls(0) is null && !world.Violations.Kept.Any())
            failure = "the run stopped with nothing left to run and no hypercall outstanding (hang detected)";
        // The schedule's simulated time is its end's, whatever winding it down takes.
        var simulatedNs = system.Clock.NowNs;
        // A schedule that ended as a run ends (no crash, no hang, not cut short) keeps its actors for the next schedule
        // of these settings, which starts them again; any other stops them. Either way, once nothing is left to run
        // nothing touches the world: the next schedule on this system may reset and reuse it.
        var keep = topology is not null && failure is null && !interrupted && done.Task.IsCompleted;
        if ((keep ? system.KeepRun(topology!, ScheduleEnded.Instance) : system.StopRun()).Quiescent)
            Previous.AddOrUpdate(system, world);
        else
            Previous.Remove(system);
        Lap(phases, ref mark, SchedulePhase.Stop);
        wall.Stop();

        var wallSeconds = wall.Elapsed.TotalSeconds;
        var verdict = ReportBuilder.VerdictOf(world, reproduce);
        RunReport Build()
        {
            var report = ReportBuilder.Build(config, world, wallSeconds, RunMode.Deterministic, verdict);
            return report with
            {
                Stats = report.Stats with { Steps = steps, SimulatedNs = simulatedNs },
                TraceHash = traceHash,
                Partial = interrupted,
            };
        }
        var verdictOfRun = RunVerdicts.Of(failure, verdict.OutcomeMatched);
        ScheduleResult result;
        if (!lazyReport || failure is not null || interrupted)
            result = new ScheduleResult(Build(), verdictOfRun, schedule, drive, failure, simTrace);
        else
        {
            var deferred = new DeferredReport(Build, verdict, steps, traceHash);
            Pending.AddOrUpdate(system, deferred);
            result = new ScheduleResult(deferred, verdictOfRun, schedule, drive, failure, simTrace);
        }
        Lap(phases, ref mark, SchedulePhase.Report);
        if (phases is not null)
            phases.Schedules++;
        return result with { Decisions = decisions, OutOfSteps = outOfSteps, Divergence = (strategy as ReplayStrategy)?.LeftBecause };
    }

    // Each system's last schedule's report while it is built lazily and not yet read.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DeterministicSystem, DeferredReport> Pending = new();

    // Each system's last world, for the next schedule on it to reuse (a system is driven by one thread at a time).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DeterministicSystem, SimWorld> Previous = new();

    // Each system's slot, read by the Props of the actors it keeps (DeterministicSystem.KeepRun).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DeterministicSystem, RunSlot> Slots = new();

    private static void Lap(SchedulePhases? phases, ref long mark, SchedulePhase phase)
    {
        if (phases is null)
            return;
        var now = Stopwatch.GetTimestamp();
        phases.Add(phase, now - mark);
        mark = now;
    }
}
