namespace HvIommu.Model.Hypercalls;

/// <summary>
/// Hyper-V hypercall call codes used by the pvIOMMU guest driver and the related root-side calls
/// (brief §2.2; <c>include/hyperv/hvgdk_mini.h</c>). Values are the ABI values.
/// </summary>
public enum HypercallCode : ushort
{
    CreateDeviceDomain = 0x00B1,
    AttachDeviceDomain = 0x00B2,
    DetachDeviceDomain = 0x00C4,
    DeleteDeviceDomain = 0x00C5,
    QueryDeviceDomain = 0x00C6,
    MapSparseDeviceGpaPages = 0x00C7,
    UnmapSparseDeviceGpaPages = 0x00C8,
    ConfigureDeviceDomain = 0x00CE,
    FlushDeviceDomain = 0x00D0,
    FlushDeviceDomainList = 0x00D1,
    GetIommuCapabilities = 0x0125,
    GetLogicalDeviceProperty = 0x0127,
}

public static class HypercallCodeExtensions
{
    private static readonly AbiNames<HypercallCode> Names = new("HVCALL_");

    /// <summary>The Linux macro name, e.g. <c>HVCALL_FLUSH_DEVICE_DOMAIN</c>.</summary>
    public static string LinuxName(this HypercallCode code) => Names.LinuxName(code);

    /// <summary>Only <c>HVCALL_FLUSH_DEVICE_DOMAIN_LIST</c> is a rep call among these (brief §2.1).</summary>
    public static bool IsRepCall(this HypercallCode code) => code == HypercallCode.FlushDeviceDomainList;

    /// <summary>Parses "FlushDeviceDomain" or "HVCALL_FLUSH_DEVICE_DOMAIN" (case-insensitive); false for anything else.</summary>
    public static bool TryParse(string? name, out HypercallCode code) => Names.TryParse(name, out code);
}
