namespace HvIommu.Actors.Metrics;

/// <summary>The run-wide event counters kept by <see cref="SimCounters"/>.</summary>
public enum SimCounter
{
    /// <summary>Actor messages delivered (the stress throughput figure).</summary>
    MessagesDelivered,
    /// <summary>Device DMA transactions that reached guest memory.</summary>
    DmaTransactions,
    /// <summary>Bytes those transactions moved.</summary>
    DmaBytes,
    /// <summary>IOVA ranges mapped by the guest driver.</summary>
    Maps,
    /// <summary>IOVA ranges unmapped by the guest driver.</summary>
    Unmaps,
    /// <summary>VM exits: every hypercall the guest issues costs one.</summary>
    VmExits,
    /// <summary>Scheduler steps (mailbox runs in deterministic mode).</summary>
    Steps,
    IotlbHits,
    IotlbMisses,
    AtcHits,
    AtcMisses,
    /// <summary>VM exits made on a map path (a large leaf that replaced an emptied table must be flushed).</summary>
    MapVmExits,
}
