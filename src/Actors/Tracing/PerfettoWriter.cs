using System.Text.Json;

namespace HvIommu.Actors.Tracing;

/// <summary>
/// Writes a trace as Chrome trace-event JSON, which ui.perfetto.dev and chrome://tracing open: a track
/// (thread) per actor, a slice per handled message, flow arrows from each send to its delivery, and
/// instant events for memory events and violations. Timestamps are the run's clock in microseconds (the scheduler's
/// virtual time in a deterministic run, the wall clock in a stress run: otherData.clock says which). Each event's args
/// carry <c>seq</c>, the order it was recorded in; <c>step</c>, the schedule step, only when the run had steps.
/// </summary>
public static class PerfettoWriter
{
    /// <param name="stepped">False for a stress run's trace: it has no schedule steps, so no event carries a <c>step</c>
    /// (a "step: 0" on every event would read as a fact); <c>seq</c> orders them.</param>
    public static void Write(IReadOnlyList<TraceEvent> events, long dropped, Stream output, bool stepped = true)
    {
        var tids = events.Select(e => e.Actor).Distinct().Select((a, i) => (a, i + 1)).ToDictionary(x => x.a, x => x.Item2);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("displayTimeUnit", "ns");
        w.WriteStartObject("otherData");
        w.WriteString("generator", "HvIommu.Actors");
        w.WriteNumber("droppedEvents", dropped);
        w.WriteString("clock", stepped ? "scheduler (virtual time, 100 ns per delivered message)" : "wall");
        w.WriteEndObject();
        w.WriteStartArray("traceEvents");
        foreach (var (actor, tid) in tids)
        {
            w.WriteStartObject();
            w.WriteString("ph", "M");
            w.WriteString("name", "thread_name");
            w.WriteNumber("pid", 1);
            w.WriteNumber("tid", tid);
            w.WriteStartObject("args");
            w.WriteString("name", actor);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        foreach (var e in events)
            WriteEvent(w, e, tids, stepped);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteEvent(Utf8JsonWriter w, TraceEvent e, Dictionary<string, int> tids, bool stepped)
    {
        var ts = e.TimeNs / 1000.0;
        var tid = tids[e.Actor];
        switch (e.Kind)
        {
            case TraceEventKind.Deliver:
                Slice(w, e, tid, ts, stepped);
                if (e.Cause != 0)
                    Flow(w, "f", e.Cause, tid, ts, e.Name);
                break;
            case TraceEventKind.Send:
                Flow(w, "s", e.Seq, tid, ts, e.Name);
                break;
            default:
                Instant(w, e, tid, ts, stepped);
                break;
        }
    }

    private static void Slice(Utf8JsonWriter w, TraceEvent e, int tid, double ts, bool stepped)
    {
        w.WriteStartObject();
        w.WriteString("ph", "X");
        w.WriteString("name", e.Name);
        w.WriteString("cat", "message");
        w.WriteNumber("pid", 1);
        w.WriteNumber("tid", tid);
        w.WriteNumber("ts", ts);
        w.WriteNumber("dur", 0.05);
        Args(w, e, stepped);
        w.WriteEndObject();
    }

    private static void Flow(Utf8JsonWriter w, string phase, long id, int tid, double ts, string name)
    {
        w.WriteStartObject();
        w.WriteString("ph", phase);
        w.WriteString("name", name);
        w.WriteString("cat", "message");
        w.WriteNumber("id", id);
        w.WriteNumber("pid", 1);
        w.WriteNumber("tid", tid);
        w.WriteNumber("ts", ts);
        if (phase == "f")
            w.WriteString("bp", "e");
        w.WriteEndObject();
    }

    private static void Instant(Utf8JsonWriter w, TraceEvent e, int tid, double ts, bool stepped)
    {
        w.WriteStartObject();
        w.WriteString("ph", "i");
        w.WriteString("name", e.Kind == TraceEventKind.Violation ? "VIOLATION " + e.Name : e.Name);
        w.WriteString("cat", e.Kind.ToString());
        w.WriteString("s", e.Kind == TraceEventKind.Violation ? "g" : "t");
        w.WriteNumber("pid", 1);
        w.WriteNumber("tid", tid);
        w.WriteNumber("ts", ts);
        Args(w, e, stepped);
        w.WriteEndObject();
    }

    private static void Args(Utf8JsonWriter w, TraceEvent e, bool stepped)
    {
        w.WriteStartObject("args");
        TraceEventJson.WriteFields(w, e, stepped);
        w.WriteEndObject();
    }
}
