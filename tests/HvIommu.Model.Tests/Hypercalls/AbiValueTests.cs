using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Tests.Hypercalls;

/// <summary>Every ABI number and name checked against brief §1.8, §2.2 and §2.3.</summary>
[Trait("Category", "Model")]
public class AbiValueTests
{
    [Theory]
    [InlineData(HypercallCode.GetIommuCapabilities, 0x0125, "HVCALL_GET_IOMMU_CAPABILITIES")]
    [InlineData(HypercallCode.GetLogicalDeviceProperty, 0x0127, "HVCALL_GET_LOGICAL_DEVICE_PROPERTY")]
    [InlineData(HypercallCode.CreateDeviceDomain, 0x00B1, "HVCALL_CREATE_DEVICE_DOMAIN")]
    [InlineData(HypercallCode.ConfigureDeviceDomain, 0x00CE, "HVCALL_CONFIGURE_DEVICE_DOMAIN")]
    [InlineData(HypercallCode.AttachDeviceDomain, 0x00B2, "HVCALL_ATTACH_DEVICE_DOMAIN")]
    [InlineData(HypercallCode.DetachDeviceDomain, 0x00C4, "HVCALL_DETACH_DEVICE_DOMAIN")]
    [InlineData(HypercallCode.DeleteDeviceDomain, 0x00C5, "HVCALL_DELETE_DEVICE_DOMAIN")]
    [InlineData(HypercallCode.FlushDeviceDomain, 0x00D0, "HVCALL_FLUSH_DEVICE_DOMAIN")]
    [InlineData(HypercallCode.FlushDeviceDomainList, 0x00D1, "HVCALL_FLUSH_DEVICE_DOMAIN_LIST")]
    [InlineData(HypercallCode.QueryDeviceDomain, 0x00C6, "HVCALL_QUERY_DEVICE_DOMAIN")]
    [InlineData(HypercallCode.MapSparseDeviceGpaPages, 0x00C7, "HVCALL_MAP_SPARSE_DEVICE_GPA_PAGES")]
    [InlineData(HypercallCode.UnmapSparseDeviceGpaPages, 0x00C8, "HVCALL_UNMAP_SPARSE_DEVICE_GPA_PAGES")]
    public void Hypercall_codes_match_the_abi(HypercallCode code, int value, string linuxName)
    {
        Assert.Equal(value, (int)code);
        Assert.Equal(linuxName, code.LinuxName());
        Assert.True(HypercallCodeExtensions.TryParse(linuxName, out var parsed));
        Assert.Equal(code, parsed);
    }

    [Fact]
    public void Every_hypercall_code_is_covered() => Assert.Equal(12, Enum.GetValues<HypercallCode>().Length);

    [Fact]
    public void Only_the_list_flush_is_a_rep_call() =>
        Assert.Equal([HypercallCode.FlushDeviceDomainList], Enum.GetValues<HypercallCode>().Where(c => c.IsRepCall()));

    [Theory]
    [InlineData(HvStatus.Success, 0x0000, "HV_STATUS_SUCCESS")]
    [InlineData(HvStatus.InvalidHypercallCode, 0x0002, "HV_STATUS_INVALID_HYPERCALL_CODE")]
    [InlineData(HvStatus.InvalidHypercallInput, 0x0003, "HV_STATUS_INVALID_HYPERCALL_INPUT")]
    [InlineData(HvStatus.InvalidAlignment, 0x0004, "HV_STATUS_INVALID_ALIGNMENT")]
    [InlineData(HvStatus.InvalidParameter, 0x0005, "HV_STATUS_INVALID_PARAMETER")]
    [InlineData(HvStatus.AccessDenied, 0x0006, "HV_STATUS_ACCESS_DENIED")]
    [InlineData(HvStatus.InvalidPartitionState, 0x0007, "HV_STATUS_INVALID_PARTITION_STATE")]
    [InlineData(HvStatus.OperationDenied, 0x0008, "HV_STATUS_OPERATION_DENIED")]
    [InlineData(HvStatus.InsufficientMemory, 0x000B, "HV_STATUS_INSUFFICIENT_MEMORY")]
    [InlineData(HvStatus.InvalidPartitionId, 0x000D, "HV_STATUS_INVALID_PARTITION_ID")]
    [InlineData(HvStatus.NotFound, 0x0010, "HV_STATUS_NOT_FOUND")]
    [InlineData(HvStatus.InsufficientDeviceDomains, 0x0038, "HV_STATUS_INSUFFICIENT_DEVICE_DOMAINS")]
    [InlineData(HvStatus.InvalidDeviceId, 0x0057, "HV_STATUS_INVALID_DEVICE_ID")]
    [InlineData(HvStatus.InvalidDeviceState, 0x0058, "HV_STATUS_INVALID_DEVICE_STATE")]
    [InlineData(HvStatus.PendingPageRequests, 0x0059, "HV_STATUS_PENDING_PAGE_REQUESTS")]
    [InlineData(HvStatus.PageRequestInvalid, 0x0060, "HV_STATUS_PAGE_REQUEST_INVALID")]
    [InlineData(HvStatus.DeviceAlreadyInDomain, 0x0066, "HV_STATUS_DEVICE_ALREADY_IN_DOMAIN")]
    [InlineData(HvStatus.OperationFailed, 0x0071, "HV_STATUS_OPERATION_FAILED")]
    [InlineData(HvStatus.InsufficientRootMemory, 0x0073, "HV_STATUS_INSUFFICIENT_ROOT_MEMORY")]
    [InlineData(HvStatus.CallPending, 0x0079, "HV_STATUS_CALL_PENDING")]
    public void Status_codes_match_the_abi(HvStatus status, int value, string linuxName)
    {
        Assert.Equal(value, (int)status);
        Assert.Equal(linuxName, status.LinuxName());
    }

    [Fact]
    public void Every_status_of_section_2_3_is_covered() => Assert.Equal(20, Enum.GetValues<HvStatus>().Length);

    [Fact]
    public void An_undefined_status_is_named_by_its_number() => Assert.Equal("0x0042", ((HvStatus)0x42).LinuxName());

    [Theory]
    [InlineData("InvalidParameter", HvStatus.InvalidParameter)]
    [InlineData("invalidparameter", HvStatus.InvalidParameter)]
    [InlineData("HV_STATUS_INVALID_PARAMETER", HvStatus.InvalidParameter)]
    [InlineData("hv_status_device_already_in_domain", HvStatus.DeviceAlreadyInDomain)]
    [InlineData(" OperationFailed ", HvStatus.OperationFailed)]
    public void Status_parses_from_either_spelling(string name, HvStatus expected)
    {
        Assert.True(HvStatusExtensions.TryParse(name, out var status));
        Assert.Equal(expected, status);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("HV_STATUS_NO_SUCH_THING")]
    [InlineData("INVALID_PARAMETER_X")]
    public void Unknown_status_names_do_not_parse(string? name) => Assert.False(HvStatusExtensions.TryParse(name, out _));

    [Fact]
    public void Capability_bits_are_bits_0_to_6()
    {
        Assert.Equal(1UL, (ulong)IommuCapabilities.Present);
        Assert.Equal(2UL, (ulong)IommuCapabilities.S2);
        Assert.Equal(4UL, (ulong)IommuCapabilities.S1);
        Assert.Equal(8UL, (ulong)IommuCapabilities.S1FiveLevel);
        Assert.Equal(0x10UL, (ulong)IommuCapabilities.Pasid);
        Assert.Equal(0x20UL, (ulong)IommuCapabilities.Ats);
        Assert.Equal(0x40UL, (ulong)IommuCapabilities.Pri);
    }

    [Fact]
    public void Small_abi_constants()
    {
        Assert.Equal(10u, (uint)LogicalDeviceProperty.PvIommu);
        Assert.Equal(1UL, (ulong)DeviceIommuFlags.Enabled);
        Assert.Equal(1u, (uint)FlushDeviceDomainListFlags.IommuFormat);
        Assert.Equal(1u, (uint)DeviceDomainType.S1);
        Assert.Equal(0, (int)FirstStagePagingMode.FourLevel);
        Assert.Equal(1, (int)FirstStagePagingMode.FiveLevel);
        Assert.Equal(ulong.MaxValue, HvInputDeviceDomain.PartitionIdSelf);
    }
}
