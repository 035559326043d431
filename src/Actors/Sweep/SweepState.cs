using System.Diagnostics;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// The state of one sweep or exploration wherever its explorers run — threads of this process or cluster
/// workers: the <see cref="LeaseBook"/>, each cell's <see cref="CellTally"/>, each explorer's measured rate, and
/// when to stop (the first violation unless every schedule is wanted; always on a simulator failure).
/// Thread-safe (one lock; the explorers call it once per lease piece, not per schedule).
/// </summary>
/// <param name="leaseSeconds">Work a lease should hold at the explorer's measured rate: long enough that asking
/// for it costs little against running it, short enough to balance the tail and lose little when a worker dies.</param>
/// <param name="answers">Which violating schedules answer the run and so stop it (without every schedule wanted):
/// by default any; an exploration whose scenario names <c>expect-kind</c> passes <see cref="ShowsKind"/>, so a
/// schedule of another kind is counted and the run goes on, as <c>explore</c> on one machine does.</param>
public sealed class SweepState
{
    private readonly Lock _lock = new();
    private readonly ExplorationJob _job;
    private readonly bool _stopAtFirst;
    private readonly double _leaseSeconds;
    private readonly long _maxLease;
    private readonly LeaseBook _book;
    private readonly CellTally[] _tallies;
    private readonly Dictionary<string, (long Schedules, double Busy)> _rates = new(StringComparer.Ordinal);
    private double _waitSeconds;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private volatile bool _stopped;
    private bool _sealed;

    private readonly Func<SeedOutcome, bool> _answers;

    public SweepState(ExplorationJob job, bool stopAtFirst, double leaseSeconds = 2.0, long maxLease = 100_000, Func<SeedOutcome, bool>? answers = null)
    {
        _job = job;
        _answers = answers ?? (_ => true);
        _stopAtFirst = stopAtFirst;
        _leaseSeconds = job.SecondsPerCell is { } d ? Math.Min(leaseSeconds, Math.Max(0.05, d / 10)) : leaseSeconds;
        _maxLease = maxLease;
        _book = new LeaseBook(job.Cells(), job.FirstSeed, job.SeedsPerCell, job.SecondsPerCell, () => _clock.Elapsed);
        _tallies = Enumerable.Range(0, job.Cells()).Select(_ => new CellTally()).ToArray();
    }

    public ExplorationJob Job => _job;

    /// <summary>Set once no more leases are handed out: the first violation (or failure) was found, or <see cref="Stop"/>.</summary>
    public bool Stopped => _stopped;

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Leases handed out, and seeds given back by lost explorers and leased again.</summary>
    public long LeasesGranted { get; private set; }

    public long SeedsReleased { get; private set; }

    /// <summary>Progress pieces refused (a lost explorer's late reports, or anything out of order).</summary>
    public long ReportsRefused { get; private set; }

    /// <summary>Answers only schedules that show <paramref name="kind"/> (a scenario's <c>expect-kind</c>); any
    /// violating schedule when <paramref name="kind"/> is null.</summary>
    public static Func<SeedOutcome, bool> ShowsKind(string? kind) =>
        kind is null ? _ => true : o => o.Kinds.Contains(kind, StringComparer.Ordinal);

    /// <summary>The first answering schedule (a violation, of the expected kind when one is named, or a simulator
    /// failure) found in time, and after how long (explore's "time to first").</summary>
    public SeedOutcome? EarliestFound { get; private set; }

    public TimeSpan? TimeToFirst { get; private set; }

    public long SchedulesToFirst { get; private set; }

    /// <summary>Starts the clock again: the explorers are ready (a cluster's workers have joined).</summary>
    public void Restart()
    {
        lock (_lock)
            _clock.Restart();
    }

    public void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
            _book.Stop();
        }
    }

    /// <summary>
    /// The user interrupted (Ctrl-C): no more leases, and the explorers drop what they hold (a cluster's workers are
    /// told the run is over; their late reports are refused). The run is <see cref="Interrupted"/> unless it had
    /// already stopped by itself (the answer found, or a failure) or every seed had been run.
    /// </summary>
    public void Interrupt()
    {
        lock (_lock)
        {
            if (!_stopped && !_book.Done)
                Interrupted = true;
            _stopped = true;
            _book.Stop();
        }
    }

    /// <summary>True when <see cref="Interrupt"/> stopped a run that had not finished: its totals cover only what ran.</summary>
    public bool Interrupted { get; private set; }

    /// <summary>
    /// The run is over and its totals are about to be printed: every later report (a worker's lease that finished
    /// after the stop) is dropped, so the summary, the result line and the report all give one count.
    /// </summary>
    public void Seal()
    {
        lock (_lock)
            _sealed = true;
    }

    /// <summary>A lease for <paramref name="holder"/>, sized to its measured rate; null when nothing is left to hand out now.</summary>
    public Lease? Take(string holder, int holders = 1)
    {
        lock (_lock)
        {
            var size = 8L;
            if (_rates.TryGetValue(holder, out var r) && r.Busy > 0 && r.Schedules > 0)
                size = (long)Math.Clamp(r.Schedules / r.Busy * _leaseSeconds, 1, _maxLease);
            if (_job.SeedsPerCell is not null)
                size = Math.Max(1, Math.Min(size, _book.Unleased / Math.Max(1, 2L * holders)));
            var lease = _book.Take(holder, size);
            if (lease is not null)
                LeasesGranted++;
            return lease;
        }
    }

    /// <summary>Records an explorer's progress on a lease; false (and nothing counted) when the book refuses it.</summary>
    public bool Report(string holder, LeaseProgress progress)
    {
        lock (_lock)
        {
            if (_sealed)
                return false;
            if (!_book.Record(progress.LeaseId, progress.From, progress.Count))
            {
                ReportsRefused++;
                return false;
            }
            _tallies[progress.Cell].Add(progress);
            var r = _rates.GetValueOrDefault(holder);
            _rates[holder] = (r.Schedules + progress.Count, r.Busy + progress.BusySeconds);
            _waitSeconds += progress.WaitSeconds;
            var violation = progress.Notable.Where(o => o.Failure is not null || (o.Kinds.Length > 0 && _answers(o))).MinBy(o => o.Seed);
            if (violation is not null && EarliestFound is null)
            {
                EarliestFound = violation;
                TimeToFirst = _clock.Elapsed;
                SchedulesToFirst = _tallies.Sum(t => t.Schedules);
            }
            if (progress.Notable.Any(o => o.Failure is not null) || (_stopAtFirst && violation is not null))
            {
                _stopped = true;
                _book.Stop();
            }
            return true;
        }
    }

    /// <summary>An explorer is gone: its unfinished seeds go back to the queue. Returns how many seeds.</summary>
    public long Revoke(string holder)
    {
        lock (_lock)
        {
            var back = _book.Revoke(holder).Sum(r => r.Count);
            SeedsReleased += back;
            return back;
        }
    }

    public bool Done
    {
        get
        {
            lock (_lock)
                return _book.Done && (_book.Outstanding == 0 || _stopped);
        }
    }

    /// <summary>A copy of each cell's tally so far (safe to read while the run goes on).</summary>
    public (long Schedules, long Steps, long WithViolations, int CellsDone) Totals()
    {
        lock (_lock)
        {
            var done = 0;
            for (var c = 0; c < _tallies.Length; c++)
                if (_job.SeedsPerCell is { } n && _tallies[c].Schedules >= n)
                    done++;
            return (_tallies.Sum(t => t.Schedules), _tallies.Sum(t => t.Steps), _tallies.Sum(t => t.WithViolations), done);
        }
    }

    /// <summary>The tallies; read them once the run is over.</summary>
    public IReadOnlyList<CellTally> Tallies => _tallies;

    /// <summary>Time the explorers waited for a lease after finishing the previous one, summed.</summary>
    public double WaitSeconds
    {
        get
        {
            lock (_lock)
                return _waitSeconds;
        }
    }

    /// <summary>Time the explorers spent running schedules, summed.</summary>
    public double BusySeconds
    {
        get
        {
            lock (_lock)
                return _rates.Values.Sum(r => r.Busy);
        }
    }
}
