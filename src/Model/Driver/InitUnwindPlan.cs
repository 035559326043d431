using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>One cleanup action of hv_iommu_init's error path (brief §1.3, §1.4, §1.9).</summary>
public enum InitCleanup
{
    /// <summary>iommu_device_unregister's release_device for every probed device (the RFC's detach).</summary>
    ReleaseDevices,
    /// <summary>HVCALL_DELETE_DEVICE_DOMAIN of the blocking domain.</summary>
    DeleteBlocking,
    /// <summary>HVCALL_DELETE_DEVICE_DOMAIN of the identity domain.</summary>
    DeleteIdentity,
    /// <summary>Free the default paging domains created during probe (pt_iommu_deinit, then DELETE).</summary>
    FreePagingDomains,
    /// <summary>iommu_device_sysfs_remove.</summary>
    SysfsRemove,
    /// <summary>kfree(hv_iommu).</summary>
    FreeDevice,
}

/// <summary>
/// The init error path as a pure function (hazard H16): which cleanups run, in order, when a step fails
/// under a given unwinding. hv_initialize_static_domains unwinds its own domains in both versions (§1.4:
/// a failed blocking create deletes identity, a failed blocking configure deletes both); the versions differ
/// in hv_iommu_init's goto targets (§1.3 steps 5–7, §1.9, the review mail of 10 Dec 2025).
/// </summary>
public static class InitUnwindPlan
{
    public static ImmutableArray<InitCleanup> For(InitStep failed, InitUnwinding mode)
    {
        var rfc = mode == InitUnwinding.RfcV1;
        return failed switch
        {
            InitStep.None or InitStep.GetCapabilities => [],
            // Static-domain failures: the helper's own unwinding, then "goto err_sysfs_remove" in the RFC
            // (sysfs was never added — the bug Easwar found) or "goto err_free" in later revisions.
            InitStep.CreateIdentity => StaticTail(rfc),
            InitStep.ConfigureIdentity or InitStep.CreateBlocking => [InitCleanup.DeleteIdentity, .. StaticTail(rfc)],
            InitStep.ConfigureBlocking => [InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity, .. StaticTail(rfc)],
            // sysfs_add failed: the RFC jumps to err_free and leaks both static domains.
            InitStep.SysfsAdd => rfc ? [InitCleanup.FreeDevice] : [InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity, InitCleanup.FreeDevice],
            // register failed: the RFC has no label that deletes the static domains.
            InitStep.Register => rfc
                ? [InitCleanup.SysfsRemove, InitCleanup.FreeDevice]
                : [InitCleanup.SysfsRemove, InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity, InitCleanup.FreeDevice],
            // Probing inside iommu_device_register failed: the core unwinds its own work (iommu_device_unregister
            // releases the probed devices, detaching them, and frees their default domains), then register
            // returns the error and hv_iommu_init takes the same label as for a register failure — in the RFC
            // err_sysfs_remove → err_free, which leaks both static domains.
            InitStep.Probe => rfc
                ? [InitCleanup.ReleaseDevices, InitCleanup.FreePagingDomains, InitCleanup.SysfsRemove, InitCleanup.FreeDevice]
                : [InitCleanup.ReleaseDevices, InitCleanup.FreePagingDomains, InitCleanup.SysfsRemove, InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity, InitCleanup.FreeDevice],
            _ => throw new ArgumentOutOfRangeException(nameof(failed), failed, null),
        };
    }

    /// <summary>The static domains that exist in the hypervisor when <paramref name="failed"/> fails.</summary>
    public static ImmutableArray<InitCleanup> StaticDomainsAlive(InitStep failed) => failed switch
    {
        InitStep.ConfigureIdentity or InitStep.CreateBlocking => [InitCleanup.DeleteIdentity],
        InitStep.ConfigureBlocking or InitStep.SysfsAdd or InitStep.Register or InitStep.Probe => [InitCleanup.DeleteBlocking, InitCleanup.DeleteIdentity],
        _ => [],
    };

    /// <summary>Whether sysfs was added before <paramref name="failed"/> failed.</summary>
    public static bool SysfsAdded(InitStep failed) => failed is InitStep.Register or InitStep.Probe;

    /// <summary>
    /// Whether <paramref name="cleanup"/> undoes a step that had not happened when <paramref name="failed"/> failed
    /// (the reviewer's first point: err_sysfs_remove reached before iommu_device_sysfs_add ran calls
    /// iommu_device_sysfs_remove on a device never added — a NULL dereference at boot in the real kernel).
    /// </summary>
    public static bool UndoesStepNeverDone(InitStep failed, InitCleanup cleanup) => cleanup switch
    {
        InitCleanup.SysfsRemove => !SysfsAdded(failed),
        InitCleanup.DeleteBlocking or InitCleanup.DeleteIdentity => !StaticDomainsAlive(failed).Contains(cleanup),
        InitCleanup.ReleaseDevices or InitCleanup.FreePagingDomains => failed != InitStep.Probe,
        InitCleanup.FreeDevice => failed is InitStep.None or InitStep.GetCapabilities,
        _ => false,
    };

    /// <summary>The error-path label a cleanup runs under (the RFC's and later revisions' names).</summary>
    public static string Label(InitCleanup cleanup) => cleanup switch
    {
        InitCleanup.SysfsRemove => "err_sysfs_remove",
        InitCleanup.DeleteBlocking or InitCleanup.DeleteIdentity => "err_delete_static_domains",
        InitCleanup.FreeDevice => "err_free",
        _ => "iommu_device_unregister",
    };

    /// <summary>What the cleanup calls, as the kernel names it.</summary>
    public static string Call(InitCleanup cleanup) => cleanup switch
    {
        InitCleanup.SysfsRemove => "iommu_device_sysfs_remove()",
        InitCleanup.DeleteBlocking => "HVCALL_DELETE_DEVICE_DOMAIN of the blocking domain",
        InitCleanup.DeleteIdentity => "HVCALL_DELETE_DEVICE_DOMAIN of the identity domain",
        InitCleanup.FreeDevice => "kfree(hv_iommu)",
        InitCleanup.ReleaseDevices => "release_device",
        _ => "hv_iommu_paging_domain_free",
    };

    /// <summary>Static domains the plan leaves behind in the hypervisor (the H16 leak).</summary>
    public static int LeakedStaticDomains(InitStep failed, InitUnwinding mode) =>
        StaticDomainsAlive(failed).Count(d => !For(failed, mode).Contains(d));

    /// <summary>The hypercall, and its occurrence during init (1-based), that a deterministic fault at
    /// <paramref name="step"/> fails; null for guest-side steps (sysfs, register) and None.</summary>
    public static (HypercallCode Call, int Occurrence)? HypercallOf(InitStep step) => step switch
    {
        InitStep.GetCapabilities => (HypercallCode.GetIommuCapabilities, 1),
        InitStep.CreateIdentity => (HypercallCode.CreateDeviceDomain, 1),
        InitStep.ConfigureIdentity => (HypercallCode.ConfigureDeviceDomain, 1),
        InitStep.CreateBlocking => (HypercallCode.CreateDeviceDomain, 2),
        InitStep.ConfigureBlocking => (HypercallCode.ConfigureDeviceDomain, 2),
        // The first ATTACH of a probed device to its default domain (inside iommu_device_register's probe).
        InitStep.Probe => (HypercallCode.AttachDeviceDomain, 1),
        _ => null,
    };

    /// <summary>The status a deterministic init fault returns (the brief's plausible mapping, §2.3).</summary>
    public static HvStatus FaultStatus(HypercallCode call) =>
        call == HypercallCode.CreateDeviceDomain ? HvStatus.InsufficientDeviceDomains : HvStatus.OperationFailed;

    private static ImmutableArray<InitCleanup> StaticTail(bool rfc) => rfc ? [InitCleanup.SysfsRemove, InitCleanup.FreeDevice] : [InitCleanup.FreeDevice];
}
