using System.Text.Json;

namespace HvIommu.Actors.Tracing;

/// <summary>What a trace event records (docs/design.md §1 job 2: who sent what to whom, in what order).</summary>
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
    /// <summary>A flush (FLUSH_DEVICE_DOMAIN(_LIST)) started or completed in the IOMMU, with the oracle's flush number.</summary>
    Flush,
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

/// <summary>A trace event's fields as JSON properties (history.jsonl lines, Perfetto args).</summary>
public static class TraceEventJson
{
    /// <param name="stepped">False when the trace has no schedule steps (a stress run): the <c>step</c> field is left out.</param>
    public static void WriteFields(Utf8JsonWriter w, TraceEvent e, bool stepped = true)
    {
        w.WriteNumber("seq", e.Seq);
        if (stepped)
            w.WriteNumber("step", e.Step);
        w.WriteNumber("timeNs", e.TimeNs);
        w.WriteString("kind", e.Kind.ToString());
        w.WriteString("actor", e.Actor);
        w.WriteString("name", e.Name);
        w.WriteString("detail", e.Detail);
        w.WriteNumber("cause", e.Cause);
        if (e.Peer is not null)
            w.WriteString("peer", e.Peer);
    }
}
