namespace HvIommu.Model.Settings;

/// <summary>Which error path hv_iommu_init takes when a step fails (hazard H16, brief §1.3, §1.9).</summary>
public enum InitUnwinding
{
    /// <summary>Later revisions: err_sysfs_remove → err_delete_static_domains → err_free.</summary>
    Fixed,
    /// <summary>The RFC's goto targets: static-domain failure → err_sysfs_remove, sysfs failure → err_free.</summary>
    RfcV1,
}

/// <summary>The steps of hv_iommu_init that can fail (brief §1.3, §1.4), in the order they run.</summary>
public enum InitStep
{
    None,
    GetCapabilities,
    CreateIdentity,
    ConfigureIdentity,
    CreateBlocking,
    ConfigureBlocking,
    SysfsAdd,
    Register,
    /// <summary>After register: probe, default paging domains, attach (the IOMMU core's work, not hv_iommu_init's goto path).</summary>
    Probe,
}

/// <summary>How the guest moves a device between domains (hazard H9, brief §1.6, §5.5).</summary>
public enum DomainSwitchMode
{
    None,
    /// <summary>Later revisions: one ATTACH that replaces the old domain, then a flush of the old domain.</summary>
    AttachReplace,
    /// <summary>RFC: DETACH → FLUSH(old) → ATTACH(new), a non-atomic window with [UNKNOWN] translation.</summary>
    DetachAttach,
}

/// <summary>Guest driver lifecycle behaviour: init error path, domain switches, teardown order, early DMA (H9, H10, H11, H16).</summary>
/// <param name="AtsToggleInvalidatesAtc">Disabling ATS invalidates the device's ATC right after the endpoint stops
/// using it, and enabling ATS invalidates it right before (Linux arm-smmu-v3 arm_smmu_disable_ats /
/// arm_smmu_enable_ats); off: the ATC keeps what it held while ATS was off and serves it again once ATS is
/// re-enabled (H9).</param>
/// <param name="KeepTablesWhenDetachFails">At teardown, a paging domain a device could not be detached from keeps its
/// page tables and is not deleted (Xen's fix 7b658fd273f9: the IOMMU may still walk them); off, the RFC's teardown
/// frees them anyway (H10).</param>
/// <param name="SurpriseRemove">The device pulled out of its slot (link down, no orderly removal) during the run; "" =
/// none. From then on it issues no DMA and answers no ATS invalidation and no drain; its outstanding descriptors
/// complete with errors, as a driver's remove path aborts them.</param>
/// <param name="SurpriseRemoveAfter">The removal happens when the device is handed its N-th descriptor.</param>
/// <param name="QuarantineMovedDevice">On (the default, the safe behaviour): a device the domain switch would move into
/// a paging domain another device DMAs in goes to a quarantine domain (the blocking domain: every DMA faults) instead.
/// Linux never lets a device whose DMA-API driver is bound reach another paging domain (iommu.c
/// iommu_device_use_default_domain and __iommu_take_dma_ownership return -EBUSY while the group's domain is not its
/// default domain), and Xen since XSA-302 assigns a device deassigned from a guest to its quarantine domain dom_io
/// rather than to dom0. Off (H9): the device lands in the populated domain and its DMA with the old domain's IOVAs
/// reaches the other device's buffers there. A move into an empty paging domain or to blocking is not affected.</param>
/// <param name="SysfsDmaFqAfter">After this many of its operations vCPU 0 writes <c>DMA-FQ</c> to the IOMMU group type of
/// every strict paging domain (iommu.c iommu_group_store_type), bringing its flush queue up in place while DMA goes on;
/// 0 = never. Needs driver.dma-mode = strict.</param>
public sealed record LifecycleSettings(
    InitUnwinding InitUnwinding,
    InitStep FailInitStep,
    DomainSwitchMode DomainSwitch,
    int DomainSwitchEveryOps,
    string DomainSwitchTo,
    bool DisableAtsBeforeBlock,
    bool FreeDomainBeforeDetach,
    string EarlyDmaDevice,
    bool AtsToggleInvalidatesAtc = true,
    bool KeepTablesWhenDetachFails = false,
    string SurpriseRemove = "",
    int SurpriseRemoveAfter = 20,
    bool QuarantineMovedDevice = true,
    int SysfsDmaFqAfter = 0)
{
    /// <summary>The safe defaults of reference.conf.</summary>
    public static LifecycleSettings Safe { get; } = new(InitUnwinding.Fixed, InitStep.None, DomainSwitchMode.None, 8, "", true, false, "");
}

/// <summary>What the host applies to a device after HVCALL_DETACH_DEVICE_DOMAIN (brief §2.2, §8 q3, [UNKNOWN]).</summary>
public enum DetachedTranslation
{
    /// <summary>Every DMA faults (the safe guess).</summary>
    Blocked,
    /// <summary>DMA bypasses stage 1: IOVA taken as GPA, stage 2 only.</summary>
    Identity,
    /// <summary>The device keeps translating through its last domain's tables, but is no member of it any more.</summary>
    LastDomain,
}

/// <summary>Host behaviour the brief leaves [UNKNOWN] (§8 q2, q3, q4).</summary>
/// <param name="FlushCoversDepartedDevices">A domain flush also invalidates the ATCs of, and drains, devices that
/// left the domain since its last flush (by attach-as-replace or detach): their DMA translated in the old
/// domain may still be in flight (§8 q2, H9).</param>
/// <param name="S2MigrationEveryFlushes">0: the host never changes stage 2. N: after every N-th completed flush,
/// at a moment no device has DMA in flight, the host moves the frame of one live DMA mapping to a new host
/// frame (page migration, H14).</param>
/// <param name="S2ChangeInvalidatesIotlb">The host invalidates the combined (nested) IOTLB and ATC entries derived
/// from a stage-2 entry it changed; off is H14 (brief §4: entries are tagged with the guest's domain ids).</param>
/// <param name="AttachInvalidatesAtc">ATTACH and DETACH that change what an ATS-enabled device translates through
/// invalidate its ATC, as VT-d does when it reprograms a context entry (device-TLB flush after the context-cache
/// flush) and arm-smmu-v3 in arm_smmu_attach_commit; [UNKNOWN] for the pvIOMMU host. Off: the untagged ATC keeps
/// the old domain's translations after the device moved (H9).</param>
/// <param name="AttachLeavesOldDomain">A host bug (H9): ATTACH of a device that is in another domain adds it to the new
/// domain without taking it out of the old one, so the old domain's mappings stay reachable for the device
/// (cloud-hypervisor #6298: its virtio-iommu did not detach the endpoint from its old domain on ATTACH, which
/// virtio-iommu §5.13.6.3.2 requires). Off: ATTACH replaces (the safe default).</param>
public sealed record HostBehaviourSettings(DetachedTranslation DetachedTranslation, bool DeleteInvalidatesCaches, bool FlushCoversDepartedDevices = true,
    int S2MigrationEveryFlushes = 0, bool S2ChangeInvalidatesIotlb = true, bool AttachInvalidatesAtc = true, bool AttachLeavesOldDomain = false)
{
    public static HostBehaviourSettings Safe { get; } = new(DetachedTranslation.Blocked, true);
}
