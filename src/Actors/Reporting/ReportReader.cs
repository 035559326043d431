using System.Text.Json;

namespace HvIommu.Actors.Reporting;

/// <summary>Reads back a report written by <see cref="ReportWriter"/> (for <c>replay --report</c>).</summary>
public static class ReportReader
{
    /// <exception cref="ReportFormatException">The file is missing, is not JSON, has another schema version or lacks a field.</exception>
    public static RunReport Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ReportFormatException(path, "no such file", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses report JSON; <paramref name="source"/> names it in error messages.</summary>
    public static RunReport Parse(ReadOnlySpan<byte> json, string source)
    {
        try
        {
            CheckSchemaVersion(json, source);
            return JsonSerializer.Deserialize(json, ReportJsonContext.Default.RunReport)
                ?? throw new ReportFormatException(source, "is JSON null, not a report");
        }
        catch (JsonException e)
        {
            throw new ReportFormatException(source, $"is not a valid report: {e.Message}", e);
        }
    }

    private static void CheckSchemaVersion(ReadOnlySpan<byte> json, string source)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ReportFormatException(source, $"is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
        if (!root.TryGetProperty("schemaVersion", out var version))
            throw new ReportFormatException(source, "has no schemaVersion");
        if (version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var v) || v != RunReport.CurrentSchemaVersion)
            throw new ReportFormatException(source, $"has schemaVersion {version.GetRawText()}; this simulator reads version {RunReport.CurrentSchemaVersion}");
    }
}
