using System.Collections.Immutable;
using HvIommu.Model.PageTables;

namespace HvIommu.Model.Translation;

/// <summary>Why a nested (stage-1 over stage-2) IOMMU walk failed (brief §4).</summary>
public enum WalkFault
{
    None,
    /// <summary>A stage-1 entry on the path has P clear.</summary>
    NotPresent,
    /// <summary>A DMA write met an entry with R/W clear (x86 has no write-only encoding, brief §3).</summary>
    WriteToReadOnly,
    /// <summary>The device is in the blocking domain (brief §1.4); produced by callers, never by the walker.</summary>
    Blocked,
    /// <summary>The IOVA lies above the domain's aperture (hazard H15).</summary>
    OutsideAperture,
    /// <summary>A stage-1 table GPA or the leaf GPA has no host backing.</summary>
    Stage2Fault,
}

/// <summary>The direction of a device's DMA.</summary>
public enum AccessKind
{
    Read,
    Write,
}

/// <summary>One stage-1 entry read by the walker: the generic_pt level, its index, the table's GPA and the raw entry.</summary>
public readonly record struct WalkStep(int Level, int Index, ulong TableGpa, ulong Entry);

/// <summary>
/// The outcome of one nested IOMMU translation (brief §4): the stage-1 chain walked (top level first),
/// the GPA and HPA of the accessed byte, and the memory references a cold 2-D walk costs.
/// </summary>
public sealed class WalkResult
{
    internal WalkResult(WalkFault fault, ImmutableArray<WalkStep> chain, int stage2Lookups)
    {
        Fault = fault;
        Chain = chain;
        Stage2Lookups = stage2Lookups;
    }

    internal WalkResult(ImmutableArray<WalkStep> chain, int stage2Lookups, ulong gpa, ulong hpa, PageSize size, bool writable)
        : this(WalkFault.None, chain, stage2Lookups)
    {
        (Gpa, Hpa, Size, Writable) = (gpa, hpa, size, writable);
    }

    public bool Ok => Fault == WalkFault.None;
    public WalkFault Fault { get; }
    public ulong Gpa { get; }
    public ulong Hpa { get; }
    public PageSize Size { get; }
    public bool Writable { get; }

    /// <summary>Stage-1 entries read, top level first, ending at the one that ended the walk.</summary>
    public ImmutableArray<WalkStep> Chain { get; }

    /// <summary>GPA → HPA translations done: one per stage-1 table walked and one for the leaf GPA.</summary>
    public int Stage2Lookups { get; }

    /// <summary>
    /// Memory references of the 2-D walk: each stage-1 entry read, plus each stage-2 lookup counted as a
    /// full <see cref="NestedWalker.Stage2Levels"/>-level host walk. A cold 4-level walk costs (4+1)×(4+1)−1 = 24.
    /// </summary>
    public int MemoryReferences => Chain.Length + Stage2Lookups * NestedWalker.Stage2Levels;
}
