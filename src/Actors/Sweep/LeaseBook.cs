namespace HvIommu.Actors.Sweep;

/// <summary>A contiguous range of seeds of one cell handed to one explorer: seeds First … First + Count − 1.</summary>
public sealed record Lease(long Id, int Cell, ulong First, long Count, string Holder)
{
    public ulong End => First + (ulong)Count;
}

/// <summary>
/// The coordinator's account of which seeds are done, leased or still to run (work pulling: an explorer asks
/// for a lease when it has capacity, so faster ones take more). Every seed of every cell is done exactly once:
/// an explorer reports a lease's progress in order (<see cref="Record"/>), anything out of order or for a lease
/// no longer held is refused, and a lost holder's unfinished remainders go back to the front of the queue
/// (<see cref="Revoke"/>) for the next explorer that asks. Cells are handed out in order.
/// With <c>secondsPerCell</c> a cell's range is open-ended until that much time has passed since its first
/// lease; what was leased by then is still finished, so the seeds run in a cell are always a prefix.
/// Not thread-safe: one owner (the coordinator actor, or a lock).
/// </summary>
/// <param name="clock">Elapsed time since the run started (only read with <c>secondsPerCell</c>).</param>
public sealed class LeaseBook(int cells, ulong firstSeed, long? seedsPerCell, double? secondsPerCell, Func<TimeSpan> clock)
{
    private readonly record struct Range(int Cell, ulong First, long Count);

    private readonly List<Range> _pending = Initial(cells, firstSeed, seedsPerCell);
    private readonly Dictionary<long, (Lease Lease, ulong Next)> _active = new();
    private readonly TimeSpan?[] _opened = new TimeSpan?[cells];
    private readonly ulong[] _openNext = Enumerable.Repeat(firstSeed, cells).ToArray();
    private int _openCell; // duration mode: the cell whose range is still open-ended (cells when none)
    private long _nextId = 1;
    private bool _stopped;

    private static List<Range> Initial(int cells, ulong first, long? perCell)
    {
        if (cells < 1)
            throw new ArgumentOutOfRangeException(nameof(cells), "a sweep has at least one cell");
        return perCell is { } n ? Enumerable.Range(0, cells).Select(c => new Range(c, first, n)).Where(r => r.Count > 0).ToList() : new List<Range>();
    }

    /// <summary>Seeds not yet handed out (duration mode: of the ranges known so far).</summary>
    public long Unleased => _pending.Sum(r => r.Count);

    /// <summary>Leases handed out and not yet finished.</summary>
    public int Outstanding => _active.Count;

    public IEnumerable<Lease> ActiveLeases => _active.Values.Select(a => a.Lease);

    /// <summary>True when every seed has been recorded, or after <see cref="Stop"/>.</summary>
    public bool Done
    {
        get
        {
            CloseExpired();
            return _stopped || (_pending.Count == 0 && _active.Count == 0 && (secondsPerCell is null || _openCell >= cells));
        }
    }

    /// <summary>No more leases are handed out (first violation found, or the user stopped the run).</summary>
    public void Stop() => _stopped = true;

    /// <summary>The next lease of at most <paramref name="size"/> seeds for <paramref name="holder"/>, or null
    /// when there is nothing to hand out now (everything is leased or done).</summary>
    public Lease? Take(string holder, long size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (_stopped)
            return null;
        CloseExpired();
        Range range;
        if (_pending.Count > 0)
        {
            range = _pending[0];
            if (range.Count > size)
                _pending[0] = range with { First = range.First + (ulong)size, Count = range.Count - size };
            else
                _pending.RemoveAt(0);
            range = range with { Count = Math.Min(size, range.Count) };
        }
        else if (secondsPerCell is not null && _openCell < cells)
        {
            _opened[_openCell] ??= clock();
            range = new Range(_openCell, _openNext[_openCell], size);
            _openNext[_openCell] += (ulong)size;
        }
        else
        {
            return null;
        }
        var lease = new Lease(_nextId++, range.Cell, range.First, range.Count, holder);
        _active[lease.Id] = (lease, lease.First);
        return lease;
    }

    /// <summary>
    /// Records that seeds <paramref name="from"/> … from + count − 1 of lease <paramref name="leaseId"/> ran.
    /// Returns false — and the caller must drop those results — when the lease is no longer held (revoked,
    /// finished, unknown) or the seeds do not continue exactly where the lease's last report ended.
    /// </summary>
    public bool Record(long leaseId, ulong from, long count)
    {
        if (!_active.TryGetValue(leaseId, out var a) || from != a.Next || count < 0 || (ulong)count > a.Lease.End - a.Next)
            return false;
        var next = a.Next + (ulong)count;
        if (next == a.Lease.End)
            _active.Remove(leaseId);
        else
            _active[leaseId] = (a.Lease, next);
        return true;
    }

    /// <summary>Takes back every lease <paramref name="holder"/> holds (it died, left or is unreachable); their
    /// unfinished seeds go to the front of the queue. Returns the ranges put back (cell, first, count).</summary>
    public IReadOnlyList<(int Cell, ulong First, long Count)> Revoke(string holder)
    {
        var back = new List<Range>();
        foreach (var (id, (lease, next)) in _active.Where(kv => kv.Value.Lease.Holder == holder).ToList())
        {
            _active.Remove(id);
            if (next < lease.End)
                back.Add(new Range(lease.Cell, next, (long)(lease.End - next)));
        }
        _pending.InsertRange(0, back);
        _pending.Sort((x, y) => x.Cell != y.Cell ? x.Cell.CompareTo(y.Cell) : x.First.CompareTo(y.First));
        return back.Select(r => (r.Cell, r.First, r.Count)).ToList();
    }

    /// <summary>Duration mode: the seeds of <paramref name="cell"/> are FirstSeed … this − 1 once the cell is done.</summary>
    public ulong OpenEnd(int cell) => _openNext[cell];

    private void CloseExpired()
    {
        if (secondsPerCell is not { } limit)
            return;
        while (_openCell < cells && _opened[_openCell] is { } opened && (clock() - opened).TotalSeconds >= limit)
            _openCell++;
    }
}
