using System.Collections.Concurrent;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Oracle;

/// <summary>
/// Every mapping of the run by serial, and the live ones of each domain by IOVA. Serials index a chunked
/// array so that an access finds its mapping in O(1) without locking.
/// </summary>
internal sealed class MappingRegistry
{
    private const int ChunkBits = 10; // 8 KiB chunks: small enough to stay off the large-object heap, so short schedules do not trigger full GCs
    private const int ChunkSize = 1 << ChunkBits;
    private MappingRecord?[]?[] _chunks = new MappingRecord?[]?[64];
    private readonly object _grow = new();
    private long _nextSerial;
    private readonly ConcurrentDictionary<(uint Domain, ulong Key), MappingRecord> _live = new();
    private readonly ConcurrentDictionary<(uint Domain, ulong Key), MappingRecord> _recent = new();

    public long Count => Interlocked.Read(ref _nextSerial);

    public long NextSerial() => Interlocked.Increment(ref _nextSerial);

    public void Add(MappingRecord record)
    {
        var chunkIndex = (int)(record.Serial >> ChunkBits);
        var chunks = Volatile.Read(ref _chunks);
        if (chunkIndex >= chunks.Length || chunks[chunkIndex] is null)
            chunks = Grow(chunkIndex);
        chunks[chunkIndex]![record.Serial & (ChunkSize - 1)] = record;
        _live[(record.Domain, Key(record.Iova, record.Size))] = record;
    }

    public MappingRecord? BySerial(long serial)
    {
        if (serial <= 0)
            return null;
        var chunks = Volatile.Read(ref _chunks);
        var chunkIndex = (int)(serial >> ChunkBits);
        return chunkIndex < chunks.Length ? chunks[chunkIndex]?[serial & (ChunkSize - 1)] : null;
    }

    public void RemoveLive(MappingRecord record)
    {
        var key = (record.Domain, Key(record.Iova, record.Size));
        _recent[key] = record;
        _live.TryRemove(new KeyValuePair<(uint, ulong), MappingRecord>(key, record));
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

    private MappingRecord?[]?[] Grow(int chunkIndex)
    {
        lock (_grow)
        {
            var chunks = _chunks;
            if (chunkIndex >= chunks.Length)
            {
                var bigger = new MappingRecord?[]?[Math.Max(chunks.Length * 2, chunkIndex + 1)];
                Array.Copy(chunks, bigger, chunks.Length);
                chunks = bigger;
            }
            chunks[chunkIndex] ??= new MappingRecord?[ChunkSize];
            Volatile.Write(ref _chunks, chunks);
            return chunks;
        }
    }
}
