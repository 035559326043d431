using System.Text;

namespace HvIommu.Actors.Tracing;

/// <summary>
/// Writes the causal history of one violation as a Markdown file with a Mermaid sequence diagram:
/// participants are actors, arrows are messages (send → delivery), notes are memory events and the
/// violation itself. Only events that happen-before the violation appear, which keeps the diagram
/// within Mermaid's size limits and to the point.
/// </summary>
public static class MermaidWriter
{
    public static string Write(IReadOnlyList<TraceEvent> history, string title, string explanation)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {title}");
        sb.AppendLine();
        sb.AppendLine(explanation);
        sb.AppendLine();
        sb.AppendLine("```mermaid");
        sb.AppendLine("sequenceDiagram");
        var ids = history.Select(e => e.Actor).Concat(history.Where(e => e.Peer is not null).Select(e => e.Peer!)).Distinct().ToList();
        foreach (var actor in ids)
            sb.AppendLine($"    participant {Id(actor)} as {actor}");
        var sends = history.Where(e => e.Kind == TraceEventKind.Send).ToDictionary(e => e.Seq);
        foreach (var e in history)
        {
            switch (e.Kind)
            {
                case TraceEventKind.Deliver when e.Cause != 0 && sends.TryGetValue(e.Cause, out var send):
                    sb.AppendLine($"    {Id(send.Actor)}->>{Id(e.Actor)}: {Text(e.Name)}");
                    break;
                case TraceEventKind.Deliver or TraceEventKind.Send:
                    break;
                case TraceEventKind.Violation:
                    sb.AppendLine($"    Note over {Id(e.Actor)}: VIOLATION {Text(e.Name)}: {Text(e.Detail)}");
                    break;
                default:
                    sb.AppendLine($"    Note right of {Id(e.Actor)}: {Text(e.Name)} {Text(e.Detail)}");
                    break;
            }
        }
        sb.AppendLine("```");
        return sb.ToString();
    }

    private static string Id(string actor) => new(actor.Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());

    /// <summary>Mermaid breaks on ';', '#' and line breaks inside a message; keep texts short and plain.</summary>
    private static string Text(string s)
    {
        var t = s.Replace(";", ",").Replace("#", "no.").ReplaceLineEndings(" ");
        return t.Length > 120 ? t[..117] + "..." : t;
    }
}
