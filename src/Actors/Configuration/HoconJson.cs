using System.Globalization;
using System.Text.Json;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace HvIommu.Actors.Configuration;

/// <summary>
/// Writes a merged HOCON tree as JSON, for <c>validate --json</c> and the run report's
/// <c>config.resolved</c>. HOCON keeps every scalar as text; here a scalar that reads as a JSON number
/// becomes a number and one of the words the loader accepts as a switch (on/off, true/false, yes/no)
/// becomes a boolean, so the JSON says what the simulator understood. Anything else (durations such as
/// <c>10ms</c>, hex, <c>4K</c>) stays a string, exactly as written.
/// </summary>
public static class HoconJson
{
    /// <summary>The tree at <paramref name="path"/> of <paramref name="merged"/> as a JSON value.</summary>
    /// <exception cref="ArgumentException">The path is not in the configuration.</exception>
    public static JsonElement ToJson(Config merged, string path = "hviommu")
    {
        var value = merged.GetValue(path) ?? throw new ArgumentException($"the configuration has no '{path}'", nameof(path));
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            Write(writer, value);
        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private static void Write(Utf8JsonWriter writer, HoconValue value)
    {
        if (value.IsObject())
        {
            writer.WriteStartObject();
            foreach (var (key, child) in value.GetObject().Items)
            {
                writer.WritePropertyName(key);
                Write(writer, child);
            }
            writer.WriteEndObject();
        }
        else if (HoconReader.IsList(value))
        {
            writer.WriteStartArray();
            foreach (var item in HoconReader.ListItems(value))
                Write(writer, item);
            writer.WriteEndArray();
        }
        else if (value.Values.Count == 0)
        {
            // Akka's parser leaves a key with nothing after '=' as an empty value.
            writer.WriteNullValue();
        }
        else
        {
            WriteScalar(writer, value.GetString() ?? "");
        }
    }

    private static void WriteScalar(Utf8JsonWriter writer, string text)
    {
        if (IsJsonNumber(text))
        {
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
                writer.WriteNumberValue(l);
            else if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var u))
                writer.WriteNumberValue(u);
            else if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                     && !LosesIntegerDigits(text))
                writer.WriteNumberValue(d);
            else
                writer.WriteStringValue(text);
            return;
        }
        switch (text.ToLowerInvariant())
        {
            case "on" or "true" or "yes":
                writer.WriteBooleanValue(true);
                break;
            case "off" or "false" or "no":
                writer.WriteBooleanValue(false);
                break;
            default:
                writer.WriteStringValue(text);
                break;
        }
    }

    /// <summary>True when the text has JSON number syntax: -?digits[.digits][e[+-]digits], no leading zeros.</summary>
    private static bool IsJsonNumber(string s)
    {
        var i = 0;
        if (i < s.Length && s[i] == '-')
            i++;
        var intStart = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
            i++;
        var intDigits = i - intStart;
        if (intDigits == 0 || (intDigits > 1 && s[intStart] == '0'))
            return false;
        if (i < s.Length && s[i] == '.')
        {
            var fracStart = ++i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
                i++;
            if (i == fracStart)
                return false;
        }
        if (i < s.Length && s[i] is 'e' or 'E')
        {
            i++;
            if (i < s.Length && s[i] is '+' or '-')
                i++;
            var expStart = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
                i++;
            if (i == expStart)
                return false;
        }
        return i == s.Length;
    }

    /// <summary>An integer too large for a ulong would be rounded as a double; keep it as text instead.</summary>
    private static bool LosesIntegerDigits(string s) => !s.Contains('.') && !s.Contains('e') && !s.Contains('E');
}
