using System.Text.Json;

namespace HvIommu.Actors.Reporting;

/// <summary>Writes a <see cref="RunReport"/> as the JSON of docs/design.md §3, atomically (see <see cref="AtomicFile"/>).</summary>
public static class ReportWriter
{
    public static void Write(RunReport report, string path) =>
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, report, ReportJsonContext.Default.RunReport));

    /// <summary>The report as JSON text, as <see cref="Write"/> would store it.</summary>
    public static string ToJson(RunReport report) => JsonSerializer.Serialize(report, ReportJsonContext.Default.RunReport);
}
