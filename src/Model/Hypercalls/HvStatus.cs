namespace HvIommu.Model.Hypercalls;

/// <summary>
/// Hyper-V hypercall result status (HV_STATUS, 16 bits), every value listed in brief §2.3.
/// Which call returns which status is [UNKNOWN]; the simulated hypervisor chooses per §2.3's plausible mapping.
/// </summary>
public enum HvStatus : ushort
{
    Success = 0x0000,
    InvalidHypercallCode = 0x0002,
    InvalidHypercallInput = 0x0003,
    InvalidAlignment = 0x0004,
    InvalidParameter = 0x0005,
    AccessDenied = 0x0006,
    InvalidPartitionState = 0x0007,
    OperationDenied = 0x0008,
    InsufficientMemory = 0x000B,
    InvalidPartitionId = 0x000D,
    NotFound = 0x0010,
    InsufficientDeviceDomains = 0x0038,
    InvalidDeviceId = 0x0057,
    InvalidDeviceState = 0x0058,
    PendingPageRequests = 0x0059,
    PageRequestInvalid = 0x0060,
    DeviceAlreadyInDomain = 0x0066,
    OperationFailed = 0x0071,
    InsufficientRootMemory = 0x0073,
    CallPending = 0x0079,
}

public static class HvStatusExtensions
{
    private static readonly AbiNames<HvStatus> Names = new("HV_STATUS_");

    /// <summary>The Linux macro name, e.g. <c>HV_STATUS_INVALID_PARAMETER</c>.</summary>
    public static string LinuxName(this HvStatus status) => Names.LinuxName(status);

    public static bool IsSuccess(this HvStatus status) => status == HvStatus.Success;

    /// <summary>
    /// Parses a status named in configuration: "InvalidParameter" or "HV_STATUS_INVALID_PARAMETER",
    /// case-insensitive. Numbers and unknown names give false.
    /// </summary>
    public static bool TryParse(string? name, out HvStatus status) => Names.TryParse(name, out status);
}
