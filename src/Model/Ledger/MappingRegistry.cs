using System.Collections.Concurrent;
using HvIommu.Model.Mappings;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Ledger;

/// <summary>
/// The mappings the oracle must find by address: the live ones of each domain by IOVA (and page size), and
/// the last one unmapped at each such key. Both are bounded by the IOVAs the domains' allocators hand out
/// (they reuse freed ranges first), not by the operations of the run.
/// <para>
/// There is no index by serial: a cache entry or translation that can still be used holds its
/// <see cref="MappingRecord"/> itself, so a record stays alive exactly while something can refer to it
/// (a live or last-unmapped mapping here, a pending flush, a descriptor or flush-queue entry, an IOTLB or
/// ATC entry, a DMA in flight) and is the garbage collector's once nothing can. An index by serial would keep
/// every mapping of the run: about 100 bytes per operation, gigabytes over an 8-hour run.
/// </para>
/// </summary>
internal sealed class MappingRegistry : IMappingLookup
{
    private long _nextSerial;
    private readonly ConcurrentDictionary<(uint Domain, ulong Key), MappingRecord> _live = new();
    private readonly ConcurrentDictionary<(uint Domain, ulong Key), MappingRecord> _recent = new();

    // A live mapping another registration at its key displaced from _live (two live mappings of one IOVA and size:
    // only a driver that maps an IOVA it has not unmapped does it), by serial until it is unmapped. Empty otherwise.
    private readonly ConcurrentDictionary<long, MappingRecord> _displaced = new();

    /// <summary>Serials handed out: every mapping the run registered.</summary>
    public long Count => Interlocked.Read(ref _nextSerial);

    /// <summary>Mappings registered and not unmapped.</summary>
    public int LiveCount => _live.Count + _displaced.Count;

    /// <summary>Keys (domain, IOVA, page size) whose last unmapped mapping is remembered for walks that raced the unmap.</summary>
    public int RecentCount => _recent.Count;

    public long NextSerial() => Interlocked.Increment(ref _nextSerial);

    public void Add(MappingRecord record) =>
        _live.AddOrUpdate((record.Domain, Key(record.Iova, record.Size)), static (_, a) => a.Record,
            static (_, displaced, a) =>
            {
                a.Displaced[displaced.Serial] = displaced;
                return a.Record;
            }, (Record: record, Displaced: _displaced));

    public void RemoveLive(MappingRecord record)
    {
        var key = (record.Domain, Key(record.Iova, record.Size));
        _recent[key] = record;
        if (!_live.TryRemove(new KeyValuePair<(uint, ulong), MappingRecord>(key, record)))
            _displaced.TryRemove(record.Serial, out _);
    }

    /// <summary>The registered, not yet unmapped mapping <paramref name="fact"/> describes (found at its domain, IOVA and
    /// size, and the same serial), or null once its unmap has completed.</summary>
    public MappingRecord? Live(MappingFact fact)
    {
        if (_live.TryGetValue((fact.Domain, Key(fact.Iova, fact.Size)), out var r) && r.Serial == fact.Serial)
            return r;
        return !_displaced.IsEmpty && _displaced.TryGetValue(fact.Serial, out r) ? r : null;
    }

    /// <summary>
    /// The mapping whose leaf a walk just read: the live one at <paramref name="iova"/> when it points at
    /// <paramref name="gpa"/>, else the last one unmapped there if that one does. A walk that read the leaf
    /// just before an unmap may look the mapping up just after it (even after the IOVA was mapped again).
    /// </summary>
    public MappingRecord? FindMapping(uint domain, ulong iova, ulong gpa)
    {
        for (var size = PageSize.Size4K; size <= PageSize.Size1G; size++)
        {
            var key = (domain, Key(iova, size));
            if (_live.TryGetValue(key, out var r) && r.Gpa == gpa)
                return r;
            if (_recent.TryGetValue(key, out r) && r.Gpa == gpa)
                return r;
        }
        return null;
    }

    /// <summary>The domain's mapped (leaf written, not unmapped) mappings, oldest first. Sorted by serial: the
    /// dictionary's own order depends on per-process hash seeds.</summary>
    public IReadOnlyList<MappingRecord> Mapped(uint domain) =>
        _live.Values.Where(r => r.Domain == domain && r.State == MappingState.Mapped).OrderBy(r => r.Serial).ToList();

    private static ulong Key(ulong iova, PageSize size) => ((iova >> size.Shift()) << 2) | (ulong)size;
}
