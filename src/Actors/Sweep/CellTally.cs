namespace HvIommu.Actors.Sweep;

/// <summary>One schedule that was not clean: its violation kinds (first one first) or the simulator's failure.</summary>
/// <param name="TraceHash">The schedule's trace hash: the coordinator re-runs the seed and must get the same one.</param>
public sealed record SeedOutcome(int Cell, ulong Seed, string[] Kinds, string TraceHash, string? Failure);

/// <summary>
/// An explorer's report on a lease: seeds From … From + Count − 1 ran (in order, none skipped), with these
/// totals and these non-clean schedules. A lease is reported in several pieces while it runs.
/// </summary>
/// <param name="BusySeconds">Wall-clock time the explorer spent running these schedules.</param>
/// <param name="WaitSeconds">Time the explorer waited for this lease after finishing its previous one (first piece only).</param>
public sealed record LeaseProgress(long LeaseId, int Cell, ulong From, long Count, long Steps, SeedOutcome[] Notable, double BusySeconds, double WaitSeconds = 0);

/// <summary>What one cell of a sweep (or the one cell of an exploration) found so far.</summary>
public sealed class CellTally
{
    private readonly Dictionary<string, long> _kinds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SeedOutcome> _firstOfKind = new(StringComparer.Ordinal);

    public long Schedules { get; private set; }
    public long Steps { get; private set; }
    public long WithViolations { get; private set; }

    /// <summary>Violation kind → number of schedules that showed it.</summary>
    public IReadOnlyDictionary<string, long> Kinds => _kinds;

    /// <summary>Violation kind → the schedule with the lowest seed that showed it.</summary>
    public IReadOnlyDictionary<string, SeedOutcome> FirstOfKind => _firstOfKind;

    /// <summary>The violating schedule with the lowest seed (so the same whatever the order schedules ran in).</summary>
    public SeedOutcome? FirstViolation { get; private set; }

    /// <summary>The failed schedule (simulator failure) with the lowest seed.</summary>
    public SeedOutcome? FirstFailure { get; private set; }

    public void Add(LeaseProgress progress)
    {
        Schedules += progress.Count;
        Steps += progress.Steps;
        foreach (var o in progress.Notable)
        {
            if (o.Failure is not null)
            {
                if (FirstFailure is null || o.Seed < FirstFailure.Seed)
                    FirstFailure = o;
                continue;
            }
            if (o.Kinds.Length == 0)
                continue;
            WithViolations++;
            foreach (var k in o.Kinds.Distinct(StringComparer.Ordinal))
            {
                _kinds[k] = _kinds.GetValueOrDefault(k) + 1;
                if (!_firstOfKind.TryGetValue(k, out var first) || o.Seed < first.Seed)
                    _firstOfKind[k] = o;
            }
            if (FirstViolation is null || o.Seed < FirstViolation.Seed)
                FirstViolation = o;
        }
    }
}
