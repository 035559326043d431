namespace HvIommu.Model.Translation;

/// <summary>Where a DMA's translation came from (brief §4): the device's ATC, the IOMMU's IOTLB, a nested walk,
/// or the identity domain's stage-2-only path.</summary>
public enum TranslationSource : byte { None, Atc, Iotlb, Walk, Identity }

/// <summary>
/// The translation a DMA transaction carries from its translate step to its later access step. Besides the
/// architectural result it carries shadow data for the oracle: the generation of the target frame and the
/// mapping the translation was made from (null when no live mapping backs it). It holds the oracle's record
/// itself, not a serial to look up: whatever can still use a translation (a cache entry, a DMA in flight)
/// keeps its mapping's record alive, and a record nothing refers to any more is the garbage collector's.
/// </summary>
public readonly record struct DmaTranslation(
    bool Ok,
    WalkFault Fault,
    TranslationSource Source,
    uint Domain,
    ulong Iova,
    ulong Hpa,
    ulong Gpa,
    HvIommu.Model.PageTables.PageSize Size,
    bool Writable,
    uint FrameGeneration,
    HvIommu.Model.Mappings.MappingRecord? Mapping)
{
    /// <summary>The serial of <see cref="Mapping"/>, or 0 when no mapping backs the translation.</summary>
    public long MappingSerial => Mapping?.Serial ?? 0;

    /// <summary>Memory references the nested walk made (0 when the IOTLB or the ATC answered); the cost model charges them.</summary>
    public int WalkReferences { get; init; }

    public static DmaTranslation Faulted(WalkFault fault, TranslationSource source, uint domain, ulong iova) =>
        new(false, fault, source, domain, iova, 0, 0, HvIommu.Model.PageTables.PageSize.Size4K, false, 0, null);
}
