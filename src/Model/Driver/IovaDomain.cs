namespace HvIommu.Model.Driver;

/// <summary>One allocated IOVA range (include/linux/iova.h <c>struct iova</c>): page frames
/// <see cref="PfnLo"/>..<see cref="PfnHi"/> inclusive, in units of the domain's 4 KiB granule.</summary>
public sealed class IovaRange(ulong pfnLo, ulong pfnHi)
{
    public ulong PfnLo { get; } = pfnLo;
    public ulong PfnHi { get; } = pfnHi;
    public ulong Pages => PfnHi - PfnLo + 1;
    public override string ToString() => $"[0x{PfnLo:x}..0x{PfnHi:x}]";
}

/// <summary>
/// The guest's IOVA allocator of one DMA domain, as Linux's <c>struct iova_domain</c> (drivers/iommu/iova.c,
/// include/linux/iova.h) with the cookie's <c>iommu_dma_alloc_iova</c> / <c>iommu_dma_free_iova</c>
/// (drivers/iommu/dma-iommu.c) on top:
/// <list type="bullet">
/// <item>Every allocated range — including the ones parked in the range caches — is a node of a tree ordered by
/// <c>pfn_lo</c>, with an anchor node at <c>IOVA_ANCHOR</c> (~0) above the usable space.
/// <c>__alloc_and_insert_iova_range</c> walks it top-down from a cached node (<c>cached32_node</c> for limits
/// at or below 4 GiB, <c>cached_node</c> above) and takes the first gap below the limit that fits the size,
/// aligned to the size rounded up to a power of two; when the walk falls below <c>start_pfn</c> it retries
/// once over the part above the cached node, and then remembers the failed size in <c>max32_alloc_size</c>.</item>
/// <item>The range caches (<see cref="IovaDomain"/>'s rcache half): sizes below 32 pages are rounded up to a
/// power of two by <c>alloc_iova_fast</c>; ranges of at most 32 pages are cached in 6 size classes, per CPU in a
/// loaded and a previous magazine of 127 PFNs, overflowing into a depot of full magazines that delayed work
/// trims back to one magazine per online CPU, 100 ms at a time.</item>
/// </list>
/// A sorted array stands in for the kernel's red-black tree: the allocator only ever reads a node's in-order
/// neighbours (<c>rb_prev</c>, <c>rb_next</c>), which the array gives by index. Thread-safe (one lock stands in
/// for the rbtree lock and the per-CPU and depot locks, whose critical sections it makes atomic as they are).
/// </summary>
public sealed partial class IovaDomain
{
    public const int PageShift = 12;

    /// <summary>IOVA_ANCHOR: the anchor node's pfn_lo and pfn_hi.</summary>
    public const ulong Anchor = ulong.MaxValue;

    private readonly object _lock = new();
    private readonly List<IovaRange> _tree = new();
    private readonly IovaRange _anchor = new(Anchor, Anchor);
    private IovaRange _cachedNode;
    private IovaRange _cached32Node;
    private ulong _max32AllocSize;

    /// <param name="cpus">Online CPUs (the VM's vCPUs): one pair of magazines per CPU and size class.</param>
    /// <param name="startPfn">The lowest PFN handed out (dma-iommu's base_pfn, at least 1: IOVA 0 stays unused).</param>
    /// <param name="hz">CONFIG_HZ, for the depot trim's msecs_to_jiffies(100).</param>
    /// <exception cref="ArgumentOutOfRangeException">No CPU, start PFN 0, or HZ not positive.</exception>
    public IovaDomain(int cpus, ulong startPfn = 1, int hz = 250)
    {
        if (cpus < 1)
            throw new ArgumentOutOfRangeException(nameof(cpus), cpus, "an IOVA domain needs at least one CPU");
        if (startPfn == 0)
            throw new ArgumentOutOfRangeException(nameof(startPfn), startPfn, "PFN 0 is the allocator's 'no IOVA'");
        if (hz <= 0)
            throw new ArgumentOutOfRangeException(nameof(hz), hz, "HZ must be positive");
        Cpus = cpus;
        StartPfn = startPfn;
        Hz = hz;
        // init_iova_domain: the anchor is the tree's only node and both cached nodes point at it.
        _tree.Add(_anchor);
        _cachedNode = _anchor;
        _cached32Node = _anchor;
        Dma32BitPfn = 1UL << (32 - PageShift);
        _max32AllocSize = Dma32BitPfn;
        _rcaches = Enumerable.Range(0, RangeCacheMaxSize).Select(_ => new Rcache(cpus)).ToArray();
    }

    public int Cpus { get; }
    public ulong StartPfn { get; }
    public int Hz { get; }

    /// <summary>dma_32bit_pfn: the first PFN above the 32-bit DMA space (1 &lt;&lt; 20 at a 4 KiB granule).</summary>
    public ulong Dma32BitPfn { get; }

    /// <summary>max32_alloc_size: the smallest size known not to fit below 4 GiB (Dma32BitPfn = no failure yet).</summary>
    public ulong Max32AllocSize
    {
        get { lock (_lock) return _max32AllocSize; }
    }

    /// <summary>Ranges in the tree (allocated or parked in a range cache), the anchor not counted.</summary>
    public int TreeNodes
    {
        get { lock (_lock) return _tree.Count - 1; }
    }

    /// <summary>The tree's ranges in ascending order, the anchor not included (a snapshot).</summary>
    public IReadOnlyList<IovaRange> Ranges()
    {
        lock (_lock)
            return _tree.Take(_tree.Count - 1).ToArray();
    }

    /// <summary>The allocation walk's two starting points, for tests: (cached32_node, cached_node).</summary>
    public (IovaRange Cached32, IovaRange Cached) CachedNodes()
    {
        lock (_lock)
            return (_cached32Node, _cachedNode);
    }

    /// <summary>
    /// alloc_iova (iova.c): a range of <paramref name="size"/> pages at or below <paramref name="limitPfn"/>
    /// (inclusive), searched top-down; with <paramref name="sizeAligned"/> its pfn_lo is a multiple of the size
    /// rounded up to a power of two. Null when no gap fits.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size of 0.</exception>
    public IovaRange? AllocIova(ulong size, ulong limitPfn, bool sizeAligned)
    {
        if (size == 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, "an IOVA range has at least one page");
        lock (_lock)
            return AllocAndInsertLocked(size, limitPfn + 1, sizeAligned);
    }

    /// <summary>find_iova: the range containing <paramref name="pfn"/>, or null.</summary>
    public IovaRange? FindIova(ulong pfn)
    {
        lock (_lock)
        {
            var i = FindLocked(pfn);
            return i < 0 ? null : _tree[i];
        }
    }

    /// <summary>free_iova: removes the range containing <paramref name="pfn"/> from the tree; nothing when none
    /// does (the kernel ignores it too).</summary>
    /// <returns>True when a range was removed.</returns>
    public bool FreeIova(ulong pfn)
    {
        lock (_lock)
        {
            var i = FindLocked(pfn);
            if (i < 0)
                return false;
            RemoveLocked(i);
            return true;
        }
    }

    /// <summary>
    /// __alloc_and_insert_iova_range (iova.c, the rbtree version): walk backwards from the cached node; at each
    /// node the candidate is the highest aligned start whose range ends below that node; stop at the first
    /// candidate that clears the previous node. A walk that falls below start_pfn retries once between the cached
    /// node and the limit (iova_find_limit gives the walk's first node there), then records the size as
    /// max32_alloc_size. Arithmetic wraps as the kernel's unsigned long does.
    /// </summary>
    private IovaRange? AllocAndInsertLocked(ulong size, ulong limitPfn, bool sizeAligned)
    {
        var alignMask = ulong.MaxValue;
        if (sizeAligned)
            alignMask <<= FlsLong(size - 1);
        var highPfn = limitPfn;
        var lowPfn = StartPfn;
        if (limitPfn <= Dma32BitPfn && size >= _max32AllocSize)
            return null;
        var curr = IndexOfNode(limitPfn <= Dma32BitPfn ? _cached32Node : _cachedNode);
        var retryPfn = _tree[curr].PfnHi;
        ulong newPfn;
        while (true)
        {
            do
            {
                highPfn = Math.Min(highPfn, _tree[curr].PfnLo);
                newPfn = (highPfn - size) & alignMask;
                curr--;
            }
            while (curr >= 0 && newPfn <= _tree[curr].PfnHi && newPfn >= lowPfn);

            if (highPfn >= size && newPfn >= lowPfn)
                break;
            if (lowPfn == StartPfn && retryPfn < limitPfn)
            {
                highPfn = limitPfn;
                lowPfn = retryPfn + 1;
                curr = FindLimitLocked(limitPfn);
                continue;
            }
            _max32AllocSize = size;
            return null;
        }
        var range = new IovaRange(newPfn, newPfn + size - 1);
        _tree.Insert(UpperBound(newPfn), range);
        // __cached_rbnode_insert_update
        if (range.PfnHi < Dma32BitPfn)
            _cached32Node = range;
        else
            _cachedNode = range;
        return range;
    }

    /// <summary>iova_find_limit: the walk's restart node — the anchor for limits above 4 GiB, else the lowest node
    /// at or above the limit.</summary>
    private int FindLimitLocked(ulong limitPfn)
    {
        if (limitPfn > Dma32BitPfn)
            return _tree.Count - 1;
        var i = UpperBound(limitPfn - 1);
        return i;
    }

    /// <summary>private_free_iova: __cached_rbnode_delete_update, then rb_erase.</summary>
    private void RemoveLocked(int index)
    {
        var free = _tree[index];
        var next = _tree[index + 1]; // the anchor is never removed, so every range has a successor
        if (ReferenceEquals(free, _cached32Node) || (free.PfnHi < Dma32BitPfn && free.PfnLo >= _cached32Node.PfnLo))
            _cached32Node = next;
        if (free.PfnLo < Dma32BitPfn)
            _max32AllocSize = Dma32BitPfn;
        if (free.PfnLo >= _cachedNode.PfnLo)
            _cachedNode = next;
        _tree.RemoveAt(index);
    }

    /// <summary>private_find_iova: the index of the range containing the PFN, or -1.</summary>
    private int FindLocked(ulong pfn)
    {
        var i = UpperBound(pfn) - 1;
        return i >= 0 && _tree[i].PfnHi >= pfn && !ReferenceEquals(_tree[i], _anchor) ? i : -1;
    }

    private int IndexOfNode(IovaRange node)
    {
        var i = UpperBound(node.PfnLo) - 1;
        if (i < 0 || !ReferenceEquals(_tree[i], node))
            throw new InvalidOperationException($"IOVA tree lost its cached node {node}");
        return i;
    }

    /// <summary>The index of the first node whose pfn_lo is above <paramref name="pfn"/>.</summary>
    private int UpperBound(ulong pfn)
    {
        int lo = 0, hi = _tree.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_tree[mid].PfnLo <= pfn)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    /// <summary>fls_long: the 1-based index of the highest set bit, 0 for 0.</summary>
    internal static int FlsLong(ulong x) => 64 - System.Numerics.BitOperations.LeadingZeroCount(x);

    /// <summary>order_base_2: log2 rounded up (0 for 1).</summary>
    internal static int OrderBase2(ulong n) => n <= 1 ? 0 : FlsLong(n - 1);
}
