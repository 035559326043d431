using System.Collections.Concurrent;

namespace HvIommu.Model.Oracle;

/// <summary>
/// Where the oracle puts what it finds: every violation is counted by kind, the first
/// <see cref="MaxKept"/> are kept whole, and so is the first of every kind after them (a run that goes on past
/// other kinds to the one its scenario expects keeps that one to explain). Thread-safe; the lazy window (H3) is counted apart and becomes a
/// violation only when the run asks.
/// </summary>
public sealed class ViolationLog(int maxKept, bool lazyWindowIsViolation)
{
    private readonly ConcurrentQueue<Violation> _kept = new();
    private readonly long[] _counts = new long[Enum.GetValues<ViolationKind>().Length];
    private readonly int[] _keptOfKind = new int[Enum.GetValues<ViolationKind>().Length];
    private int _keptCount;
    private long _total;
    private long _findings;

    public int MaxKept { get; } = maxKept;
    public bool LazyWindowIsViolation { get; } = lazyWindowIsViolation;

    /// <summary>Findings recorded, tolerated lazy-window accesses included: a run that stops once its question is
    /// answered looks again only when this moved.</summary>
    public long Findings => Interlocked.Read(ref _findings);

    /// <summary>Violations (not counting tolerated lazy-window accesses).</summary>
    public long Total => Interlocked.Read(ref _total);

    public long Count(ViolationKind kind) => Interlocked.Read(ref _counts[(int)kind]);

    /// <summary>The kept violations, in the order they were recorded.</summary>
    public IReadOnlyList<Violation> Kept => _kept.ToArray();

    /// <summary>Told of every finding that counts as a violation, as it is recorded (the run's causal trace).</summary>
    public Action<Violation>? Observer { get; set; }

    public bool IsViolation(ViolationKind kind) => kind != ViolationKind.LazyWindowStaleAccess || LazyWindowIsViolation;

    /// <summary>Records a finding; returns true when it counts as a violation.</summary>
    public bool Record(Violation v)
    {
        Interlocked.Increment(ref _counts[(int)v.Kind]);
        Interlocked.Increment(ref _findings);
        if (!IsViolation(v.Kind))
            return false;
        Interlocked.Increment(ref _total);
        Observer?.Invoke(v);
        var firstOfKind = Interlocked.Exchange(ref _keptOfKind[(int)v.Kind], 1) == 0;
        if (Interlocked.Increment(ref _keptCount) <= MaxKept || firstOfKind)
            _kept.Enqueue(v);
        return true;
    }
}
