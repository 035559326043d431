using System.Text;
using System.Text.Json;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// What <c>--trace DIR</c> writes (docs/design.md §1 job 2): <c>trace.perfetto.json</c> (the whole trace, for
/// ui.perfetto.dev), <c>violation.md</c> (the first violation's causal history as a Mermaid sequence diagram,
/// with its explanation) and <c>history.jsonl</c> (that history as JSON lines; the whole trace when the run
/// has no violation).
/// </summary>
public static class TraceFiles
{
    public const string PerfettoFile = "trace.perfetto.json";
    public const string MermaidFile = "violation.md";
    public const string HistoryFile = "history.jsonl";

    /// <summary>Events of a Mermaid diagram at most: beyond a few hundred arrows it no longer renders.</summary>
    public const int MaxDiagramEvents = 250;

    /// <summary>Writes the three files into <paramref name="directory"/> and returns their paths.</summary>
    public static IReadOnlyList<string> Write(string directory, SimTrace trace, RunReport report)
    {
        Directory.CreateDirectory(directory);
        var events = trace.Snapshot();
        var perfetto = Path.Combine(directory, PerfettoFile);
        using (var stream = File.Create(perfetto))
            PerfettoWriter.Write(events, trace.Dropped, stream, stepped: trace.RecordsMessages);

        var first = report.Violations.FirstOrDefault();
        var story = first is null ? null : ViolationStory.Of(events, first, stepped: trace.RecordsMessages);
        var history = story is null ? events : History(events, story);
        var markdown = Path.Combine(directory, MermaidFile);
        File.WriteAllText(markdown, story is not null ? Diagram(story, history, trace, report)
            : first is not null ? BeyondTheTrace(first, report, trace, events.Count)
            : NoViolation(report, trace, events.Count));
        var jsonl = Path.Combine(directory, HistoryFile);
        File.WriteAllText(jsonl, JsonLines(history, stepped: trace.RecordsMessages));
        return [perfetto, markdown, jsonl];
    }

    /// <summary>
    /// What happens-before the violation: its causal history, and that of the facts it ran into through
    /// shared memory (the free, the flush, the translation), which message causes alone do not reach.
    /// </summary>
    public static IReadOnlyList<TraceEvent> History(IReadOnlyList<TraceEvent> events, ViolationStory story)
    {
        var targets = story.Facts.Prepend(story.Violation).Select(e => e.Seq).ToList();
        // In a stress run actors record concurrently and the violation carries the time of the access, so an event
        // recorded just before it may be later on the clock: it did not happen before, leave it out.
        var until = story.Violation.TimeNs;
        return CausalHistory.Of(events.Where(e => e.TimeNs <= until || e.Seq == story.Violation.Seq).ToList(), targets, MaxDiagramEvents);
    }

    private static string Diagram(ViolationStory story, IReadOnlyList<TraceEvent> history, SimTrace trace, RunReport report)
    {
        var title = $"{story.Violation.Name} — seed {report.Seed}, {report.Mode.ToString().ToLowerInvariant()} run";
        var sb = new StringBuilder(story.Text);
        sb.AppendLine();
        sb.AppendLine($"The diagram shows the {Counted.Of(history.Count, "event")} that happen-before the violation (messages, and the memory events it depends on), out of {trace.Recorder.Recorded:N0} recorded ({trace.Dropped:N0} dropped).");
        if (!trace.RecordsMessages)
            sb.AppendLine("This is a stress run's trace: messages between actors were not recorded, so it is not causal-complete; replay a deterministic run for the full history.");
        if (report.Violations.FirstOrDefault()?.Reproduce is { Length: > 0 } reproduce)
            sb.AppendLine($"Reproduce: `{reproduce}`");
        return MermaidWriter.Write(history, title, sb.ToString());
    }

    /// <summary>
    /// The run found a violation but the trace stopped recording before it (the recorder keeps the first
    /// <c>hviommu.run.trace-capacity</c> events): say so, tell the violation in the report's words, and how to get its history.
    /// </summary>
    private static string BeyondTheTrace(ViolationRecord first, RunReport report, SimTrace trace, int kept)
    {
        var sb = new StringBuilder();
        var hazard = string.IsNullOrEmpty(first.Hazard) ? "" : $" ({first.Hazard})";
        sb.AppendLine($"# {first.Kind}{hazard} — seed {report.Seed}, {report.Mode.ToString().ToLowerInvariant()} run, beyond the trace");
        sb.AppendLine();
        var count = Counted.Of(report.Violations.Count, "violation");
        sb.AppendLine($"The run found {count}, but the trace kept only its first {Counted.Of(kept, "event")} (hviommu.run.trace-capacity = {trace.Recorder.Capacity:N0}; "
            + $"{trace.Dropped:N0} later events were dropped), and the first violation came after them, so there is no causal history to draw.");
        sb.AppendLine();
        sb.AppendLine(report.Mode == RunMode.Stress
            ? $"**{first.Kind}{hazard}** by {first.Vcpu ?? first.Device ?? "the run"}, {first.SimTimeNs:N0} ns into the run (wall clock): {first.Description}"
            : $"**{first.Kind}{hazard}** at {first.Vcpu ?? first.Device ?? "the run"}'s step {first.Step}, {first.SimTimeNs} ns: {first.Description}");
        if (first.Explanation.Length > 0)
        {
            sb.AppendLine();
            sb.AppendLine(first.Explanation);
        }
        sb.AppendLine();
        sb.AppendLine($"To see it: raise hviommu.run.trace-capacity above {trace.Recorder.Recorded:N0} (the events this run recorded) and run again with --trace"
            + (first.Reproduce is { Length: > 0 } reproduce ? $": `{reproduce}`." : "."));
        return sb.ToString();
    }

    private static string NoViolation(RunReport report, SimTrace trace, int kept) =>
        $"# No violation — seed {report.Seed}, {report.Mode.ToString().ToLowerInvariant()} run\n\n" +
        $"The run found no violation, so there is no causal history to draw. {HistoryFile} holds the whole trace " +
        $"({Counted.Of(kept, "event")} kept, {trace.Dropped:N0} dropped); open {PerfettoFile} in https://ui.perfetto.dev.\n";

    /// <summary>One JSON object per event: seq, step, timeNs, kind, actor, name, detail, cause, peer.</summary>
    /// <param name="stepped">False for a stress run's trace, which has no schedule steps: no <c>step</c> field.</param>
    public static string JsonLines(IReadOnlyList<TraceEvent> events, bool stepped = true)
    {
        var sb = new StringBuilder();
        using var buffer = new MemoryStream();
        foreach (var e in events)
        {
            buffer.SetLength(0);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                TraceEventJson.WriteFields(w, e, stepped);
                w.WriteEndObject();
            }
            sb.Append(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)).Append('\n');
        }
        return sb.ToString();
    }
}
