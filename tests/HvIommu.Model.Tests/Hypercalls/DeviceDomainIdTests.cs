using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Tests.Hypercalls;

[Trait("Category", "Model")]
public class DeviceDomainIdTests
{
    [Fact]
    public void Packs_type_in_low_dword_and_id_in_high_dword()
    {
        var id = DeviceDomainId.S1(0x1234_5678);
        Assert.Equal(0x1234_5678_0000_0001UL, id.Pack());
        Assert.True(DeviceDomainId.TryUnpack(id.Pack(), out var back));
        Assert.Equal(id, back);
    }

    [Fact]
    public void Reserved_type_bits_are_refused() => Assert.False(DeviceDomainId.TryUnpack(0x10, out _));

    [Theory]
    [InlineData(DeviceDomainId.Default, false)]
    [InlineData(DeviceDomainId.Null, false)]
    [InlineData(1u, true)]
    [InlineData(0xFFFF_FFFEu, true)]
    public void Guests_allocate_ids_between_default_and_null(uint id, bool allocatable)
    {
        Assert.Equal(0u, DeviceDomainId.Default);
        Assert.Equal(0xFFFF_FFFFu, DeviceDomainId.Null);
        Assert.Equal(allocatable, DeviceDomainId.S1(id).IsGuestAllocatable);
    }

    [Fact]
    public void Inputs_name_their_call()
    {
        var domain = HvInputDeviceDomain.Self(DeviceDomainId.S1(7));
        IHypercallInput[] inputs =
        [
            new GetIommuCapabilitiesInput(),
            new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, 0x44556673),
            new CreateDeviceDomainInput(domain),
            new ConfigureDeviceDomainInput(domain, DeviceDomainSettings.Paging(0x1000)),
            new AttachDeviceDomainInput(domain, 0x44556673),
            new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, 0x44556673),
            new DeleteDeviceDomainInput(domain),
            new FlushDeviceDomainInput(domain),
            new FlushDeviceDomainListInput(domain, FlushDeviceDomainListFlags.None, [new FlushVa(0, 0)]),
        ];
        Assert.Equal(
            [
                HypercallCode.GetIommuCapabilities, HypercallCode.GetLogicalDeviceProperty, HypercallCode.CreateDeviceDomain,
                HypercallCode.ConfigureDeviceDomain, HypercallCode.AttachDeviceDomain, HypercallCode.DetachDeviceDomain,
                HypercallCode.DeleteDeviceDomain, HypercallCode.FlushDeviceDomain, HypercallCode.FlushDeviceDomainList,
            ],
            inputs.Select(i => i.Code));
        Assert.Equal(LogicalDeviceProperty.PvIommu, ((GetLogicalDevicePropertyInput)inputs[1]).PropertyCode);
        Assert.True(((CreateDeviceDomainInput)inputs[2]).ForwardProgressRequired);
    }

    [Fact]
    public void Settings_presets_match_identity_blocked_and_paging()
    {
        Assert.False(DeviceDomainSettings.Identity.TranslationEnabled);
        Assert.False(DeviceDomainSettings.Identity.Blocked);
        Assert.True(DeviceDomainSettings.BlockAll.Blocked);
        var paging = DeviceDomainSettings.Paging(0x5000, FirstStagePagingMode.FiveLevel);
        Assert.True(paging.TranslationEnabled);
        Assert.Equal(0x5000UL, paging.PageTableRoot);
        Assert.Equal(FirstStagePagingMode.FiveLevel, paging.FirstStagePagingMode);
    }

    [Fact]
    public void Logical_device_property_output_reads_the_enabled_bit()
    {
        Assert.True(new GetLogicalDevicePropertyOutput(DeviceIommuFlags.Enabled).IommuEnabled);
        Assert.False(new GetLogicalDevicePropertyOutput(DeviceIommuFlags.None).IommuEnabled);
    }

    [Fact]
    public void Logical_device_id_uses_guid_bytes_4_to_7_and_the_function()
    {
        // ToByteArray of 00112233-4455-6677-8899-aabbccddeeff: 33 22 11 00 | 55 44 | 77 66 | 88 99 ...
        // so b[4]=0x55 b[5]=0x44 b[6]=0x77 b[7]=0x66 → 0x44 0x55 0x66 (0x77 & 0xf8 = 0x70) | 3.
        var guid = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        Assert.Equal(0x4455_6673UL, LogicalDeviceId.BuildLogicalDeviceId(guid, 3));
        Assert.Equal(0x4455_6670UL, LogicalDeviceId.BuildLogicalDeviceId(guid, 0));
    }

    [Fact]
    public void Logical_device_ids_alias_when_only_other_guid_bytes_differ()
    {
        // H13: bytes 0-3 and 8-15 take no part.
        var a = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var b = Guid.Parse("ffffffff-4455-6677-0000-000000000000");
        Assert.Equal(LogicalDeviceId.BuildLogicalDeviceId(a, 1), LogicalDeviceId.BuildLogicalDeviceId(b, 1));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(8)]
    public void Pci_function_is_0_to_7(int function) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => LogicalDeviceId.BuildLogicalDeviceId(Guid.Empty, function));

    [Fact]
    public void List_flush_input_keeps_its_entries()
    {
        var input = new FlushDeviceDomainListInput(
            HvInputDeviceDomain.Self(DeviceDomainId.S1(2)), FlushDeviceDomainListFlags.IommuFormat,
            ImmutableArray.Create(new FlushVa(0x200, 9)));
        Assert.Single(input.IovaList);
        Assert.Equal(HvInputDeviceDomain.PartitionIdSelf, input.Domain.PartitionId);
    }
}
