using System.Globalization;
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

    /// <summary>Parses report JSON; <paramref name="source"/> names it in error messages. A UTF-8 byte-order mark (an
    /// editor's) is skipped. A field of the wrong kind is named by its JSON path, with its value and what is allowed.</summary>
    public static RunReport Parse(ReadOnlySpan<byte> json, string source)
    {
        if (json.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            json = json[3..];
        try
        {
            CheckSchemaVersion(json, source);
            return JsonSerializer.Deserialize(json, ReportJsonContext.Default.RunReport)
                ?? throw new ReportFormatException(source, "is JSON null, not a report");
        }
        catch (JsonException e)
        {
            throw new ReportFormatException(source, Describe(e, json), e);
        }
    }

    /// <summary>What a field must hold, by the last name of its JSON path, for the messages.</summary>
    private static readonly Dictionary<string, string> Allowed = new(StringComparer.Ordinal)
    {
        ["seed"] = $"a whole number in [0, {ulong.MaxValue.ToString(CultureInfo.InvariantCulture)}]",
        ["mode"] = "\"stress\" or \"deterministic\"",
        ["expected"] = "\"clean\" or \"violation\"",
        ["outcomeMatched"] = "true or false",
        ["partial"] = "true or false",
        ["artifacts"] = "a list of file paths",
        ["violations"] = "a list of violations",
        ["config"] = "an object with file and resolved",
        ["stats"] = "the run's statistics object",
        ["resolved"] = "the resolved configuration object",
        ["traceHash"] = "the trace hash the run wrote, a string of 16 hex digits",
    };

    /// <summary>One line on what is wrong, in the report's own terms (its JSON path, the value found, what is allowed) —
    /// never the serializer's type names.</summary>
    private static string Describe(JsonException e, ReadOnlySpan<byte> json)
    {
        var where = e.LineNumber is { } line ? $" (line {line + 1}, byte {(e.BytePositionInLine ?? 0) + 1})" : "";
        var message = e.Message;
        if (message.Contains("missing required properties", StringComparison.Ordinal))
        {
            var at = message.IndexOf("including:", StringComparison.Ordinal);
            var missing = (at < 0 ? "" : message[(at + 10)..]).Split(". ")[0].Trim().TrimEnd('.');
            var owner = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "the report" : e.Path;
            return $"{owner} lacks required field{(missing.Contains(',', StringComparison.Ordinal) ? "s" : "")} {missing}{where}";
        }
        var path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? null : e.Path;
        var truncated = message.Contains("end of data", StringComparison.Ordinal) || message.Contains("does not contain any JSON tokens", StringComparison.Ordinal)
            || message.Contains("Expected depth to be zero", StringComparison.Ordinal);
        if (truncated)
            return $"is not complete JSON{where}: the file ends too early (cut short, or empty)";
        if (path is null || !message.Contains("could not be converted", StringComparison.Ordinal) && !message.Contains("null", StringComparison.Ordinal))
            return $"is not valid JSON{where}: {Sentence(message)}";
        var name = path.Split('.', '[').Last().TrimEnd(']');
        var allowed = Allowed.TryGetValue(name, out var a) ? $"; allowed: {a}" : "";
        var value = ValueAt(json, path);
        if (message.Contains("null", StringComparison.OrdinalIgnoreCase) && value == "null")
            return $"{path} is null{where}; a value is required{allowed}";
        return $"{path} = {value ?? "(unreadable)"}{where} is not a value this field takes{allowed}";
    }

    /// <summary>The raw JSON text at <paramref name="path"/> ($.a.b[2].c), shortened; null when the path does not resolve.</summary>
    private static string? ValueAt(ReadOnlySpan<byte> json, string path)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var element = document.RootElement;
            foreach (var part in path.TrimStart('$').Split('.', StringSplitOptions.RemoveEmptyEntries))
            {
                var name = part;
                var index = new List<int>();
                while (name.EndsWith(']') && name.LastIndexOf('[') is var open and >= 0)
                {
                    index.Insert(0, int.Parse(name[(open + 1)..^1], CultureInfo.InvariantCulture));
                    name = name[..open];
                }
                if (name.Length > 0)
                    element = element.GetProperty(name);
                foreach (var i in index)
                    element = element[i];
            }
            var raw = element.GetRawText();
            return raw.Length <= 60 ? raw : raw[..57] + "…";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException or OverflowException)
        {
            return null;
        }
    }

    private static string Sentence(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        var s = (cut < 0 ? message : message[..cut]).Trim();
        return s.Length <= 160 ? s : s[..157] + "…";
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
