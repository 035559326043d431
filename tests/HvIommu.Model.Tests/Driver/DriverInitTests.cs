using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Driver;

/// <summary>hv_iommu_init's order and its go / fail decisions on each answer (brief §1.3–§1.6; H16), without an actor system.</summary>
[Trait("Category", "Model")]
public sealed class DriverInitTests
{
    [Fact]
    public void Init_asks_for_capabilities_creates_then_configures_identity_then_blocking_then_registers_and_probes() =>
        Assert.Equal([InitStep.GetCapabilities, InitStep.CreateIdentity, InitStep.ConfigureIdentity, InitStep.CreateBlocking,
            InitStep.ConfigureBlocking, InitStep.SysfsAdd, InitStep.Register, InitStep.Probe], DriverInit.Plan.ToArray());

    [Fact]
    public void Init_needs_a_present_pviommu_with_stage_1()
    {
        Assert.Null(DriverInit.Capabilities(HvStatus.Success, IommuCapabilities.Present | IommuCapabilities.S1));
        Assert.Equal("the hypervisor reports no pvIOMMU with stage-1 support (-ENODEV)", DriverInit.Capabilities(HvStatus.Success, IommuCapabilities.Present));
        Assert.Equal("the hypervisor reports no pvIOMMU with stage-1 support (-ENODEV)", DriverInit.Capabilities(HvStatus.Success, IommuCapabilities.S1));
        Assert.StartsWith("HVCALL_GET_IOMMU_CAPABILITIES returned ", DriverInit.Capabilities(HvStatus.InvalidParameter, IommuCapabilities.Present | IommuCapabilities.S1));
        Assert.EndsWith("(-ENODEV)", DriverInit.Capabilities(HvStatus.Success, null));
    }

    [Fact]
    public void A_failed_domain_call_names_the_call_and_the_status_and_the_static_domain_it_was_for()
    {
        Assert.Null(DriverInit.DomainCall(create: true, HvStatus.Success));
        Assert.Equal("HVCALL_CREATE_DEVICE_DOMAIN: " + HvStatus.InsufficientMemory.LinuxName(), DriverInit.DomainCall(create: true, HvStatus.InsufficientMemory));
        Assert.Equal("HVCALL_CONFIGURE_DEVICE_DOMAIN: " + HvStatus.InvalidParameter.LinuxName(), DriverInit.DomainCall(create: false, HvStatus.InvalidParameter));
        Assert.Equal("identity", DriverInit.StaticDomain(InitStep.ConfigureIdentity));
        Assert.Equal("blocking", DriverInit.StaticDomain(InitStep.CreateBlocking));
        Assert.Null(DriverInit.StaticDomain(InitStep.Probe));
    }

    [Fact]
    public void H16_an_injected_guest_step_failure_fails_only_that_step()
    {
        var life = LifecycleSettings.Safe with { FailInitStep = InitStep.Register };
        Assert.Null(DriverInit.GuestStep(InitStep.SysfsAdd, life));
        Assert.Equal("iommu_device_register failed (injected, lifecycle.fail-init-step)", DriverInit.GuestStep(InitStep.Register, life));
        Assert.Equal("iommu_device_sysfs_add failed (injected, lifecycle.fail-init-step)",
            DriverInit.GuestStep(InitStep.SysfsAdd, life with { FailInitStep = InitStep.SysfsAdd }));
        Assert.Null(DriverInit.GuestStep(InitStep.Register, LifecycleSettings.Safe));
    }

    [Fact]
    public void Attaching_a_device_already_in_its_domain_is_no_failure()
    {
        Assert.Null(DriverInit.Attach("nic", HvStatus.Success));
        Assert.Null(DriverInit.Attach("nic", HvStatus.DeviceAlreadyInDomain));
        Assert.Equal("attach of nic: " + HvStatus.InvalidDeviceState.LinuxName(), DriverInit.Attach("nic", HvStatus.InvalidDeviceState));
    }

    [Fact]
    public void Only_a_lazy_domain_falls_back_to_strict_when_its_flush_queue_cannot_be_set_up()
    {
        var fails = DriverSettingsWith(initFails: true);
        Assert.True(DriverInit.FallsBackToStrict(lazy: true, fails));
        Assert.False(DriverInit.FallsBackToStrict(lazy: false, fails));
        Assert.False(DriverInit.FallsBackToStrict(lazy: true, DriverSettingsWith(initFails: false)));
    }

    private static DriverSettings DriverSettingsWith(bool initFails) => new(DmaMode.Lazy, TableDepthRule.TopLevel, FlushKind.Domain, 256, TimeSpan.FromMilliseconds(10), FlushFailurePolicy.Log, DriverHazards.None,
        FlushQueueInitFails: initFails);
}
