using HvIommu.Model.Events;

namespace HvIommu.Actors.Tracing;

/// <summary>
/// The causal trace's subscription to the run's event stream: each event it records is written here, from the
/// event's facts, rather than by the component where it happened. Subscribed only when the run records a trace
/// (formatting an event's text allocates, which a run without a trace never pays).
/// </summary>
public sealed class TraceEvents(SimTrace trace) : ISimEventSink
{
    public void On(in SimEvent e)
    {
        switch (e.Kind)
        {
            case SimEventKind.MappingWritten:
                var m = e.Mapping!;
                trace.Event(TraceEventKind.PteWrite, e.Source, $"map 0x{m.Iova:x}",
                    $"GPA 0x{m.Gpa:x}, domain {m.Domain}, {m}{(e.Id > 0 ? $", trace line {e.Id}" : "")}");
                break;
            case SimEventKind.FlushStarted:
                trace.Event(TraceEventKind.Flush, e.Source, $"flush #{e.FlushSeq} started",
                    $"domain {e.Domain}, {(e.Blocks is { } b ? $"{b.Length} blocks" : "whole domain")}, handler flush {e.Id}");
                break;
            case SimEventKind.FlushCompleted:
                trace.Event(TraceEventKind.Flush, e.Source, $"flush #{e.FlushSeq} completed",
                    $"domain {e.Domain}, started at {e.StartNs} ns, {(e.DrainedDma ? "DMA drained" : "no drain")}");
                break;
        }
    }
}
