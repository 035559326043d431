namespace HvIommu.Model.Metrics;

/// <summary>The run-wide event counters (the actors' <c>SimCounters</c> keeps one per value, indexed by it). The guest
/// driver engines count theirs through <see cref="Driver.IDriverTelemetry.Count"/> with these same values.</summary>
public enum SimCounter
{
    /// <summary>Actor messages delivered (the stress throughput figure).</summary>
    MessagesDelivered,
    /// <summary>Device DMA transactions that reached guest memory.</summary>
    DmaTransactions,
    /// <summary>Bytes those transactions moved.</summary>
    DmaBytes,
    /// <summary>4 KiB pages mapped by the guest driver.</summary>
    Maps,
    /// <summary>4 KiB pages unmapped by the guest driver.</summary>
    Unmaps,
    /// <summary>VM exits: every hypercall the guest issues costs one.</summary>
    VmExits,
    /// <summary>Scheduler steps (mailbox runs in deterministic mode).</summary>
    Steps,
    IotlbHits,
    IotlbMisses,
    AtcHits,
    AtcMisses,
    /// <summary>dma_map calls (a trace's iommu:map events); <see cref="Maps"/> counts what they mapped.</summary>
    MapCalls,
    /// <summary>dma_unmap calls (a trace's iommu:unmap events); <see cref="Unmaps"/> counts what they unmapped.</summary>
    UnmapCalls,
    /// <summary>VM exits the driver's init made (capabilities, device properties, domains created and attached).</summary>
    InitVmExits,
    /// <summary>VM exits made on a map path (a large leaf that replaced an emptied table must be flushed).</summary>
    MapVmExits,
    /// <summary>VM exits made for unmaps: strict iotlb_sync flushes, and in lazy mode the flush queue's flushes
    /// (a full ring's inline flush, the timer's) that stand for the unmaps queued on it.</summary>
    UnmapVmExits,
    /// <summary>VM exits of a device moving between domains (detach, flush of the old domain, attach).</summary>
    DomainSwitchVmExits,
    /// <summary>VM exits the teardown made (release devices, flush, delete domains).</summary>
    TeardownVmExits,
    /// <summary>Leaves the maps wrote, by page size (iommu_pgsize's choices).</summary>
    Leaves4K,
    Leaves2M,
    Leaves1G,
    /// <summary>Page-table pages a map's large leaf replaced (generic_pt clear_contig), each freed after the map-path
    /// flush (H19).</summary>
    TablesReplacedByLeaves,
    /// <summary>Lazy domains whose flush queue could not be set up and that fell back to strict (iommu_dma_init_fq).</summary>
    FlushQueueInitFailures,
    /// <summary>Strict domains switched to DMA-FQ in place by the sysfs write (iommu_dma_init_fq published fq_domain).</summary>
    DomainsSwitchedToLazy,
    /// <summary>Devices whose probe_device returned -ENODEV (not managed by the pvIOMMU; the probe went on with the others).</summary>
    DevicesNotManaged,
    /// <summary>Hypercalls whose input page held another call's input when the host read it (H17).</summary>
    HypercallInputsReplaced,
    /// <summary>Interrupts (DMA completions, flush-queue timers) taken between filling an input page and the trap (H17).</summary>
    InterruptsInHypercallWindow,
}
