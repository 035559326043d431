using System.Globalization;
using System.Text;
using HvIommu.Actors.Tracing;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// The first violation told from its trace: the DMA's translation, the mapping, its unmap, the flush (its
/// number, when it started and completed), the free, the access — each with its step — and which of them
/// came too early. These are also the events the violation depends on through shared memory (the free
/// the DMA ran into, the flush that returned), which message causes alone do not reach.
/// Every fact is the one the oracle names, found by its serial numbers (<see cref="ViolationRecord.Mapping"/>,
/// <see cref="ViolationRecord.Flush"/>), never a nearby event that looks alike: the map event of that mapping,
/// the unmap that cleared it, the DMA's translation made from it, that flush of the mapping's domain. A fact the
/// oracle does not name is not told (no flush when none had completed). Only events before the violation count:
/// earlier in the trace and, in a stress run, where actors record concurrently, not later on its clock.
/// </summary>
public sealed class ViolationStory
{
    private ViolationStory(TraceEvent violation, IReadOnlyList<TraceEvent> facts, string text)
    {
        Violation = violation;
        Facts = facts;
        Text = text;
    }

    /// <summary>The violation's own trace event.</summary>
    public TraceEvent Violation { get; }

    /// <summary>The translate, map, unmap, flush, free events the explanation names (in trace order).</summary>
    public IReadOnlyList<TraceEvent> Facts { get; }

    /// <summary>The explanation in words, one fact per line.</summary>
    public string Text { get; }

    /// <summary>The story of <paramref name="record"/> (the report's first violation) in <paramref name="events"/>; null when the trace lacks it.</summary>
    /// <param name="stepped">The trace has schedule steps (a deterministic run). A stress run's events have none, so
    /// the story tells times (wall clock) instead of "step 0".</param>
    public static ViolationStory? Of(IReadOnlyList<TraceEvent> events, ViolationRecord record, bool stepped = true)
    {
        var violation = events.FirstOrDefault(e => e.Kind == TraceEventKind.Violation);
        if (violation is null)
            return null;
        var before = events.Where(e => e.Seq < violation.Seq && e.TimeNs <= violation.TimeNs).ToList();
        var serial = record.Mapping;
        var map = serial is null ? null
            : before.LastOrDefault(e => e.Kind == TraceEventKind.PteWrite && e.Name.StartsWith("map ", StringComparison.Ordinal) && Names(e, "mapping", serial.Value));
        var mapDomain = map is null ? record.Domain?.ToString(CultureInfo.InvariantCulture) : Detail(map, "domain");
        var unmap = serial is null ? null
            : before.LastOrDefault(e => e.Kind == TraceEventKind.PteWrite && e.Name.StartsWith("unmap ", StringComparison.Ordinal) && Names(e, "mappings", serial.Value));
        // The DMA's translation: from the named mapping when there is one, else the device's last of that IOVA.
        var iova = record.Iova ?? "";
        var translate = before.LastOrDefault(e => e.Kind == TraceEventKind.DmaTranslate && e.Actor == violation.Actor
            && (serial is { } s ? Names(e, "mapping", s) : iova.Length > 0 && e.Name.EndsWith(" " + iova, StringComparison.Ordinal)));
        // The free of the frame after the mapping was made (an earlier free is of the frame's previous owner).
        var free = record.Frame is { } frame
            ? before.LastOrDefault(e => e.Kind == TraceEventKind.Free && e.Name.EndsWith(" " + frame, StringComparison.Ordinal) && (map is null || e.Seq > map.Seq))
            : null;
        bool OfDomain(TraceEvent e) => mapDomain is null || Detail(e, "domain") == mapDomain;
        var flushDone = record.Flush is { } flush
            ? before.LastOrDefault(e => e.Kind == TraceEventKind.Flush && e.Name == $"flush #{flush} completed" && OfDomain(e))
            : null;
        var flushStart = flushDone is null ? null
            : before.LastOrDefault(e => e.Seq < flushDone.Seq && e.Kind == TraceEventKind.Flush && e.Name == $"flush #{record.Flush} started" && OfDomain(e));
        var facts = new[] { map, translate, unmap, flushStart, flushDone, free }.OfType<TraceEvent>().OrderBy(e => e.Seq).ToList();

        var clock = new StoryClock(stepped);
        var sb = new StringBuilder();
        var actor = violation.Actor;
        sb.AppendLine(stepped
            ? $"**{record.Kind} ({record.Hazard})** at schedule step {violation.Step} ({actor}'s step {record.Step}), {record.SimTimeNs} ns: {record.Description}"
            : $"**{record.Kind} ({record.Hazard})** by {actor}, {N(record.SimTimeNs)} ns into the run (wall clock): {record.Description}");
        sb.AppendLine();
        sb.AppendLine(stepped ? "What happened, in schedule order:" : "What happened, in the order it was recorded (a stress run has no schedule steps; times are wall clock):");
        sb.AppendLine();
        foreach (var e in facts.Append(violation))
            sb.AppendLine($"- {clock.Stamp(e)} — {e.Actor}: {e.Name} ({e.Detail})");
        sb.AppendLine();
        sb.AppendLine("Too early: " + TooEarly(clock, translate, flushStart, flushDone, free, violation, record.Flush is null && unmap is not null));
        sb.AppendLine();
        sb.AppendLine(record.Explanation);
        return new ViolationStory(violation, facts, sb.ToString());
    }

    /// <summary>How an event's moment is told: its schedule step (deterministic) or its wall-clock time (stress).</summary>
    private sealed class StoryClock(bool stepped)
    {
        public string Stamp(TraceEvent e) => stepped ? $"step {e.Step}, {e.TimeNs} ns" : $"{N(e.TimeNs)} ns";

        public string At(TraceEvent e) => stepped ? $"at step {e.Step}" : $"at {N(e.TimeNs)} ns";

        public string Of(TraceEvent e) => stepped ? $"step {e.Step}" : $"{N(e.TimeNs)} ns";
    }

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string TooEarly(StoryClock clock, TraceEvent? translate, TraceEvent? flushStart, TraceEvent? flushDone, TraceEvent? free, TraceEvent violation, bool unflushed)
    {
        var flush = flushDone is null ? "" : $"{flushDone.Name.Replace(" completed", "", StringComparison.Ordinal)} of domain {Detail(flushDone, "domain")}";
        if (free is not null && flushDone is null)
            return $"the free {clock.At(free)} — no flush covering the unmap had completed before it.";
        if (translate is not null && flushStart is not null && flushDone is not null && translate.Seq < flushStart.Seq)
            return $"the completion of {flush} {clock.At(flushDone)} — the DMA translated {clock.At(translate)}, before the flush started " +
                   $"({clock.Of(flushStart)}), was still in flight and moved its data {clock.At(violation)}" +
                   (free is not null ? $", after the free {clock.At(free)} that the completion allowed." : ".");
        if (translate is not null && flushDone is not null && translate.Seq > flushDone.Seq)
            return $"nothing in the driver: the DMA {clock.At(translate)} was translated after {flush} completed ({clock.Of(flushDone)}) from an entry the flush left behind ({Detail(translate, "via")}).";
        if (free is not null)
            return $"the free {clock.At(free)}, before the DMA translated {(translate is null ? "earlier" : clock.At(translate))} had moved its data ({clock.Of(violation)}).";
        if (unflushed)
            return "the DMA used the mapping after its unmap, and no flush covering the unmap had completed; see the explanation below.";
        return "see the explanation below; the trace holds no free or flush for this IOVA.";
    }

    /// <summary>True when <paramref name="e"/>'s detail names serial <paramref name="serial"/> after <paramref name="label"/>
    /// ("mapping #17 IOVA …", "mappings #17-#20 #25": see <see cref="TraceNames.Mappings"/>).</summary>
    private static bool Names(TraceEvent e, string label, long serial)
    {
        var i = e.Detail.IndexOf(label + " #", StringComparison.Ordinal);
        if (i < 0)
            return false;
        foreach (var token in e.Detail[(i + label.Length + 1)..].Split(' ', ','))
        {
            if (!token.StartsWith('#'))
                break;
            var dash = token.IndexOf("-#", StringComparison.Ordinal);
            var (from, to) = dash < 0 ? (token[1..], token[1..]) : (token[1..dash], token[(dash + 2)..]);
            if (long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out var lo)
                && long.TryParse(to, NumberStyles.None, CultureInfo.InvariantCulture, out var hi) && lo <= serial && serial <= hi)
                return true;
        }
        return false;
    }

    /// <summary>The word after <paramref name="key"/> in a detail ("domain 3, …" → "3").</summary>
    private static string Detail(TraceEvent e, string key)
    {
        var i = e.Detail.IndexOf(key + " ", StringComparison.Ordinal);
        if (i < 0)
            return "";
        var rest = e.Detail[(i + key.Length + 1)..];
        var end = rest.IndexOfAny([',', ' ', ')']);
        return end < 0 ? rest : rest[..end];
    }
}
