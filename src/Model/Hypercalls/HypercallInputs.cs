using System.Collections.Immutable;

namespace HvIommu.Model.Hypercalls;

/// <summary>Marker for the input of one pvIOMMU hypercall (brief §2.2); <see cref="Code"/> names the call.</summary>
public interface IHypercallInput
{
    HypercallCode Code { get; }
}

/// <summary><c>HVCALL_GET_IOMMU_CAPABILITIES</c> input {u64 partition_id; u64 reserved} (brief §2.2).</summary>
public sealed record GetIommuCapabilitiesInput(ulong PartitionId = HvInputDeviceDomain.PartitionIdSelf) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.GetIommuCapabilities;
}

/// <summary>
/// <c>HVCALL_GET_IOMMU_CAPABILITIES</c> output (brief §2.2, §1.8): {u32 size; u16 reserved; u8 max_iova_width;
/// u8 max_pasid_width; u64 iommu_cap; u64 pgsize_bitmap}.
/// </summary>
public sealed record GetIommuCapabilitiesOutput(
    uint Size,
    byte MaxIovaWidth,
    byte MaxPasidWidth,
    IommuCapabilities IommuCap,
    ulong PgsizeBitmap);

/// <summary>Property codes of <c>HVCALL_GET_LOGICAL_DEVICE_PROPERTY</c> (brief §2.2).</summary>
public enum LogicalDeviceProperty : uint
{
    /// <summary><c>HV_LOGICAL_DEVICE_PROPERTY_PVIOMMU</c>.</summary>
    PvIommu = 10,
}

/// <summary>
/// <c>HVCALL_GET_LOGICAL_DEVICE_PROPERTY</c> input {u64 partition_id; u64 logical_device_id; u32 code; u32 reserved}
/// (brief §2.2). The ABI field <c>code</c> is <see cref="PropertyCode"/> here, since <see cref="Code"/> names the call.
/// </summary>
public sealed record GetLogicalDevicePropertyInput(
    ulong PartitionId,
    ulong LogicalDeviceId,
    LogicalDeviceProperty PropertyCode = LogicalDeviceProperty.PvIommu) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.GetLogicalDeviceProperty;
}

/// <summary>The <c>device_iommu</c> bits of the logical-device property output (brief §2.2).</summary>
[Flags]
public enum DeviceIommuFlags : ulong
{
    None = 0,

    /// <summary><c>HV_DEVICE_IOMMU_ENABLED</c>: the endpoint is managed by the pvIOMMU.</summary>
    Enabled = 1,
}

/// <summary><c>HVCALL_GET_LOGICAL_DEVICE_PROPERTY</c> output {u64 device_iommu; u64 reserved} (brief §2.2).</summary>
public sealed record GetLogicalDevicePropertyOutput(DeviceIommuFlags DeviceIommu)
{
    public bool IommuEnabled => (DeviceIommu & DeviceIommuFlags.Enabled) != 0;
}

/// <summary>
/// <c>HVCALL_CREATE_DEVICE_DOMAIN</c> input (brief §2.2): the domain plus flags forward_progress_required:1,
/// inherit_owning_vtl:1. The driver sets forward_progress_required.
/// </summary>
public sealed record CreateDeviceDomainInput(
    HvInputDeviceDomain Domain,
    bool ForwardProgressRequired = true,
    bool InheritOwningVtl = false) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.CreateDeviceDomain;
}

/// <summary>first_stage_paging_mode of the domain settings (brief §2.2): 0 = 4-level, 1 = 5-level.</summary>
public enum FirstStagePagingMode
{
    FourLevel = 0,
    FiveLevel = 1,
}

/// <summary>
/// Device-domain settings (brief §2.2, §4): translation off = identity (S2 only), blocked = every DMA faults,
/// otherwise paging with the stage-1 root at <see cref="PageTableRoot"/> (a GPA).
/// </summary>
public sealed record DeviceDomainSettings(
    bool TranslationEnabled,
    bool Blocked,
    FirstStagePagingMode FirstStagePagingMode,
    ulong PageTableRoot)
{
    public static DeviceDomainSettings Identity { get; } = new(false, false, FirstStagePagingMode.FourLevel, 0);

    /// <summary>The blocking domain as the driver configures it: translation_enabled = 1, blocked = 1 (brief §1.4; Hyper-V
    /// requires paging and blocked domains to keep translation enabled).</summary>
    public static DeviceDomainSettings BlockAll { get; } = new(true, true, FirstStagePagingMode.FourLevel, 0);

    public static DeviceDomainSettings Paging(ulong pageTableRootGpa, FirstStagePagingMode mode = FirstStagePagingMode.FourLevel) =>
        new(true, false, mode, pageTableRootGpa);
}

/// <summary><c>HVCALL_CONFIGURE_DEVICE_DOMAIN</c> input: the domain and its settings (brief §2.2).</summary>
public sealed record ConfigureDeviceDomainInput(HvInputDeviceDomain Domain, DeviceDomainSettings Settings) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.ConfigureDeviceDomain;
}

/// <summary><c>HVCALL_ATTACH_DEVICE_DOMAIN</c> input: the domain and the logical device id (brief §2.2).</summary>
public sealed record AttachDeviceDomainInput(HvInputDeviceDomain Domain, ulong DeviceId) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.AttachDeviceDomain;
}

/// <summary><c>HVCALL_DETACH_DEVICE_DOMAIN</c> input {u64 partition_id; u64 device_id}; RFC only (brief §2.2).</summary>
public sealed record DetachDeviceDomainInput(ulong PartitionId, ulong DeviceId) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.DetachDeviceDomain;
}

/// <summary><c>HVCALL_DELETE_DEVICE_DOMAIN</c> input (brief §2.2).</summary>
public sealed record DeleteDeviceDomainInput(HvInputDeviceDomain Domain) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.DeleteDeviceDomain;
}

/// <summary>
/// <c>HVCALL_FLUSH_DEVICE_DOMAIN</c> input {domain; u32 flags; u32 reserved} (brief §2.2, §2.4): domain-selective
/// invalidation of the IOTLB, walk caches and possibly device TLBs. The driver always passes flags 0.
/// </summary>
public sealed record FlushDeviceDomainInput(HvInputDeviceDomain Domain, uint Flags = 0) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.FlushDeviceDomain;
}

/// <summary>Flags of <c>HVCALL_FLUSH_DEVICE_DOMAIN_LIST</c> (brief §2.2).</summary>
[Flags]
public enum FlushDeviceDomainListFlags : uint
{
    None = 0,

    /// <summary><c>HV_FLUSH_DEVICE_DOMAIN_LIST_IOMMU_FORMAT</c>.</summary>
    IommuFormat = 1,
}

/// <summary>
/// <c>HVCALL_FLUSH_DEVICE_DOMAIN_LIST</c> rep-call input (brief §2.2, §1.10): page-selective flush of the blocks
/// in <see cref="IovaList"/>, one rep per entry.
/// </summary>
public sealed record FlushDeviceDomainListInput(
    HvInputDeviceDomain Domain,
    FlushDeviceDomainListFlags Flags,
    ImmutableArray<FlushVa> IovaList) : IHypercallInput
{
    public HypercallCode Code => HypercallCode.FlushDeviceDomainList;
}
