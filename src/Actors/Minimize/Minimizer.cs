using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Runs;
using HvIommu.Model.Randomness;

namespace HvIommu.Actors.Minimize;

/// <summary>How hard the minimizer tries.</summary>
/// <param name="Budget">Wall-clock time for the search; the best run so far is kept when it runs out.</param>
/// <param name="Seeds">Schedules tried per candidate configuration besides carrying the current one over.</param>
/// <param name="MaxSteps">A candidate run longer than this is a hang and does not count.</param>
/// <param name="Cancel">Stops the search as if the budget ran out (Ctrl-C); the best run so far is kept.</param>
public sealed record MinimizerOptions(TimeSpan Budget, int Seeds = 8, long MaxSteps = 2_000_000, CancellationToken Cancel = default);

/// <summary>A failing run the minimizer holds: its shape and config, seed, deviation set and result.</summary>
/// <param name="Deliveries">Every user message the driver delivered (the simulation's own messages plus the run
/// supervisor's, so a little more than the report's messagesDelivered).</param>
/// <param name="DeliveriesToViolation">Of those, the ones delivered up to and including the first violation of the
/// kind: the counterexample proper; the rest is the run winding down.</param>
public sealed record MinimizerRun(MinimizerShape Shape, LoadedConfig Config, ulong Seed, ImmutableSortedDictionary<long, int> Deviations, ScheduleResult Result, long Deliveries, long DeliveriesToViolation)
{
    public long Messages => Result.Report.Stats.MessagesDelivered;

    /// <summary>Environment choice number → outcome, for every environment choice that was not the quietest
    /// (0); carried along with the schedule, never shrunk.</summary>
    public ImmutableSortedDictionary<long, int> ValueDeviations { get; init; } = ImmutableSortedDictionary<long, int>.Empty;

    /// <summary>True when the environment's choices came from the seed (the confirmation of a version 1 schedule):
    /// the runs that carry this one's schedule over draw them from the seed too.</summary>
    public bool SeededEnvironment { get; init; }

    /// <summary>The environment choices to carry over: null when they come from the seed.</summary>
    public IReadOnlyDictionary<long, int>? CarriedValues => SeededEnvironment ? null : ValueDeviations;

    /// <summary>The schedule version the run was made as (how the device timed its replays); carried over with it.</summary>
    public int Version { get; init; } = Deterministic.ScheduleFile.CurrentVersion;

    public long Steps => Result.Report.Stats.Steps;
}

/// <summary>One line of the minimizer's log: what was tried, what became of it, the size of the best run after it.</summary>
public sealed record MinimizerStep(string Phase, string Tried, string Outcome, long Messages, long Steps);

/// <summary>The minimizer's answer: the violation kind held fixed, the original and minimal runs, and the log.</summary>
public sealed record MinimizerResult(string Kind, MinimizerRun Original, MinimizerRun Minimal, IReadOnlyList<MinimizerStep> Log, int Runs, TimeSpan Elapsed, bool OutOfBudget);

/// <summary>
/// Shrinks a failing deterministic run (docs/design.md §3, <c>minimize</c>) while a violation of the same kind
/// still occurs. Phase 1 reduces the configuration greedily, ddmin-style, over <see cref="MinimizerShape.Reductions"/>
/// until a whole pass keeps nothing; since a new configuration invalidates the schedule, a candidate is kept
/// when any of a few schedules reproduces the kind with no more delivered messages and steps than the best run so far:
/// the current schedule's deviations carried over, then the default strategy (the portfolio) on a few seeds. Phase 2 runs
/// ddmin over the final run's deviations from the default schedule (<see cref="MinimizerSchedule"/>),
/// replayed with <see cref="DefaultFallbackStrategy"/>. Size is delivered messages and steps; neither ever grows.
/// </summary>
public sealed class Minimizer : IDisposable
{
    private readonly LoadedConfig _original;
    private readonly string _originalText;
    private readonly MinimizerShape _originalShape;
    private readonly string _kind;
    private readonly MinimizerOptions _options;
    private readonly StrategyPlan _plan = StrategySpec.Parse(StrategySpec.Default);
    private readonly DeterministicSystem _system;
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly List<MinimizerStep> _log = new();
    private int _runs;

    /// <param name="original">The failing run's config (as replay loads it).</param>
    /// <param name="originalText">Its file's text (the embedded default's when it had none).</param>
    /// <param name="kind">The violation kind that must keep occurring.</param>
    public Minimizer(LoadedConfig original, string originalText, string kind, MinimizerOptions options)
    {
        _original = original;
        _originalText = originalText;
        _originalShape = MinimizerShape.Of(original.Settings);
        _kind = kind;
        _options = options;
        _system = DeterministicRunner.CreateSystem(original, verbose: false, name: "minimize");
    }

    public bool OutOfBudget => _wall.Elapsed >= _options.Budget || _options.Cancel.IsCancellationRequested;

    public IReadOnlyList<MinimizerStep> Log => _log;

    /// <summary>Replays the recorded schedule exactly; null when it does not yield the kind.</summary>
    public MinimizerRun? Confirm(ScheduleFile schedule)
    {
        var run = Run(_originalShape, _original, schedule.Seed, () => new ReplayStrategy(schedule), "");
        var ok = Reproduces(run.Result);
        _log.Add(new MinimizerStep("confirm", $"replay of the recorded schedule (seed {schedule.Seed})", ok ? "reproduced" : "not reproduced", run.Messages, run.Steps));
        return ok ? run : null;
    }

    /// <summary>Both phases, within the budget, starting from a confirmed run.</summary>
    public MinimizerResult Minimize(MinimizerRun original)
    {
        var best = ReduceConfig(original);
        best = ReduceSchedule(best);
        return new MinimizerResult(_kind, original, best, _log.ToList(), _runs, _wall.Elapsed, OutOfBudget);
    }

    /// <summary>The standalone config file of a run: the original text, then the reduced keys, seed and mode.</summary>
    public string ConfigText(MinimizerRun run) =>
        _originalText.TrimEnd() + "\n\n# minimize: the reduced configuration of the minimal failing run (these keys override the ones above).\n"
        + $"# kept as they were (the bug): {MinimizerShape.Bug(_original.Settings)}\n"
        + run.Shape.Overlay(_originalShape)
        + $"hviommu.seed = {run.Seed.ToString(CultureInfo.InvariantCulture)}\nhviommu.mode = deterministic\n";

    /// <summary>Replays <paramref name="schedule"/> exactly under <paramref name="config"/> (the written files' check).</summary>
    public ScheduleResult Replay(LoadedConfig config, ScheduleFile schedule, string reproduce) =>
        DeterministicRunner.RunSchedule(_system, config, schedule.Seed, new ScheduleOptions(MaxSteps: _options.MaxSteps, Replay: schedule), reproduce, recordLatencies: false);

    /// <summary>True when <paramref name="result"/> ran cleanly to a violation of the kind.</summary>
    public bool Reproduces(ScheduleResult result) =>
        result.Failure is null && result.Drive.DivergedAtStep is null && result.Report.Violations.Any(v => v.Kind == _kind);

    /// <summary>A reproducing run no larger than <paramref name="best"/> in delivered messages and in steps.</summary>
    private bool Improves(MinimizerRun run, MinimizerRun best) =>
        Reproduces(run.Result) && run.Messages <= best.Messages && run.Steps <= best.Steps;

    public void Dispose() => _system.Dispose();

    private MinimizerRun ReduceConfig(MinimizerRun best)
    {
        while (!OutOfBudget)
        {
            var rejected = new HashSet<string>(StringComparer.Ordinal);
            var kept = false;
            while (!OutOfBudget && best.Shape.Reductions().FirstOrDefault(r => !rejected.Contains(r.Description)) is { } reduction)
            {
                var (run, outcome) = TryShape(reduction.Shape, best);
                if (run is null)
                    rejected.Add(reduction.Description);
                else
                {
                    best = run;
                    kept = true;
                }
                _log.Add(new MinimizerStep("config", reduction.Description, outcome, best.Messages, best.Steps));
            }
            if (!kept)
                break;
        }
        return best;
    }

    private (MinimizerRun? Run, string Outcome) TryShape(MinimizerShape shape, MinimizerRun best)
    {
        LoadedConfig config;
        try
        {
            config = SimConfig.Parse(_originalText + "\n" + shape.Overlay(_originalShape), _original.File);
        }
        catch (ConfigException e)
        {
            return (null, "invalid: " + string.Join("; ", e.Problems.Select(p => $"{p.Key}: {p.Message}")));
        }
        var carried = Run(shape, config, best.Seed, () => new DefaultFallbackStrategy(best.Deviations, best.CarriedValues, best.Version), "");
        if (Improves(carried, best))
            return (carried, "kept (schedule carried over)");
        // Fresh schedules come from the default strategy (the portfolio), its lengths learnt from the best run.
        _plan.Observe(best.Result.Decisions);
        for (var i = 0; i < _options.Seeds && !OutOfBudget; i++)
        {
            var seed = best.Seed + (ulong)i;
            var strategy = _plan.Next(seed, i);
            var run = Run(shape, config, seed, () => strategy, "");
            if (Improves(run, best))
                return (run, $"kept ({strategy.Description} seed {seed})");
        }
        return (null, OutOfBudget ? "no (budget ran out)" : "no");
    }

    /// <summary>ddmin (Zeller and Hildebrandt) over the deviation set: drop chunks while the kind still occurs.</summary>
    private MinimizerRun ReduceSchedule(MinimizerRun best)
    {
        if (best.Deviations.Count == 0 || OutOfBudget)
            return best;
        if (TrySchedule(best, ImmutableSortedDictionary<long, int>.Empty, "all deviations") is { } none)
            return none;
        var n = 2;
        while (best.Deviations.Count >= 2 && !OutOfBudget)
        {
            var items = best.Deviations.ToList();
            var chunk = (items.Count + n - 1) / n;
            MinimizerRun? smaller = null;
            for (var start = 0; start < items.Count && smaller is null && !OutOfBudget; start += chunk)
            {
                var keep = items.Where((_, i) => i < start || i >= start + chunk).ToImmutableSortedDictionary(p => p.Key, p => p.Value);
                smaller = TrySchedule(best, keep, $"deviations at steps {items[start].Key}…{items[Math.Min(start + chunk, items.Count) - 1].Key} ({Math.Min(chunk, items.Count - start)} of {items.Count})");
            }
            if (smaller is not null)
            {
                best = smaller;
                n = Math.Max(n - 1, 2);
            }
            else if (n >= items.Count)
                break;
            else
                n = Math.Min(n * 2, items.Count);
        }
        if (best.Deviations.Count == 1 && !OutOfBudget && TrySchedule(best, ImmutableSortedDictionary<long, int>.Empty, "the last deviation") is { } last)
            best = last;
        return best;
    }

    private MinimizerRun? TrySchedule(MinimizerRun best, ImmutableSortedDictionary<long, int> keep, string dropped)
    {
        var run = Run(best.Shape, best.Config, best.Seed, () => new DefaultFallbackStrategy(keep, best.CarriedValues, best.Version), "");
        var ok = Improves(run, best);
        var after = ok ? run : best;
        _log.Add(new MinimizerStep("schedule", "drop " + dropped, ok ? $"kept ({run.Deviations.Count} deviation(s) left)" : "no", after.Messages, after.Steps));
        return ok ? run : null;
    }

    private MinimizerRun Run(MinimizerShape shape, LoadedConfig config, ulong seed, Func<IScheduleStrategy> strategy, string reproduce)
    {
        DeviationRecorder? recorder = null;
        var options = new ScheduleOptions(MaxSteps: _options.MaxSteps, Custom: (_, _) => recorder = new DeviationRecorder(strategy()));
        var deliveries = new List<long>();
        _system.Driver.DeliveryObserver = (_, _) => deliveries.Add(_system.Clock.NowNs);
        ScheduleResult result;
        try
        {
            result = DeterministicRunner.RunSchedule(_system, config, seed, options, reproduce, recordLatencies: false);
        }
        finally
        {
            _system.Driver.DeliveryObserver = null;
        }
        _runs++;
        var first = result.Report.Violations.FirstOrDefault(v => v.Kind == _kind);
        var toViolation = first is null ? deliveries.Count : deliveries.Count(t => t <= first.SimTimeNs);
        return new MinimizerRun(shape, config, seed, recorder!.Deviations, result, deliveries.Count, toViolation) { ValueDeviations = recorder.ValueDeviations, SeededEnvironment = !recorder.ChoosesEnvironment, Version = recorder.Version };
    }
}
