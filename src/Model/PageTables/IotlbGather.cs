namespace HvIommu.Model.PageTables;

/// <summary>
/// Linux <c>struct iommu_iotlb_gather</c>: the IOVA range an unmap (or a map that replaced empty tables,
/// hazard H19) made stale, and the stage-1 table pages that may be freed only after the domain flush
/// completes (brief §3.1 "freed page table memory is batched up in the gather", hazard H1). An empty
/// gather has <see cref="Start"/> = <c>ulong.MaxValue</c> and <see cref="End"/> = 0, so a driver that
/// flushes it anyway is visibly flushing an invalid range (hazard H7). Not thread-safe: one per operation.
/// </summary>
public sealed class IotlbGather
{
    /// <summary>First IOVA of the range to flush; <c>ulong.MaxValue</c> when empty.</summary>
    public ulong Start { get; private set; } = ulong.MaxValue;

    /// <summary>Last IOVA of the range to flush (inclusive, so the top of a 64-bit space cannot overflow); 0 when empty.</summary>
    public ulong End { get; private set; }

    public bool IsEmpty => Start > End;

    /// <summary>GPAs of table pages unlinked by the operation, to be freed only after the flush.</summary>
    public List<ulong> FreeList { get; } = new();

    /// <summary>Widens the range to cover [<paramref name="iova"/>, <paramref name="iova"/> + <paramref name="length"/>).</summary>
    public void AddRange(ulong iova, ulong length)
    {
        if (length == 0)
            return;
        var last = length - 1 > ulong.MaxValue - iova ? ulong.MaxValue : iova + (length - 1);
        Start = Math.Min(Start, iova);
        End = Math.Max(End, last);
    }

    /// <summary>Empties the range and the free list (after the flush and the frees).</summary>
    public void Reset()
    {
        Start = ulong.MaxValue;
        End = 0;
        FreeList.Clear();
    }
}
