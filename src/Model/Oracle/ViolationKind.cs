namespace HvIommu.Model.Oracle;

/// <summary>What the oracle found wrong (docs/design.md §2, "What the oracle calls a violation"). Names are fixed:
/// reports, scenario files (<c>expect-kind</c>) and users rely on them.</summary>
public enum ViolationKind
{
    /// <summary>A DMA reached a frame that was freed, or reused by a new owner, since its translation was made (H2, H3, H5).</summary>
    DmaToFreedFrame,
    /// <summary>A DMA used a translation whose unmap had already been flushed: a cache or in-flight DMA outlived the flush (H4, H5, H7, H8, H14).</summary>
    StaleTranslationAfterFlush,
    /// <summary>A DMA reached memory outside its device's current domain, or a blocked device's DMA got through (H9, H11, H14).</summary>
    IsolationBreach,
    /// <summary>A device's DMA to an IOVA whose mapping is live faulted: the mapping was lost (H6).</summary>
    LostMapping,
    /// <summary>An IOMMU walk read a page-table page that had been freed (H1).</summary>
    WalkThroughFreedTable,
    /// <summary>A device domain still existed in the hypervisor after teardown (H10, H16).</summary>
    LeakedDomain,
    /// <summary>A page-table page was still allocated after teardown (H16).</summary>
    LeakedTablePage,
    /// <summary>A hypercall never completed (H5: a flush waiting on a completion that never comes).</summary>
    HypercallHung,
    /// <summary>A stale access inside lazy mode's flush-queue window: the accepted trade-off of H3, counted and
    /// a violation only when <c>run.lazy-window-is-violation</c> asks.</summary>
    LazyWindowStaleAccess,
    /// <summary>An error path undid a step that never happened (H16: the RFC's hv_iommu_init reaches err_sysfs_remove
    /// and calls iommu_device_sysfs_remove() before iommu_device_sysfs_add() ran — a NULL dereference at boot).</summary>
    UnwindOfStepNeverDone,
    /// <summary>The guest freed the page tables of a domain the host still has a device attached to (H10: freed before
    /// detach, or freed although DETACH failed — Xen fix 7b658fd273f9); the IOMMU may walk them.</summary>
    HostReferencedTablesFreed,
    /// <summary>At teardown the IOVA allocator still held ranges that no mapping, range cache or flush queue accounts
    /// for: IOVA space lost while the domain lived (H18: a flush-queue overrun dropped its entries without freeing
    /// them; put_iova_domain only reclaims them when the domain is freed).</summary>
    LeakedIova,
}
