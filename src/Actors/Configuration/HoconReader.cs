using System.Globalization;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace HvIommu.Actors.Configuration;

/// <summary>
/// Reads typed values out of a merged HOCON tree and collects a <see cref="ConfigProblem"/> for every
/// bad value instead of stopping at the first, so the user sees everything wrong at once. Each problem
/// names the file the value came from (the overlay, or the embedded reference.conf).
/// </summary>
internal sealed class HoconReader(Config merged, Config? overlay, string overlayFile, List<ConfigProblem> problems, string keyPrefix = "", HoconReader? parent = null, string? defaultsPath = null)
{
    public const string ReferenceFile = "reference.conf";

    public List<ConfigProblem> Problems => problems;

    /// <summary>The file a key's value comes from.</summary>
    public string SourceOf(string path) => overlay is not null && SafeHasPath(overlay, ListKey(path)) ? overlayFile : ReferenceFile;

    /// <summary>The key of a list element's path (<c>hviommu.devices[0]</c> → <c>hviommu.devices</c>): HOCON has no
    /// path to an element, and a list is written whole by one file.</summary>
    private static string ListKey(string path) => path.IndexOf('[', StringComparison.Ordinal) is var b and >= 0 ? path[..b] : path;

    /// <summary>Records a problem with <paramref name="path"/>; in a list element, a value the element took from its
    /// defaults section is blamed on that section's key and file (<c>device-defaults.ats</c>), where it was written.</summary>
    public void Problem(string path, string value, string message)
    {
        // One problem per key: a follow-up (an empty name after "missing") would only repeat it, blamed elsewhere.
        if (problems.Exists(p => p.Key == keyPrefix + path))
            return;
        if (parent is not null && defaultsPath is not null && overlay is not null && !SafeHasPath(overlay, path))
            parent.Problem($"{defaultsPath}.{path}", value, message);
        else
            problems.Add(new ConfigProblem(SourceOf(path), keyPrefix + path, value, message));
    }

    /// <summary>A reader over one object of a list (a device, a domain, a fault), reporting keys as
    /// <c>hviommu.devices[2].domain</c>; <paramref name="defaults"/> supplies keys the element omits.</summary>
    /// <param name="defaultsPath">Where <paramref name="defaults"/> comes from (e.g. <c>hviommu.device-defaults</c>).</param>
    public HoconReader Element(string listPath, int index, HoconValue element, Config? defaults, string? defaultsPath = null)
    {
        var own = new Config(new HoconRoot(element));
        var merged = defaults is null ? own : own.WithFallback(defaults);
        return new HoconReader(merged, own, SourceOf(listPath), problems, $"{keyPrefix}{listPath}[{index}].", this, defaultsPath);
    }

    public Config Merged => merged;

    public HoconValue? Value(string path)
    {
        if (!SafeHasPath(merged, path))
        {
            // A key under a section the file replaced with a value (hviommu.vm = 3) is missing because of that one
            // mistake, already reported on the section: no follow-up per key, blamed on reference.conf.
            if (ReportedAncestor(path))
                return null;
            // A key missing from a list element and from its defaults is the element's to give: blame the element
            // (hviommu.devices[0].name in the file that wrote the list), not the defaults section.
            problems.Add(new ConfigProblem(parent is not null ? overlayFile : SourceOf(path), keyPrefix + path, "", defaultsPath is null
                ? "missing (and reference.conf has no default)"
                : $"missing: every entry needs it ({defaultsPath} has no default)"));
            return null;
        }
        return merged.GetValue(path);
    }

    /// <summary>True when a problem was already recorded for a section that encloses <paramref name="path"/>.</summary>
    private bool ReportedAncestor(string path)
    {
        for (var dot = path.LastIndexOf('.'); dot > 0; dot = path.LastIndexOf('.', dot - 1))
        {
            var ancestor = keyPrefix + path[..dot];
            if (problems.Exists(p => p.Key == ancestor))
                return true;
        }
        return false;
    }

    public string? Scalar(string path)
    {
        var v = Value(path);
        if (v is null)
            return null;
        if (v.IsObject() || IsList(v))
        {
            Problem(path, Render(v), "expected a single value, got " + (IsList(v) ? "a list" : "an object"));
            return null;
        }
        var text = v.GetString();
        if (text is null)
            Problem(path, "", "has no value after '='");
        return text;
    }

    public string String(string path, string fallback = "") => Scalar(path) ?? fallback;

    public long Long(string path, long min, long max, long fallback = 0)
    {
        var s = Scalar(path);
        if (s is null)
            return fallback;
        if (!TryParseLong(s, out var v) || v < min || v > max)
        {
            Problem(path, s, $"expected a whole number from {min} to {max}");
            return fallback;
        }
        return v;
    }

    public int Int(string path, int min, int max, int fallback = 0) => (int)Long(path, min, max, fallback);

    public ulong ULong(string path)
    {
        var s = Scalar(path);
        if (s is null)
            return 0;
        var ok = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok)
            Problem(path, s, "expected an unsigned whole number (decimal, or hex with 0x)");
        return v;
    }

    public double Double(string path, double min, double max, double fallback = 0)
    {
        var s = Scalar(path);
        if (s is null)
            return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || double.IsNaN(v) || v < min || v > max)
        {
            Problem(path, s, $"expected a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
            return fallback;
        }
        return v;
    }

    public bool Bool(string path, bool fallback = false)
    {
        var s = Scalar(path);
        if (s is null)
            return fallback;
        switch (s.ToLowerInvariant())
        {
            case "on" or "true" or "yes":
                return true;
            case "off" or "false" or "no":
                return false;
            default:
                Problem(path, s, "expected on or off (true/false, yes/no)");
                return fallback;
        }
    }

    public TimeSpan Duration(string path, TimeSpan min, TimeSpan max, TimeSpan fallback)
    {
        var s = Scalar(path);
        if (s is null)
            return fallback;
        // HOCON reads a bare number as milliseconds; the command line refuses one (--duration 5), so the file does too.
        if (double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            Problem(path, s, $"has no unit: write {s.Trim()}ms, {s.Trim()}s, {s.Trim()}m or {s.Trim()}h (a duration from {Show(min)} to {Show(max)})");
            return fallback;
        }
        if (!TryParseDuration(s, out var d) || d < min || d > max)
        {
            Problem(path, s, $"expected a duration from {Show(min)} to {Show(max)} (e.g. 10ms, 2s, 1m)");
            return fallback;
        }
        return d;
    }

    /// <summary>One of a fixed set of words (case-insensitive, '-' and '_' ignored), mapped to a value.</summary>
    public T Choice<T>(string path, IReadOnlyDictionary<string, T> allowed, T fallback)
    {
        var s = Scalar(path);
        if (s is null)
            return fallback;
        foreach (var (word, value) in allowed)
            if (Normalize(word) == Normalize(s))
                return value;
        Problem(path, s, "expected one of: " + string.Join(", ", allowed.Keys));
        return fallback;
    }

    public IList<HoconValue> List(string path)
    {
        var v = Value(path);
        if (v is null)
            return Array.Empty<HoconValue>();
        if (!IsList(v))
        {
            Problem(path, Render(v), "expected a list [ … ]");
            return Array.Empty<HoconValue>();
        }
        return ListItems(v);
    }

    public IReadOnlyList<string> StringList(string path)
    {
        var result = new List<string>();
        foreach (var item in List(path))
        {
            if (item.IsObject() || IsList(item))
                Problem(path, Render(item), "expected a list of words");
            else
                result.Add(item.GetString());
        }
        return result;
    }

    public static string Normalize(string s) => s.Replace("-", "").Replace("_", "").ToLowerInvariant();

    /// <summary>
    /// True for a list. Akka's <c>IsArray()</c> is false for an empty list written <c>[]</c>, which it
    /// keeps as a value holding one empty <see cref="HoconArray"/>; and a list followed by blanks on its
    /// line (<c>b = [1, 2] }</c>) comes as the array concatenated with a blank literal.
    /// </summary>
    public static bool IsList(HoconValue v) =>
        v.Values.Any(e => e is HoconArray)
        && v.Values.All(e => e is HoconArray || (e.IsString() && string.IsNullOrWhiteSpace(e.GetString())));

    /// <summary>
    /// A list's elements. Akka's parser reads <c>[ ]</c> (blanks inside) as a list of one element that
    /// has no value at all; such phantom elements are dropped.
    /// </summary>
    public static IList<HoconValue> ListItems(HoconValue list) => list.GetArray().Where(item => item.Values.Count > 0).ToList();

    public static string Render(HoconValue v)
    {
        if (IsList(v) && ListItems(v).Count == 0)
            return "[]";
        if (v.Values.Count == 0)
            return "";
        var text = v.ToString().ReplaceLineEndings(" ").Trim();
        return text.Length > 80 ? text[..77] + "..." : text;
    }

    public static bool TryParseLong(string s, out long v)
    {
        s = s.Replace("_", "");
        return s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v)
            : long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out v);
    }

    public static bool TryParseDuration(string s, out TimeSpan d)
    {
        d = default;
        var t = s.Trim();
        var i = 0;
        while (i < t.Length && (char.IsDigit(t[i]) || t[i] == '.'))
            i++;
        if (i == 0 || !double.TryParse(t[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            return false;
        var unit = t[i..].Trim().ToLowerInvariant();
        double? ms = unit switch
        {
            "ns" or "nanos" or "nanoseconds" => n / 1e6,
            "us" or "micros" or "microseconds" => n / 1e3,
            "" or "ms" or "millis" or "milliseconds" => n,
            "s" or "second" or "seconds" => n * 1e3,
            "m" or "minute" or "minutes" => n * 60e3,
            "h" or "hour" or "hours" => n * 3600e3,
            _ => null,
        };
        if (ms is null || ms > TimeSpan.MaxValue.TotalMilliseconds)
            return false;
        d = TimeSpan.FromTicks((long)Math.Round(ms.Value * TimeSpan.TicksPerMillisecond));
        return true;
    }

    private static string Show(TimeSpan t) => t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0.###}ms" : $"{t.TotalSeconds:0.###}s";

    private static bool SafeHasPath(Config c, string path)
    {
        try
        {
            return c.HasPath(path);
        }
        catch (Exception)
        {
            // Akka's HasPath throws when a prefix of the path is a scalar; for us that is "not there".
            return false;
        }
    }
}
