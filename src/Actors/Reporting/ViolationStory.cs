using System.Text;
using HvIommu.Actors.Tracing;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// The first violation told from its trace: the DMA's translation, the mapping, its unmap, the flush (its
/// number, when it started and completed), the free, the access — each with its step — and which of them
/// came too early. These are also the events the violation depends on through shared memory (the free
/// the DMA ran into, the flush that returned), which message causes alone do not reach.
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
    public static ViolationStory? Of(IReadOnlyList<TraceEvent> events, ViolationRecord record)
    {
        var violation = events.FirstOrDefault(e => e.Kind == TraceEventKind.Violation);
        if (violation is null)
            return null;
        var before = events.TakeWhile(e => e.Seq < violation.Seq).ToList();
        var iova = record.Iova ?? "";
        var page = PageOf(iova);
        var translate = iova.Length == 0 ? null
            : before.LastOrDefault(e => e.Kind == TraceEventKind.DmaTranslate && e.Actor == violation.Actor && e.Name.EndsWith(" " + iova, StringComparison.Ordinal));
        // The mapping and the flush the oracle names (by serial, domain and number: flush numbers count per domain),
        // never another domain's flush or an earlier mapping of the same IOVA.
        var text = record.Description + " " + record.Explanation;
        var serial = Named(text, @"mapping #(\d+)");
        var mapDomain = Named(text, @"mapping #\d+ [^()]*\([^)]*\) of domain (\d+)");
        var flushNo = Named(text, @"flush #(\d+)");
        var map = page is null ? null : before.LastOrDefault(e => e.Kind == TraceEventKind.PteWrite && e.Name == "map " + page
            && (serial is null || e.Detail.Contains($"mapping #{serial} ", StringComparison.Ordinal)));
        mapDomain ??= map is null ? null : Detail(map, "domain");
        var unmap = map is null ? null
            : before.FirstOrDefault(e => e.Seq > map.Seq && e.Kind == TraceEventKind.PteWrite && e.Actor == map.Actor && e.Name.StartsWith("unmap ", StringComparison.Ordinal)
                && Detail(e, "domain") == Detail(map, "domain"));
        var free = record.Frame is { } frame ? before.LastOrDefault(e => e.Kind == TraceEventKind.Free && e.Name.EndsWith(" " + frame, StringComparison.Ordinal)) : null;
        var anchor = free ?? violation;
        bool OfDomain(TraceEvent e) => mapDomain is null || Detail(e, "domain") == mapDomain;
        var flushDone = flushNo is not null && mapDomain is not null
            ? before.LastOrDefault(e => e.Kind == TraceEventKind.Flush && e.Name == $"flush #{flushNo} completed" && OfDomain(e))
            : before.LastOrDefault(e => e.Seq < anchor.Seq && e.Kind == TraceEventKind.Flush && e.Name.EndsWith(" completed", StringComparison.Ordinal)
                && OfDomain(e) && (unmap is null || e.Seq > unmap.Seq));
        var flushStart = flushDone is null ? null
            : before.LastOrDefault(e => e.Seq < flushDone.Seq && e.Kind == TraceEventKind.Flush && e.Name == flushDone.Name.Replace(" completed", " started", StringComparison.Ordinal) && OfDomain(e));
        var facts = new[] { map, translate, unmap, flushStart, flushDone, free }.OfType<TraceEvent>().OrderBy(e => e.Seq).ToList();

        var sb = new StringBuilder();
        sb.AppendLine($"**{record.Kind} ({record.Hazard})** at schedule step {violation.Step} ({violation.Actor}'s step {record.Step}), {record.SimTimeNs} ns: {record.Description}");
        sb.AppendLine();
        sb.AppendLine("What happened, in schedule order:");
        sb.AppendLine();
        foreach (var e in facts.Append(violation))
            sb.AppendLine($"- step {e.Step}, {e.TimeNs} ns — {e.Actor}: {e.Name} ({e.Detail})");
        sb.AppendLine();
        sb.AppendLine("Too early: " + TooEarly(translate, flushStart, flushDone, free, violation));
        sb.AppendLine();
        sb.AppendLine(record.Explanation);
        return new ViolationStory(violation, facts, sb.ToString());
    }

    private static string TooEarly(TraceEvent? translate, TraceEvent? flushStart, TraceEvent? flushDone, TraceEvent? free, TraceEvent violation)
    {
        var flush = flushDone is null ? "" : $"{flushDone.Name.Replace(" completed", "", StringComparison.Ordinal)} of domain {Detail(flushDone, "domain")}";
        if (free is not null && flushDone is null)
            return $"the free at step {free.Step} — no flush covering the unmap had completed before it.";
        if (translate is not null && flushStart is not null && flushDone is not null && translate.Seq < flushStart.Seq)
            return $"the completion of {flush} at step {flushDone.Step} — the DMA translated at step {translate.Step}, before the flush started " +
                   $"(step {flushStart.Step}), was still in flight and moved its data at step {violation.Step}" +
                   (free is not null ? $", after the free at step {free.Step} that the completion allowed." : ".");
        if (translate is not null && flushDone is not null && translate.Seq > flushDone.Seq)
            return $"nothing in the driver: the DMA at step {translate.Step} was translated after {flush} completed (step {flushDone.Step}) from an entry the flush left behind ({Detail(translate, "via")}).";
        if (free is not null)
            return $"the free at step {free.Step}, before the DMA translated at step {translate?.Step.ToString() ?? "?"} had moved its data (step {violation.Step}).";
        return "see the explanation below; the trace holds no free or flush for this IOVA.";
    }

    /// <summary>The first group of <paramref name="pattern"/> in <paramref name="text"/>, or null.</summary>
    private static string? Named(string text, string pattern) =>
        System.Text.RegularExpressions.Regex.Match(text, pattern) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>The IOVA's 4 KiB page as the trace writes it (0x…000).</summary>
    private static string? PageOf(string iova) =>
        iova.StartsWith("0x", StringComparison.Ordinal) && ulong.TryParse(iova.AsSpan(2), System.Globalization.NumberStyles.HexNumber, null, out var v)
            ? $"0x{v & ~0xFFFUL:x}"
            : null;

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
