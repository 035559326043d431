namespace HvIommu.Model.PageTables;

/// <summary>Unmap exactly as Linux does it: the core's loop over generic_pt <c>unmap_pages</c> (brief §3.1).</summary>
public sealed partial class StageOnePageTable
{
    /// <summary>
    /// <c>iommu_unmap_fast</c> → <c>__iommu_unmap</c> (drivers/iommu/iommu.c): rejects an IOVA or length that
    /// is not a multiple of the smallest page size (returns 0), then cuts the range with
    /// <see cref="PageSizeChoice.Choose"/> and calls <see cref="UnmapPages"/> piece by piece until the length is
    /// covered or a piece unmaps nothing ("an area that isn't mapped").
    /// </summary>
    /// <returns>Bytes unmapped; more than <paramref name="length"/> when the last piece ended inside a large leaf,
    /// less when the walk stopped at an empty entry or at a start inside a large leaf.</returns>
    public ulong Unmap(ulong iova, ulong length, IotlbGather gather)
    {
        Live();
        var smallest = PageSizes & (~PageSizes + 1);
        if (((iova | length) & (smallest - 1)) != 0)
            return 0;
        ulong unmapped = 0;
        while (unmapped < length)
        {
            var pageSize = PageSizeChoice.Choose(PageSizes, iova, iova, length - unmapped, out var count);
            var piece = UnmapPages(iova, pageSize, count, gather);
            if (piece == 0)
                break;
            iova += piece;
            unmapped += piece;
        }
        return unmapped;
    }

    /// <summary>
    /// generic_pt <c>unmap_pages</c> (iommu_pt.h): <c>make_range</c> refuses a zero, overflowing or out-of-width
    /// range (0, gather untouched); otherwise <c>__unmap_range</c> walks it and <c>gather_range_pages</c> adds
    /// [<paramref name="iova"/>, +bytes unmapped) to the gather and the unlinked tables to its free list (freed after
    /// the flush, H1). The range is what was cleared, not what was asked for, as upstream since ee6e69d03255
    /// ("iommupt: Fix short gather if the unmap goes into a large mapping"): an unmap ending inside a large leaf
    /// removes the whole leaf, and the gather (hence the list flush) must cover all of it; an unmap that stopped at a
    /// hole gathers only what it cleared. Before that fix the requested length was gathered — a short flush. An unmap
    /// that cleared nothing leaves the gather as it was (Linux adds a size-0 range, start = iova, end = iova − 1).
    /// </summary>
    /// <returns>Bytes of leaves cleared; the walk stops at the first empty entry, and at a start that is not
    /// aligned to the leaf it lands in (nothing cleared there).</returns>
    public ulong UnmapPages(ulong iova, ulong pageSize, ulong pageCount, IotlbGather gather)
    {
        var root = Live();
        if (pageSize == 0 || pageCount == 0 || pageCount > ulong.MaxValue / pageSize)
            return 0;
        var length = pageSize * pageCount;
        if (length - 1 > ulong.MaxValue - iova || iova + (length - 1) > MaxIova)
            return 0;
        var walk = new UnmapWalk(iova, iova + (length - 1));
        UnmapLevel(root, Levels - 1, 0, ref walk);
        if (walk.FreeList is { } freed)
            Unlinked(gather, freed);
        gather.AddRange(iova, walk.Unmapped);
        return walk.Unmapped;
    }

    private struct UnmapWalk(ulong first, ulong last)
    {
        public readonly ulong First = first;
        public readonly ulong Last = last;
        public ulong Unmapped;
        /// <summary>Table pages the walk emptied and unlinked (null while there are none: most unmaps free no table).</summary>
        public List<ulong>? FreeList;
    }

    /// <summary>
    /// <c>__unmap_range</c> for one table: false is its -EINVAL, which ends the whole walk (every caller up the
    /// tree stops too and skips its own table free).
    /// </summary>
    /// <param name="tableBase">The IOVA mapped by index 0 of this table.</param>
    private bool UnmapLevel(ulong table, int level, ulong tableBase, ref UnmapWalk walk)
    {
        var span = Pte.EntrySpan(level);
        var start = Math.Max(walk.First, tableBase);
        var stop = Math.Min(walk.Last, tableBase + (span * Pte.EntriesPerTable - 1));
        var index = Pte.Index(start, level);
        var end = Pte.Index(stop, level);
        var first = Memory.Load64(table + ((ulong)index << 3));
        // A start inside a large leaf: the API never splits one, and only a start at the leaf's own first
        // byte may remove it whole (a later leaf cut by the end of the range goes whole).
        if (Pte.IsPresent(first) && Pte.IsLeaf(first, level) && (start & (span - 1)) != 0)
            return false;
        for (; index <= end; index++)
        {
            var slot = table + ((ulong)index << 3);
            var entry = Memory.Load64(slot);
            if (!Pte.IsPresent(entry))
                return false;
            if (Pte.IsLeaf(entry, level))
            {
                Memory.Store64(slot, 0);
                walk.Unmapped += span;
                continue;
            }
            var entryBase = tableBase + (ulong)index * span;
            var fullyCovered = walk.First <= entryBase && walk.Last >= entryBase + (span - 1);
            if (!UnmapLevel(Pte.Address(entry), level - 1, entryBase, ref walk))
                return false;
            // The clear waits until every lower level succeeded: a walk that stopped inside keeps the table.
            if (fullyCovered)
            {
                (walk.FreeList ??= []).Add(Pte.Address(entry));
                Memory.Store64(slot, 0);
            }
        }
        return true;
    }
}
