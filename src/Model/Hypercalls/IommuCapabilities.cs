namespace HvIommu.Model.Hypercalls;

/// <summary>
/// The <c>iommu_cap</c> bits returned by <c>HVCALL_GET_IOMMU_CAPABILITIES</c> (brief §1.8, <c>HV_IOMMU_CAP_*</c>).
/// The driver uses Present, S1, S1FiveLevel and Ats.
/// </summary>
[Flags]
public enum IommuCapabilities : ulong
{
    None = 0,
    Present = 1UL << 0,
    S2 = 1UL << 1,
    S1 = 1UL << 2,
    S1FiveLevel = 1UL << 3,
    Pasid = 1UL << 4,
    Ats = 1UL << 5,
    Pri = 1UL << 6,
}
