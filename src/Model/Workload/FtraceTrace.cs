using System.Collections.Immutable;

namespace HvIommu.Model.Workload;

/// <summary>Which of the kernel's two IOMMU mapping events a trace line is (include/trace/events/iommu.h).</summary>
public enum IommuEventKind : byte
{
    /// <summary><c>iommu:map</c>, emitted by iommu_map() once the range is mapped.</summary>
    Map = 0,
    /// <summary><c>iommu:unmap</c>, emitted by __iommu_unmap() once the leaves are cleared, before iotlb_sync.</summary>
    Unmap = 1,
}

/// <summary>
/// One <c>iommu:map</c> or <c>iommu:unmap</c> event of a kernel ftrace: the CPU that made the call, its
/// timestamp (ns since boot), the IOVA range [<see cref="Iova"/>, +<see cref="Size"/>) and, for a map, the
/// guest-physical address it maps. <see cref="UnmappedSize"/> is what the kernel reported it really
/// unmapped (equal to <see cref="Size"/> when the whole range was mapped). <see cref="Line"/> is 1-based.
/// </summary>
public readonly record struct IommuTraceEvent(
    IommuEventKind Kind,
    int Cpu,
    long TimestampNs,
    ulong Iova,
    ulong Size,
    ulong Paddr,
    ulong UnmappedSize,
    int Line)
{
    /// <summary>One past the last byte of the IOVA range.</summary>
    public ulong End => Iova + Size;
}

/// <summary>
/// A parsed ftrace of IOMMU mapping events: the events in file order (the kernel's global timestamp
/// order) and the file's own counts, which a replay reports back unchanged.
/// </summary>
/// <param name="File">The path as given.</param>
/// <param name="SkippedLines">Header (<c>#</c>) lines, blank lines, lost-event notes and events other
/// than iommu:map/iommu:unmap (attach_device_to_domain, io_page_fault, anything else traced alongside).</param>
/// <param name="OtherEvents">The events among <paramref name="SkippedLines"/> that were not iommu map/unmap.</param>
public sealed record FtraceTrace(
    string File,
    ImmutableArray<IommuTraceEvent> Events,
    long SkippedLines,
    long OtherEvents)
{
    public long MapEvents { get; } = Events.Count(e => e.Kind == IommuEventKind.Map);
    public long UnmapEvents { get; } = Events.Count(e => e.Kind == IommuEventKind.Unmap);

    /// <summary>Sum of the map events' sizes, bytes.</summary>
    public ulong BytesMapped { get; } = Events.Where(e => e.Kind == IommuEventKind.Map).Aggregate(0UL, (s, e) => s + e.Size);

    /// <summary>Sum of the unmap events' <c>size</c> fields, bytes (what the kernel was asked to unmap).</summary>
    public ulong BytesUnmapped { get; } = Events.Where(e => e.Kind == IommuEventKind.Unmap).Aggregate(0UL, (s, e) => s + e.Size);

    /// <summary>The traced CPU numbers, ascending; CPU <c>Cpus[i]</c> replays on vCPU i.</summary>
    public ImmutableArray<int> Cpus { get; } = Events.Select(e => e.Cpu).Distinct().Order().ToImmutableArray();

    /// <summary>One past the highest guest-physical byte a map event names (0 with no maps).</summary>
    public ulong GpaTop { get; } = Events.Where(e => e.Kind == IommuEventKind.Map).Aggregate(0UL, (top, e) => Math.Max(top, e.Paddr + e.Size));

    /// <summary>First and last timestamp, ns (0, 0 when empty).</summary>
    public (long FirstNs, long LastNs) TimeSpanNs { get; } = Events.IsEmpty ? (0, 0) : (Events[0].TimestampNs, Events[^1].TimestampNs);
}

/// <summary>A trace file that is not an ftrace of iommu events: names the file, the 1-based line and what was expected.</summary>
public sealed class TraceFormatException(string file, int line, string problem)
    : Exception($"{file}:{line}: {problem}")
{
    public string File { get; } = file;
    public int Line { get; } = line;
    public string Problem { get; } = problem;
}
