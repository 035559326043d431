namespace HvIommu.Model.Oracle;

/// <summary>One violation, with where and when it happened and an explanation in words.</summary>
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
    string Explanation);
