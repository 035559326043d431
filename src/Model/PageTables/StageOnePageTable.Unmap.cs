namespace HvIommu.Model.PageTables;

/// <summary>Unmap (generic_pt <c>unmap_pages</c>, brief §3.1).</summary>
public sealed partial class StageOnePageTable
{
    /// <summary>
    /// Clears every leaf overlapping [<paramref name="iova"/>, <paramref name="iova"/> + <paramref name="length"/>)
    /// with plain stores. A large leaf only partly covered goes whole and counts whole; a lower table fully
    /// covered is cleared, unlinked and put on <see cref="IotlbGather.FreeList"/> (not freed, hazard H1);
    /// a table that merely became empty stays. Every cleared leaf and unlinked table widens the gather.
    /// </summary>
    /// <returns>Bytes unmapped (0 when nothing was mapped).</returns>
    public ulong Unmap(ulong iova, ulong length, IotlbGather gather)
    {
        var root = Live();
        if (length == 0 || iova > MaxIova)
            return 0;
        var last = length - 1 > MaxIova - iova ? MaxIova : iova + (length - 1);
        return UnmapLevel(root, Levels - 1, 0, iova, last, gather);
    }

    /// <param name="tableBase">The IOVA mapped by index 0 of this table.</param>
    private ulong UnmapLevel(ulong table, int level, ulong tableBase, ulong first, ulong last, IotlbGather gather)
    {
        var span = Pte.EntrySpan(level);
        var lo = Math.Max(first, tableBase);
        var hi = Math.Min(last, tableBase + (span * Pte.EntriesPerTable - 1));
        ulong bytes = 0;
        for (var i = Pte.Index(lo, level); i <= Pte.Index(hi, level); i++)
        {
            var slot = table + ((ulong)i << 3);
            var entry = Memory.Load64(slot);
            if (!Pte.IsPresent(entry))
                continue;
            var entryBase = tableBase + (ulong)i * span;
            if (Pte.IsLeaf(entry, level))
            {
                Memory.Store64(slot, 0);
                gather.AddRange(entryBase, span);
                bytes += span;
                continue;
            }
            bytes += UnmapLevel(Pte.Address(entry), level - 1, entryBase, first, last, gather);
            if (first <= entryBase && last >= entryBase + (span - 1))
                UnlinkTable(slot, entry, entryBase, span, gather);
        }
        return bytes;
    }

    /// <summary>The table is fully covered and already emptied by the descent (its sub-tables too).</summary>
    private void UnlinkTable(ulong slot, ulong entry, ulong entryBase, ulong span, IotlbGather gather)
    {
        Memory.Store64(slot, 0);
        Unlinked(gather, [Pte.Address(entry)]);
        gather.AddRange(entryBase, span);
    }
}
