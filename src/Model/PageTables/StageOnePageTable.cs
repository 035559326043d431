using HvIommu.Model.Memory;

namespace HvIommu.Model.PageTables;

/// <summary>
/// The guest's x86-64 stage-1 I/O page table of one pvIOMMU paging domain, kept in
/// <see cref="GuestMemory"/> bit-exact with generic_pt <c>fmt/x86_64.h</c> (brief §3; levels 0 PTE ..
/// 4 PML5E). Map installs intermediate tables with compare-exchange and writes leaves with plain stores,
/// unmap never splits a large leaf and defers table frees to the <see cref="IotlbGather"/> (brief §3.1,
/// hazard H1); depth and width are validated against each other (hazard H15). Map and unmap of disjoint
/// ranges may run on many threads at once; <see cref="RacyInstall"/> injects hazard H6.
/// </summary>
public sealed partial class StageOnePageTable
{
    private readonly FrameAllocator _frames;
    private ulong _root;
    private int _tablePageCount;

    /// <param name="levels">3 (PDPT top, generic_pt's choice below 40 bits when no top level is given), 4 (PML4 top)
    /// or 5 (PML5 top).</param>
    /// <param name="iovaWidthBits">IOVA width; at most 48 with 4 levels, 57 with 5.</param>
    /// <param name="racyInstall">Hazard H6: install tables with a plain load and a later plain store.</param>
    /// <param name="pageSizes">The domain's <c>pgsize_bitmap</c> (bit n = 2^n bytes); 0 means the format's
    /// own 4 KiB | 2 MiB | 1 GiB (generic_pt get_info). Must include 4 KiB (later revisions reject a
    /// hypervisor without it).</param>
    public StageOnePageTable(GuestMemory memory, FrameAllocator frames, int levels, int domainId, int iovaWidthBits, bool racyInstall = false, ulong pageSizes = 0)
    {
        if (pageSizes == 0)
            pageSizes = PageSizeChoice.X86Bitmap;
        if ((pageSizes & ~PageSizeChoice.X86Bitmap) != 0 || (pageSizes & (1UL << 12)) == 0)
            throw new ArgumentException($"page sizes 0x{pageSizes:x} must include 4 KiB and use only 4 KiB, 2 MiB and 1 GiB", nameof(pageSizes));
        PageSizes = pageSizes;
        if (levels is < 3 or > 5)
            throw new ArgumentException($"levels {levels} is not supported: x86-64 stage-1 tables have a top level of 2, 3 or 4 (3 to 5 levels)", nameof(levels));
        var maxWidth = 12 + Pte.IndexBits * levels;
        if (iovaWidthBits < 12 + Pte.IndexBits || iovaWidthBits > maxWidth)
            throw new ArgumentException($"IOVA width {iovaWidthBits} bits does not fit {levels} levels: allowed 21..{maxWidth} (hazard H15)", nameof(iovaWidthBits));
        Memory = memory;
        _frames = frames;
        Levels = levels;
        DomainId = domainId;
        MaxIova = (1UL << iovaWidthBits) - 1;
        RacyInstall = racyInstall;
        if (!TryAllocateTable(out _root))
            throw new GuestMemoryExhaustedException(frames.FrameCount);
    }

    public int Levels { get; }
    public int DomainId { get; }
    public ulong RootGpa => Live();
    public ulong MaxIova { get; }
    public bool RacyInstall { get; }

    /// <summary>The domain's <c>pgsize_bitmap</c>: the leaf sizes map may use and unmap cuts by.</summary>
    public ulong PageSizes { get; }

    /// <summary>Table pages allocated and not yet unlinked (root included); racily lost tables still count.</summary>
    public int TablePageCount => Volatile.Read(ref _tablePageCount);

    internal GuestMemory Memory { get; }

    /// <summary>Maps one leaf; never replaces a table (without a gather there is nowhere to put it).</summary>
    public MapStatus Map(ulong iova, ulong gpa, PageSize size, bool writable) => Map(iova, gpa, size, writable, null);

    /// <summary>
    /// Maps one leaf. With a <paramref name="gather"/>, a large leaf may replace an existing lower table that
    /// holds no leaf, as generic_pt does: the replaced pages go to <see cref="IotlbGather.FreeList"/> and the
    /// leaf's range to the gather, and the caller must flush (hazard H19) before freeing them (hazard H1).
    /// </summary>
    public MapStatus Map(ulong iova, ulong gpa, PageSize size, bool writable, IotlbGather? gather)
    {
        Live();
        if (Rejected(iova, gpa, size) is { } rejected)
            return rejected;
        // The map runs to its end on this thread before anything else does: one operation per thread serves them all.
        var operation = t_mapOperation ??= new MapOperation(MapStatus.Mapped);
        operation.Restart(this, iova, Pte.Leaf(gpa, size, writable), size, gather);
        try
        {
            while (!operation.Step())
            {
            }
            return operation.Status;
        }
        finally
        {
            operation.Release();
        }
    }

    [ThreadStatic]
    private static MapOperation? t_mapOperation;

    /// <summary>Why a leaf of <paramref name="size"/> cannot map <paramref name="iova"/> → <paramref name="gpa"/>; null when it can.</summary>
    private MapStatus? Rejected(ulong iova, ulong gpa, PageSize size)
    {
        var bytes = size.Bytes();
        if (((iova | gpa) & (bytes - 1)) != 0)
            return MapStatus.Misaligned;
        if (iova > MaxIova || bytes - 1 > MaxIova - iova || (gpa & ~Pte.AddressMask) != 0)
            return MapStatus.OutOfRange;
        return null;
    }

    public MapOperation BeginMap(ulong iova, ulong gpa, PageSize size, bool writable) => BeginMap(iova, gpa, size, writable, null);

    /// <summary>The map of <see cref="Map(ulong, ulong, PageSize, bool, IotlbGather?)"/>, one level per step.</summary>
    public MapOperation BeginMap(ulong iova, ulong gpa, PageSize size, bool writable, IotlbGather? gather)
    {
        Live();
        if (Rejected(iova, gpa, size) is { } rejected)
            return new MapOperation(rejected);
        return new MapOperation(this, iova, Pte.Leaf(gpa, size, writable), size, gather);
    }

    /// <summary>Software walk (generic_pt <c>iova_to_phys</c>): the leaf's GPA for <paramref name="iova"/>.</summary>
    public bool TryIovaToPhys(ulong iova, out ulong gpa, out PageSize size, out bool writable)
    {
        var table = Live();
        (gpa, size, writable) = (0, PageSize.Size4K, false);
        if (iova > MaxIova)
            return false;
        for (var level = Levels - 1; level >= 0; level--)
        {
            var entry = Memory.Load64(table + ((ulong)Pte.Index(iova, level) << 3));
            if (!Pte.IsPresent(entry))
                return false;
            if (Pte.IsLeaf(entry, level))
            {
                size = PageSizeExtensions.FromLevel(level);
                gpa = Pte.Address(entry) & ~(size.Bytes() - 1) | (iova & (size.Bytes() - 1));
                writable = Pte.IsWritable(entry);
                return true;
            }
            table = Pte.Address(entry);
        }
        return false;
    }

    /// <summary>
    /// pt_iommu_deinit: frees every table page (root last) back to the allocator and lists them. The caller
    /// must have fenced the hardware and flushed first (hazard H10). The table is unusable afterwards.
    /// </summary>
    public void Deinit(List<ulong> freedTables)
    {
        var root = Live();
        var pages = new List<ulong>();
        CollectSubtree(root, Levels - 1, pages, requireEmpty: false);
        _root = 0;
        foreach (var page in pages)
        {
            _frames.Free(page);
            Interlocked.Decrement(ref _tablePageCount);
        }
        freedTables.AddRange(pages);
    }

    internal bool TryAllocateTable(out ulong gpa)
    {
        if (!_frames.TryAllocate(FrameOwner.PageTable, DomainId, out gpa, zero: true))
            return false;
        Interlocked.Increment(ref _tablePageCount);
        return true;
    }

    /// <summary>The loser of an install race frees the table it allocated (brief §3.1).</summary>
    /// <summary>Table pointers a racy install (H6) overwrote: each orphans the table it pointed to, and every
    /// table under it, which no teardown walk can reach again.</summary>
    public int TablesOrphanedByRacyInstall => Volatile.Read(ref _orphaned);

    private int _orphaned;

    internal void NoteOrphanedByRacyInstall() => Interlocked.Increment(ref _orphaned);

    internal void ReleaseUnusedTable(ulong gpa)
    {
        _frames.Free(gpa);
        Interlocked.Decrement(ref _tablePageCount);
    }

    /// <summary>Pages handed to a gather leave the table's count; the driver frees them after the flush.</summary>
    private void Unlinked(IotlbGather gather, List<ulong> pages)
    {
        gather.FreeList.AddRange(pages);
        Interlocked.Add(ref _tablePageCount, -pages.Count);
    }

    /// <summary>H19: a large leaf replaces a lower table holding no leaf; the table goes to the gather.</summary>
    internal bool TryReplaceEmptyTable(ulong slot, ulong tableEntry, ulong leaf, ulong iova, int level, IotlbGather gather)
    {
        var pages = new List<ulong>();
        if (!CollectSubtree(Pte.Address(tableEntry), level - 1, pages, requireEmpty: true))
            return false;
        if (Memory.CompareExchange64(slot, tableEntry, leaf) != tableEntry)
            return false;
        Unlinked(gather, pages);
        gather.AddRange(iova, Pte.EntrySpan(level));
        return true;
    }

    /// <summary>Lists the table and its sub-tables, children first; with <paramref name="requireEmpty"/>,
    /// stops with false at the first leaf.</summary>
    private bool CollectSubtree(ulong table, int level, List<ulong> pages, bool requireEmpty)
    {
        for (var i = 0; i < Pte.EntriesPerTable; i++)
        {
            var entry = Memory.Load64(table + ((ulong)i << 3));
            if (!Pte.IsPresent(entry))
                continue;
            if (Pte.IsLeaf(entry, level))
            {
                if (requireEmpty)
                    return false;
                continue;
            }
            if (!CollectSubtree(Pte.Address(entry), level - 1, pages, requireEmpty))
                return false;
        }
        pages.Add(table);
        return true;
    }

    private ulong Live()
        => _root != 0 ? _root : throw new InvalidOperationException($"the stage-1 table of domain {DomainId} was deinitialised");
}
