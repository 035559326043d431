using HvIommu.Model.PageTables;

namespace HvIommu.Model.Caches;

/// <summary>
/// One combined (stage-1 + stage-2) IOTLB entry (brief §4): the page's HPA and GPA bases, its size and write
/// permission. <see cref="FrameGeneration"/> is shadow metadata for the oracle — the generation of the guest
/// frame when the entry was filled — so a later hit on a reused frame is recognisable as stale (H1–H3).
/// <see cref="FillSerial"/> is assigned by the cache: the order in which entries were filled.
/// <see cref="Mapping"/> is shadow metadata too: the oracle's record of the mapping the entry was made from (held,
/// not looked up by serial, so a record lives exactly as long as some entry or translation can still use it).
/// </summary>
public readonly record struct IotlbEntry(
    ulong Hpa,
    ulong Gpa,
    PageSize Size,
    bool Writable,
    uint FrameGeneration,
    long FillSerial = 0,
    Mappings.MappingRecord? Mapping = null) : ITranslationEntry
{
    /// <summary>The serial of <see cref="Mapping"/>, or 0.</summary>
    public long MappingSerial => Mapping?.Serial ?? 0;

    /// <summary>HPA for <paramref name="iova"/> inside this page.</summary>
    public ulong Translate(ulong iova) => Hpa | (iova & (Size.Bytes() - 1));
}

/// <summary>
/// One entry of an endpoint's device TLB (ATS address translation cache, brief §4): what the IOMMU answered
/// to a translation request, kept by the device until invalidated (H4, H9).
/// </summary>
public readonly record struct DeviceTlbEntry(
    ulong Hpa,
    ulong Gpa,
    PageSize Size,
    bool Writable,
    uint FrameGeneration,
    Mappings.MappingRecord? Mapping = null) : ITranslationEntry
{
    /// <summary>The serial of <see cref="Mapping"/>, or 0.</summary>
    public long MappingSerial => Mapping?.Serial ?? 0;

    /// <summary>HPA for <paramref name="iova"/> inside this page.</summary>
    public ulong Translate(ulong iova) => Hpa | (iova & (Size.Bytes() - 1));
}
