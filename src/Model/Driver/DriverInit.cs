using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>
/// hv_iommu_init and the IOMMU core's bring-up as data (brief §1.3–§1.6), so the vCPU only performs the hypercalls:
/// the order of the steps (<see cref="Plan"/>), and for each answer whether init goes on or fails, with the reason the
/// driver logs (the Linux errno in parentheses where hv_iommu_init returns one). What to undo after a failure is
/// <see cref="InitUnwindPlan"/>'s; which devices are managed is <see cref="DeviceProbe"/>'s.
/// </summary>
public static class DriverInit
{
    /// <summary>The steps in order: capabilities, the identity then the blocking domain (create, configure:
    /// hv_initialize_static_domains), iommu_device_sysfs_add, iommu_device_register, then <see cref="InitStep.Probe"/>
    /// (bus_iommu_probe, the default paging domains, ATTACH).</summary>
    public static ImmutableArray<InitStep> Plan { get; } =
    [
        InitStep.GetCapabilities, InitStep.CreateIdentity, InitStep.ConfigureIdentity, InitStep.CreateBlocking,
        InitStep.ConfigureBlocking, InitStep.SysfsAdd, InitStep.Register, InitStep.Probe,
    ];

    /// <summary>The static domain a create or configure step is about (identity or blocking), or null.</summary>
    public static string? StaticDomain(InitStep step) => step switch
    {
        InitStep.CreateIdentity or InitStep.ConfigureIdentity => "identity",
        InitStep.CreateBlocking or InitStep.ConfigureBlocking => "blocking",
        _ => null,
    };

    /// <summary>HVCALL_GET_IOMMU_CAPABILITIES answered <paramref name="status"/> with <paramref name="caps"/> (null: no
    /// output): null to go on, else why init fails — it needs a present pvIOMMU with stage 1 (-ENODEV otherwise).</summary>
    public static string? Capabilities(HvStatus status, IommuCapabilities? caps) =>
        status != HvStatus.Success || caps is not { } c ? $"HVCALL_GET_IOMMU_CAPABILITIES returned {status.LinuxName()} (-ENODEV)"
        : !c.HasFlag(IommuCapabilities.Present) || !c.HasFlag(IommuCapabilities.S1) ? "the hypervisor reports no pvIOMMU with stage-1 support (-ENODEV)"
        : null;

    /// <summary>A create (<paramref name="create"/>) or configure call of a domain answered <paramref name="status"/>:
    /// null to go on, else the failed call and its status.</summary>
    public static string? DomainCall(bool create, HvStatus status) =>
        status == HvStatus.Success ? null : (create ? "HVCALL_CREATE_DEVICE_DOMAIN: " : "HVCALL_CONFIGURE_DEVICE_DOMAIN: ") + status.LinuxName();

    /// <summary>The guest-side step <paramref name="step"/> (iommu_device_sysfs_add, iommu_device_register) fails when
    /// lifecycle.fail-init-step names it (H16): the reason, or null.</summary>
    public static string? GuestStep(InitStep step, LifecycleSettings life) =>
        life.FailInitStep != step ? null
        : (step == InitStep.SysfsAdd ? "iommu_device_sysfs_add" : "iommu_device_register") + " failed (injected, lifecycle.fail-init-step)";

    /// <summary>ATTACH of <paramref name="device"/> to its default domain answered <paramref name="status"/>: already in the
    /// domain is no failure (the default domain may have been attached at probe).</summary>
    public static string? Attach(string device, HvStatus status) =>
        status is HvStatus.Success or HvStatus.DeviceAlreadyInDomain ? null : $"attach of {device}: {status.LinuxName()}";

    /// <summary>iommu_dma_init_fq fails for a lazy (DMA_FQ) domain when driver.flush-queue.init-fails is on: the domain
    /// falls back to strict (dma-iommu.c iommu_dma_init_domain, "If the FQ fails we can simply fall back to strict mode").</summary>
    public static bool FallsBackToStrict(bool lazy, DriverSettings driver) => lazy && driver.FlushQueueInitFails;
}
