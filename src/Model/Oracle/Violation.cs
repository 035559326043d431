namespace HvIommu.Model.Oracle;

/// <summary>One violation, with where and when it happened and an explanation in words.</summary>
/// <param name="MappingSerial">The serial of the mapping the DMA's translation was made from (<see cref="MappingRecord.Serial"/>), 0 when none.</param>
/// <param name="FlushSeq">The flush of the mapping's domain that had completed over it (<see cref="MappingRecord.FlushedBySeq"/>), 0 when none had.</param>
public sealed record Violation(
    ViolationKind Kind,
    string Hazard,
    long Step,
    long SimTimeNs,
    string Vcpu,
    string Device,
    uint Domain,
    ulong Iova,
    ulong Frame,
    string Description,
    string Explanation,
    long MappingSerial = 0,
    long FlushSeq = 0);
