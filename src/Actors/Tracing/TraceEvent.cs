namespace HvIommu.Actors.Tracing;

/// <summary>What a trace event records (DESIGN.md §1 job 2: who sent what to whom, in what order).</summary>
public enum TraceEventKind
{
    /// <summary>A message was sent; <see cref="TraceEvent.Peer"/> is the receiver.</summary>
    Send,
    /// <summary>A message was handled; <see cref="TraceEvent.Cause"/> is the send it came from.</summary>
    Deliver,
    /// <summary>A stage-1 entry was written or cleared in guest memory.</summary>
    PteWrite,
    /// <summary>A guest frame (buffer or table page) went back to the allocator.</summary>
    Free,
    /// <summary>An IOTLB, walk-cache or ATC fill.</summary>
    CacheFill,
    /// <summary>An IOTLB, walk-cache or ATC invalidation.</summary>
    CacheInvalidate,
    /// <summary>A DMA transaction's translate step.</summary>
    DmaTranslate,
    /// <summary>A DMA transaction's data step.</summary>
    DmaAccess,
    /// <summary>The oracle found a violation here.</summary>
    Violation,
}

/// <summary>
/// One event of a run's causal trace. <see cref="Seq"/> numbers events in the order they were
/// recorded; <see cref="Cause"/> points at the event that led to this one (the send behind a delivery,
/// the delivery during which a send or a memory event happened), 0 when none — so the history of any
/// event can be followed back.
/// </summary>
public sealed record TraceEvent(
    long Seq,
    long Step,
    long TimeNs,
    TraceEventKind Kind,
    string Actor,
    string Name,
    string Detail,
    long Cause,
    string? Peer = null);
