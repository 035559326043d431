using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.Cli;

/// <summary>What one <c>--map</c> or <c>--unmap</c> of the <c>pagetable</c> command did.</summary>
/// <param name="Unmapped">Bytes the unmap cleared (generic_pt <c>unmap_pages</c> through <c>__iommu_unmap</c>); 0 for a map.</param>
/// <param name="GatherStart">First IOVA of the gather after the operation, or null when the gather stayed empty.</param>
/// <param name="GatherEnd">Last IOVA (inclusive) of the gather, or null.</param>
/// <param name="FreedTables">Table pages the operation unlinked and freed after its (immediate) flush.</param>
public sealed record PageTableStep(string Kind, string Text, ulong Unmapped, ulong? GatherStart, ulong? GatherEnd, int FreedTables);

/// <summary>
/// The <c>pagetable</c> command's scratch VM: a stage-1 table whose pages come from the top 16 MiB below
/// 4 GiB, and a flat stage 2 that backs the whole 52-bit GPA space (brief §4), so any GPA a leaf may hold
/// translates. Operations apply in the order given; each one's gather is "flushed" at once (there is no
/// IOTLB here) and its tables freed. Map errors name the argument and the generic_pt return code's meaning.
/// </summary>
public sealed class PageTableSession
{
    /// <summary>Guest memory that holds table pages: 4 GiB, sparse, so only touched frames cost memory.</summary>
    public const ulong GuestBytes = 4UL << 30;
    /// <summary>The GPA space the scratch stage 2 backs: 2^52 bytes (the x86-64 format's output width).</summary>
    public const ulong GpaSpaceBytes = 1UL << 52;
    private const ulong TableFrames = 4096;
    private const ulong TableBaseGpa = GuestBytes - (TableFrames << GuestMemory.PageShift);
    private const int DomainId = 1;

    private readonly GuestMemory _memory = new(GuestBytes);
    private readonly FrameAllocator _frames;
    private readonly Stage2 _stage2 = Stage2.Flat(GpaSpaceBytes);
    private readonly List<PageTableStep> _steps = new();

    /// <param name="levels">4 or 5; the IOVA width is 12 + 9 × levels bits.</param>
    public PageTableSession(int levels)
    {
        _frames = new FrameAllocator(_memory, TableBaseGpa, TableFrames);
        Table = new StageOnePageTable(_memory, _frames, levels, DomainId, 12 + Pte.IndexBits * levels);
    }

    public StageOnePageTable Table { get; }

    public IReadOnlyList<PageTableStep> Steps => _steps;

    /// <summary>Installs one leaf (generic_pt map_pages of a single page of that size).</summary>
    /// <exception cref="UsageException">The map failed: overlap (-EADDRINUSE), alignment, range (-ERANGE) or no table frame.</exception>
    public void Apply(MapArgument map)
    {
        var gather = new IotlbGather();
        var status = Table.Map(map.Iova, map.Gpa, map.Size, map.Writable, gather);
        if (status != MapStatus.Mapped)
            throw new UsageException($"--map '{map.Text}' failed: {Explain(status, map)}");
        Record("map", map.Text, 0, gather);
    }

    /// <summary>iommu_unmap: the byte count cleared is recorded; nothing unmapped is not an error (the kernel returns 0).</summary>
    public void Apply(UnmapArgument unmap)
    {
        var gather = new IotlbGather();
        var bytes = Table.Unmap(unmap.Iova, unmap.Length, gather);
        Record("unmap", unmap.Text, bytes, gather);
    }

    /// <summary>The nested walk of <paramref name="iova"/> as the IOMMU would do it.</summary>
    public WalkResult Walk(ulong iova, AccessKind access)
        => NestedWalker.Walk(_memory, _stage2, Table.RootGpa, Table.Levels, Table.MaxIova, iova, access);

    private void Record(string kind, string text, ulong bytes, IotlbGather gather)
    {
        _steps.Add(new PageTableStep(kind, text, bytes, gather.IsEmpty ? null : gather.Start, gather.IsEmpty ? null : gather.End, gather.FreeList.Count));
        foreach (var page in gather.FreeList)
            _frames.Free(page);
        gather.Reset();
    }

    private static string Explain(MapStatus status, MapArgument map) => status switch
    {
        MapStatus.AlreadyMapped => $"IOVA 0x{map.Iova:x} overlaps an earlier mapping; map disjoint ranges",
        MapStatus.Misaligned => $"IOVA 0x{map.Iova:x} and GPA 0x{map.Gpa:x} must both be {map.Size.Name()}-aligned",
        MapStatus.OutOfRange => "the IOVA range must lie inside the table's width and the GPA below 2^52",
        MapStatus.NoMemory => $"the scratch guest ran out of its {TableFrames} table frames",
        _ => status.ToString(),
    };
}
