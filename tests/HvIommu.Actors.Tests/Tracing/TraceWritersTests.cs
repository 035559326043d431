using System.Text.Json;
using HvIommu.Actors.Tracing;

namespace HvIommu.Actors.Tests.Tracing;

/// <summary>The trace writers on a small hand-made strict unmap: vCPU → hypervisor → flush handler, and an unrelated device.</summary>
[Trait("Category", "Model")]
public sealed class TraceWritersTests
{
    private static (TraceRecorder Recorder, long Violation) SmallTrace()
    {
        var r = new TraceRecorder(100);
        var send1 = r.Record(1, 1000, TraceEventKind.Send, "vcpu0", "Hypercall FlushDeviceDomain", "domain 3", 0, "hypervisor");
        var deliver1 = r.Record(2, 1500, TraceEventKind.Deliver, "hypervisor", "Hypercall FlushDeviceDomain", "domain 3", send1);
        var send2 = r.Record(2, 1600, TraceEventKind.Send, "hypervisor", "ExecuteFlush", "domain 3", deliver1, "flush-handler");
        r.Record(3, 1700, TraceEventKind.Send, "nvme0", "DmaCompleted", "descriptor 9", 0, "vcpu1");
        var deliver2 = r.Record(4, 2000, TraceEventKind.Deliver, "flush-handler", "ExecuteFlush", "domain 3", send2);
        r.Record(4, 2100, TraceEventKind.CacheInvalidate, "flush-handler", "IOTLB domain 3", "12 entries", deliver2);
        var violation = r.Record(5, 2500, TraceEventKind.Violation, "flush-handler", "StaleTranslationAfterFlush", "IOVA 0xfffff000", deliver2);
        return (r, violation);
    }

    [Fact]
    public void Recorder_keeps_its_capacity_and_counts_the_rest()
    {
        var r = new TraceRecorder(2);
        for (var i = 0; i < 5; i++)
            r.Record(i, i, TraceEventKind.PteWrite, "vcpu0", "pte", "", 0);
        Assert.Equal(2, r.Snapshot().Count);
        Assert.Equal(3, r.Dropped);
        Assert.Equal(5, r.Recorded);
    }

    [Fact]
    public void Causal_history_follows_causes_and_program_order_and_leaves_out_unrelated_events()
    {
        var (r, violation) = SmallTrace();
        var history = CausalHistory.Of(r.Snapshot(), violation);
        Assert.Equal(["vcpu0", "hypervisor", "hypervisor", "flush-handler", "flush-handler", "flush-handler"], history.Select(e => e.Actor));
        Assert.DoesNotContain(history, e => e.Actor == "nvme0");
        Assert.Equal(TraceEventKind.Violation, history[^1].Kind);
    }

    [Fact]
    public void Perfetto_json_has_a_track_per_actor_slices_and_matching_flows()
    {
        var (r, _) = SmallTrace();
        using var stream = new MemoryStream();
        PerfettoWriter.Write(r.Snapshot(), r.Dropped, stream);
        using var doc = JsonDocument.Parse(stream.ToArray());
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        var names = events.Where(e => e.GetProperty("ph").GetString() == "M").Select(e => e.GetProperty("args").GetProperty("name").GetString()).ToList();
        Assert.Equal(["vcpu0", "hypervisor", "nvme0", "flush-handler"], names);
        Assert.Equal(2, events.Count(e => e.GetProperty("ph").GetString() == "X"));
        var starts = events.Where(e => e.GetProperty("ph").GetString() == "s").Select(e => e.GetProperty("id").GetInt64()).ToHashSet();
        var finishes = events.Where(e => e.GetProperty("ph").GetString() == "f").Select(e => e.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(2, finishes.Count);
        Assert.All(finishes, id => Assert.Contains(id, starts));
        Assert.Contains(events, e => e.GetProperty("ph").GetString() == "i" && e.GetProperty("name").GetString()!.StartsWith("VIOLATION", StringComparison.Ordinal));
        Assert.Equal(0, doc.RootElement.GetProperty("otherData").GetProperty("droppedEvents").GetInt64());
    }

    [Fact]
    public void Mermaid_diagram_draws_each_delivered_message_as_an_arrow_and_the_violation_as_a_note()
    {
        var (r, violation) = SmallTrace();
        var md = MermaidWriter.Write(CausalHistory.Of(r.Snapshot(), violation), "StaleTranslationAfterFlush", "The IOTLB outlived the flush.");
        Assert.Contains("sequenceDiagram", md);
        Assert.Contains("vcpu0->>hypervisor: Hypercall FlushDeviceDomain", md);
        Assert.Contains("hypervisor->>flush_handler: ExecuteFlush", md);
        Assert.Contains("Note over flush_handler: VIOLATION StaleTranslationAfterFlush", md);
        Assert.DoesNotContain("nvme0", md);
    }
}
