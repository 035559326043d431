namespace HvIommu.Model.Driver;

/// <summary>
/// The guest's IOVA allocator for one DMA domain, shaped like Linux's <c>alloc_iova_fast</c>: sizes are
/// rounded up to a power of two of pages and naturally aligned, allocation grows down from the top of
/// the 32-bit DMA window (where dma-iommu tries first for PCI devices), and freed ranges are cached per
/// size and handed out again most-recently-freed first, like the per-CPU rcaches. Fast reuse is what makes
/// an IOVA freed before its flush (H2) dangerous. Thread-safe.
/// </summary>
public sealed class IovaAllocator
{
    public const int PageShift = 12;
    private const int MaxOrder = 30;

    private readonly object _lock = new();
    private readonly Stack<ulong>[] _cached = Enumerable.Range(0, MaxOrder + 1).Select(_ => new Stack<ulong>()).ToArray();
    private readonly ulong _floor;
    private ulong _next;
    private long _allocated;

    /// <param name="limit">One past the highest IOVA handed out (default 4 GiB).</param>
    /// <param name="floor">Lowest IOVA handed out (page zero stays unmapped, like IOVA_START_PFN).</param>
    public IovaAllocator(ulong limit = 1UL << 32, ulong floor = 1UL << PageShift)
    {
        if (limit <= floor)
            throw new ArgumentOutOfRangeException(nameof(limit), "the IOVA window is empty");
        _next = limit;
        _floor = floor;
    }

    /// <summary>Ranges handed out and not yet freed.</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    /// <summary>Allocates a naturally aligned range of at least <paramref name="pages"/> 4 KiB pages; false when the window is exhausted.</summary>
    public bool TryAllocate(int pages, out ulong iova)
    {
        var order = OrderOf(pages);
        var size = 1UL << (order + PageShift);
        lock (_lock)
        {
            if (_cached[order].TryPop(out iova))
            {
                _allocated++;
                return true;
            }
            var candidate = (_next - size) & ~(size - 1);
            if (_next < size || candidate < _floor)
            {
                iova = 0;
                return false;
            }
            _next = candidate;
            iova = candidate;
            _allocated++;
            return true;
        }
    }

    /// <summary>Returns a range (free_iova_fast); the next allocation of that size gets it back first.</summary>
    public void Free(ulong iova, int pages)
    {
        var order = OrderOf(pages);
        if ((iova & ((1UL << (order + PageShift)) - 1)) != 0)
            throw new ArgumentException($"IOVA 0x{iova:x} is not aligned to its {pages}-page size", nameof(iova));
        lock (_lock)
        {
            _cached[order].Push(iova);
            _allocated--;
        }
    }

    /// <summary>Bytes the range for <paramref name="pages"/> pages really takes (power-of-two rounding).</summary>
    public static ulong RangeBytes(int pages) => 1UL << (OrderOf(pages) + PageShift);

    private static int OrderOf(int pages)
    {
        if (pages <= 0)
            throw new ArgumentOutOfRangeException(nameof(pages), pages, "must be positive");
        // Checked before the loop: above 2^30 the int shift wraps and (1 << order) never reaches pages.
        if (pages > 1 << MaxOrder)
            throw new ArgumentOutOfRangeException(nameof(pages), pages, $"too large for one IOVA range (at most 2^{MaxOrder} pages)");
        var order = 0;
        while ((1 << order) < pages)
            order++;
        return order;
    }
}
