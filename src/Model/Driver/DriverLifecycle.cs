using System.Collections.Immutable;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>One step of the driver's teardown after the workload (brief §1.5, §1.6).</summary>
public enum TeardownStep
{
    /// <summary>release_device for every attached device (DETACH; later revisions disable ATS first), then a domain
    /// flush of every paging domain.</summary>
    ReleaseDevices,
    /// <summary>The fault driver: misbehaving devices replay their recent descriptors now (H10's window).</summary>
    ProdDevices,
    /// <summary>iommu_put_dma_cookie → iommu_dma_free_fq: the table pages parked in the flush queues are freed with no
    /// flush (safe only once the devices are released and the domains flushed).</summary>
    FreeFlushQueues,
    /// <summary>hv_iommu_paging_domain_free for every paging domain: pt_iommu_deinit, then DELETE (what to do with each:
    /// <see cref="TeardownLedger.FreePagingDomain"/>).</summary>
    FreePagingDomains,
    /// <summary>The fault driver again, only when tables were just freed under a device the host refused to detach
    /// (lifecycle.keep-tables-when-detach-fails = off, the RFC's teardown): its DMA now walks the freed tables (H10).
    /// Performed only when <see cref="TeardownLedger.Performs"/> says so.</summary>
    ProdDevicesOnFreedTables,
    /// <summary>DELETE the blocking, then the identity domain.</summary>
    DeleteStaticDomains,
}

/// <summary>One step of moving a device between domains (brief §1.6, §5.5; H9).</summary>
public enum DomainSwitchStep
{
    /// <summary>pci_disable_ats before the device goes to the blocking domain (later revisions, §1.10).</summary>
    DisableAts,
    /// <summary>HVCALL_DETACH_DEVICE_DOMAIN.</summary>
    Detach,
    /// <summary>HVCALL_FLUSH_DEVICE_DOMAIN of the domain the device leaves.</summary>
    FlushOld,
    /// <summary>HVCALL_ATTACH_DEVICE_DOMAIN to the new domain (replaces the old one when no DETACH came first).</summary>
    Attach,
    /// <summary>pci_enable_ats once the device is in a translating domain again.</summary>
    EnableAts,
}

/// <summary>
/// The driver's lifecycle sequences as data, as <see cref="InitUnwindPlan"/> does for init's error path, so the vCPU
/// actor only performs them: the teardown order (H10: pt_iommu_deinit and DELETE while devices are still attached;
/// H16: nothing after a failed init) and the domain switch (H9: the RFC's DETACH → FLUSH(old) → ATTACH(new), or later
/// revisions' ATTACH(new) → FLUSH(old), with ATS disabled around the blocking domain or not). Plans are cached arrays.
/// </summary>
public static class DriverLifecycle
{
    private static readonly ImmutableArray<TeardownStep> Teardown =
        [TeardownStep.ReleaseDevices, TeardownStep.ProdDevices, TeardownStep.FreeFlushQueues, TeardownStep.FreePagingDomains,
         TeardownStep.ProdDevicesOnFreedTables, TeardownStep.DeleteStaticDomains];

    private static readonly ImmutableArray<TeardownStep> TeardownFreeFirst =
        [TeardownStep.FreeFlushQueues, TeardownStep.FreePagingDomains, TeardownStep.ProdDevices, TeardownStep.ReleaseDevices, TeardownStep.DeleteStaticDomains];

    private static readonly ImmutableArray<DomainSwitchStep>[] SwitchPlans = BuildSwitchPlans();

    /// <summary>
    /// The teardown after the workload: release the devices (detach, flush), let misbehaving devices replay, free the
    /// flush queues' parked tables, free the paging domains (and prod the devices again if that freed tables under a device
    /// the host refused to detach), delete the static domains. Empty after a failed init
    /// (what the error path left is what leaks, H16). <see cref="LifecycleSettings.FreeDomainBeforeDetach"/> (H10)
    /// frees the flush queues and the paging domains first, so the devices' stale DMA (the prod, which comes next in any
    /// case) meets freed tables.
    /// </summary>
    public static ImmutableArray<TeardownStep> TeardownPlan(LifecycleSettings life, bool initFailed) =>
        initFailed ? [] : life.FreeDomainBeforeDetach ? TeardownFreeFirst : Teardown;

    /// <summary>
    /// Whether vCPU <paramref name="vcpu"/> moves the switched device now, having completed
    /// <paramref name="opsSinceSwitch"/> operations (this one included) since the last move: only vCPU 0 switches,
    /// every <see cref="LifecycleSettings.DomainSwitchEveryOps"/> operations, and never with
    /// <see cref="DomainSwitchMode.None"/>.
    /// </summary>
    public static bool SwitchDue(LifecycleSettings life, int vcpu, long opsSinceSwitch) =>
        life.DomainSwitch != DomainSwitchMode.None && vcpu == 0 && opsSinceSwitch >= life.DomainSwitchEveryOps;

    /// <summary>The steps of moving a device to the blocking domain (<paramref name="toBlocking"/>) or to a paging
    /// domain, under <see cref="LifecycleSettings.DomainSwitch"/> (H9) and <see cref="LifecycleSettings.DisableAtsBeforeBlock"/>.
    /// Empty with <see cref="DomainSwitchMode.None"/>.</summary>
    public static ImmutableArray<DomainSwitchStep> SwitchPlan(LifecycleSettings life, bool toBlocking) =>
        life.DomainSwitch == DomainSwitchMode.None ? []
            : SwitchPlans[(life.DomainSwitch == DomainSwitchMode.DetachAttach ? 4 : 0) | (toBlocking ? 2 : 0) | (life.DisableAtsBeforeBlock ? 1 : 0)];

    private static ImmutableArray<DomainSwitchStep>[] BuildSwitchPlans()
    {
        var plans = new ImmutableArray<DomainSwitchStep>[8];
        for (var key = 0; key < 8; key++)
        {
            bool detachAttach = (key & 4) != 0, toBlocking = (key & 2) != 0, toggleAts = (key & 1) != 0;
            var steps = ImmutableArray.CreateBuilder<DomainSwitchStep>();
            if (toBlocking && toggleAts)
                steps.Add(DomainSwitchStep.DisableAts);
            if (detachAttach)
                steps.AddRange(DomainSwitchStep.Detach, DomainSwitchStep.FlushOld, DomainSwitchStep.Attach);
            else
                steps.AddRange(DomainSwitchStep.Attach, DomainSwitchStep.FlushOld);
            if (!toBlocking && toggleAts)
                steps.Add(DomainSwitchStep.EnableAts);
            plans[key] = steps.ToImmutable();
        }
        return plans;
    }
}
