using HvIommu.Model.Hypercalls;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Caches;

/// <summary>
/// IOVA → translation cache shared by <see cref="Iotlb"/> and <see cref="DeviceTlb"/> (brief §4): entries of
/// 4 KiB, 2 MiB or 1 GiB, tagged by domain; lookup probes each size; page-selective invalidation removes
/// every entry overlapping a flushed block.
/// </summary>
internal sealed class TranslationCache<TEntry>
    where TEntry : struct, ITranslationEntry
{
    /// <summary>Above this many candidate tags a page-list invalidation scans instead of probing.</summary>
    private const int MaxProbes = 256;

    private static readonly PageSize[] Sizes = [PageSize.Size4K, PageSize.Size2M, PageSize.Size1G];
    private readonly ShardedCache<TranslationKey, TEntry> _cache;

    public TranslationCache(int capacity, SeededRandom random) => _cache = new(capacity, random);

    public int Capacity => _cache.Capacity;

    public int Count => _cache.Count;

    public CacheStats Stats() => _cache.Stats();

    /// <summary>As a new cache of the same capacity built with <paramref name="random"/> (<see cref="ShardedCache{TKey,TValue}.Reset"/>).</summary>
    public void Reset(SeededRandom random) => _cache.Reset(random);

    public bool TryLookup(uint domain, ulong iova, out TEntry entry)
    {
        foreach (var size in Sizes)
        {
            if (_cache.TryGet(new TranslationKey(domain, size, iova >> size.Shift()), out entry))
                return true;
        }
        _cache.CountMiss(new TranslationKey(domain, PageSize.Size4K, iova >> 12));
        entry = default;
        return false;
    }

    public void Fill(uint domain, ulong iova, TEntry entry)
    {
        var mask = entry.Size.Bytes() - 1;
        if ((entry.Gpa & mask) != 0)
            throw new ArgumentException($"GPA 0x{entry.Gpa:x} is not aligned to a {entry.Size.Name()} page", nameof(entry));
        _cache.Set(new TranslationKey(domain, entry.Size, iova >> entry.Size.Shift()), entry);
    }

    public int InvalidateDomain(uint domain, Action<TEntry>? removing = null) => _cache.RemoveDomain(domain, removing);

    public int InvalidateAll() => _cache.Clear();

    /// <summary>Removes the domain's entries overlapping any block, probing tags when few, scanning otherwise.</summary>
    public int InvalidatePages(uint domain, ReadOnlySpan<FlushVa> blocks, Action<TEntry>? removing = null)
    {
        if (CandidateTags(blocks) > MaxProbes)
        {
            var state = (domain, blocks: blocks.ToArray());
            return _cache.RemoveWhere(state, static (s, key, _) => key.Domain == s.domain && Overlaps(s.blocks, key), removing);
        }
        var removed = 0;
        foreach (var block in blocks)
        {
            foreach (var size in Sizes)
            {
                var shift = size.Shift() - 12;
                for (var page = block.PageNumber >> shift; page <= block.LastPageNumber >> shift; page++)
                {
                    if (_cache.Remove(new TranslationKey(domain, size, page), removing))
                        removed++;
                }
            }
        }
        return removed;
    }

    /// <summary>Removes, in every domain, entries whose guest frame range contains <paramref name="gpaPage"/> (H14).</summary>
    public int InvalidateWhereGpa(ulong gpaPage) =>
        _cache.RemoveWhere(gpaPage, static (page, _, entry) =>
            entry.Gpa >> 12 <= page && page <= (entry.Gpa >> 12) + ((entry.Size.Bytes() >> 12) - 1));

    private static bool Overlaps(FlushVa[] blocks, TranslationKey key)
    {
        foreach (var block in blocks)
        {
            if (block.OverlapsPages(key.FirstPage4K, key.LastPage4K))
                return true;
        }
        return false;
    }

    private static ulong CandidateTags(ReadOnlySpan<FlushVa> blocks)
    {
        foreach (var block in blocks)
            block.Validate();
        ulong total = 0;
        foreach (var block in blocks)
        {
            foreach (var size in Sizes)
            {
                var shift = size.Shift() - 12;
                total += (block.LastPageNumber >> shift) - (block.PageNumber >> shift) + 1;
                if (total > MaxProbes)
                    return total;
            }
        }
        return total;
    }
}
