using System.Diagnostics;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Runs;

/// <summary>The explorer threads of one <c>explore</c>: disjoint seeds, one deterministic system each.</summary>
/// <remarks>Explorers run untraced and without latency histograms (schedules/s matters); the first failing
/// schedule is kept whole, so it can be written, replayed and traced afterwards.</remarks>
/// <param name="cancel">Ctrl-C: each explorer finishes the schedule it is running and starts no other; the search
/// is then <see cref="Interrupted"/> unless it had already finished (every seed run, or the answer found).</param>
public sealed class Exploration(LoadedConfig config, string? configPath, ScheduleOptions options, ulong first, long total, int parallel, bool stopAtFirst, long? ops, CancellationToken cancel = default)
{
    private readonly List<Thread> _threads = new();
    private readonly Stopwatch _clock = new();
    private readonly Lock _lock = new();
    private long _next;
    private long _schedules;
    private long _steps;
    private long _withViolations;
    private readonly Dictionary<string, KindSeen> _kinds = new(StringComparer.Ordinal);
    private volatile bool _stop;
    private volatile bool _interrupted;
    private int _running;

    /// <summary>Ctrl-C stopped the search before it finished: its counts cover only the schedules that ran.</summary>
    public bool Interrupted => _interrupted;

    /// <summary>The first schedule that answers the exploration: one with the expected violation kind (any kind when
    /// the scenario names none), or any violation for a clean scenario.</summary>
    public ScheduleResult? FirstViolation { get; private set; }
    /// <summary>The result of the first seed's schedule (index 0), whatever it found; the same for any --parallel.</summary>
    public ScheduleResult? FirstSchedule { get; private set; }
    public ScheduleResult? Failure { get; private set; }
    public TimeSpan? TimeToFirst { get; private set; }
    public long SchedulesToFirst { get; private set; }
    public long Schedules => Interlocked.Read(ref _schedules);
    public long Steps => Interlocked.Read(ref _steps);
    public long WithViolations => Interlocked.Read(ref _withViolations);

    public void Start()
    {
        _clock.Start();
        _running = parallel;
        for (var t = 0; t < parallel; t++)
        {
            var index = t;
            var thread = new Thread(() => Explore(index)) { IsBackground = true, Name = "explorer-" + t };
            _threads.Add(thread);
            thread.Start();
        }
    }

    /// <summary>Stops starting schedules (a duration ran out, or Ctrl-C); the running ones finish.</summary>
    public void Stop() => _stop = true;

    public bool Wait(TimeSpan timeout) => SpinWait.SpinUntil(() => Volatile.Read(ref _running) == 0, timeout);

    /// <summary>One short progress line (under 80 columns for any realistic count).</summary>
    public string Progress(TimeSpan elapsed)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-3);
        var rate = Schedules / seconds;
        return $"  {Schedules:N0} schedule{(Schedules == 1 ? "" : "s")} ({rate.ToString(rate < 10 ? "N1" : "N0", System.Globalization.CultureInfo.InvariantCulture)}/s), "
            + $"{Steps / seconds:N0} steps/s, {WithViolations:N0} with violations, {elapsed.TotalSeconds:0.0} s";
    }

    private void Explore(int index)
    {
        try
        {
            using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "explore-" + index);
            var expected = Math.Max(1000, config.Settings.Run.Ops * 20);
            // One plan per explorer: it learns the schedule length from this explorer's schedules, and names
            // each schedule's concrete strategy (the portfolio's member by schedule index) so the reproduce
            // command and the schedule file replay it alone.
            var plan = options.Plan();
            while (!_stop)
            {
                var i = Interlocked.Increment(ref _next) - 1;
                if (i >= total)
                    break;
                var seed = first + (ulong)i;
                var concrete = options.For(plan.Next(seed, i));
                var reproduce = Reproduction.Run(configPath, seed, ops, concrete);
                var result = DeterministicRunner.RunSchedule(system, config, seed, concrete, reproduce, expected, recordLatencies: false, trace: false, lazyReport: true);
                plan.Observe(result.Decisions);
                Interlocked.Increment(ref _schedules);
                Interlocked.Add(ref _steps, result.Steps);
                Record(result, i);
                // Checked after the schedule, so the one running when Ctrl-C came is finished and counted.
                if (cancel.IsCancellationRequested && !_stop && Interlocked.Read(ref _next) < total)
                {
                    _interrupted = true;
                    _stop = true;
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    private void Record(ScheduleResult result, long index)
    {
        // The results kept past this schedule have their reports built now, before the next schedule resets the world.
        if (index == 0)
            FirstSchedule = result.Keep();
        result = result.AsExplored();
        if (result.Failure is not null)
        {
            lock (_lock)
                Failure ??= result;
            _stop = true;
            return;
        }
        if (result.Violations.Count == 0)
            return;
        Interlocked.Increment(ref _withViolations);
        // A scenario that expects one kind is not matched by another: count the others, note the first seed
        // of each, and go on until the expected kind (or the budget).
        var hit = result.Expected == ExpectedOutcome.Clean || result.OutcomeMatched;
        lock (_lock)
        {
            foreach (var kind in result.Violations.Select(v => v.Kind).Distinct())
            {
                if (_kinds.TryGetValue(kind, out var seen))
                    _kinds[kind] = seen with { Schedules = seen.Schedules + 1, FirstSeed = index < seen.FirstIndex ? result.Seed : seen.FirstSeed, FirstIndex = Math.Min(index, seen.FirstIndex) };
                else
                    _kinds[kind] = new KindSeen(kind, 1, result.Seed, index);
            }
            if (hit && (FirstViolation is null || index + 1 < SchedulesToFirst))
            {
                FirstViolation = result.Keep();
                TimeToFirst = _clock.Elapsed;
                SchedulesToFirst = index + 1;
            }
        }
        if (hit && stopAtFirst)
            _stop = true;
    }

    /// <summary>Every violation kind seen, in order of first sight (schedule index).</summary>
    public IReadOnlyList<KindSeen> KindsSeen
    {
        get
        {
            lock (_lock)
                return _kinds.Values.OrderBy(k => k.FirstIndex).ToList();
        }
    }

    /// <summary>A violation kind seen by the exploration: in how many schedules, and the first one's seed.</summary>
    public sealed record KindSeen(string Kind, long Schedules, ulong FirstSeed, long FirstIndex);
}
