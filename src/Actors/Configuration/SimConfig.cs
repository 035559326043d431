using Akka.Configuration;
using Akka.Configuration.Hocon;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Configuration;

/// <summary>A configuration ready to run: the merged HOCON (for Akka and the report) and the typed settings.</summary>
public sealed record LoadedConfig(string File, Config Merged, SimSettings Settings);

/// <summary>
/// Loads a topology or scenario: the embedded <c>reference.conf</c> documents and defaults every key;
/// <c>--config FILE</c> (or the embedded <c>default.conf</c>) overlays it. Every problem — malformed
/// HOCON, unknown key, wrong type, out-of-range value, broken cross reference — is reported together.
/// </summary>
public static class SimConfig
{
    public const string DefaultConfigName = "default.conf";

    public static Config Reference { get; } = ConfigurationFactory.ParseString(ReadResource("reference.conf"));

    public static string DefaultText => ReadResource(DefaultConfigName);

    /// <summary>Loads <paramref name="path"/>, or the embedded default topology when null.</summary>
    /// <param name="overrides">HOCON lines applied on top (from command-line options such as --seed).</param>
    /// <exception cref="ConfigException">Anything is wrong; all problems are listed.</exception>
    public static LoadedConfig Load(string? path, IEnumerable<string>? overrides = null)
    {
        string text, file;
        if (path is null)
        {
            text = DefaultText;
            file = DefaultConfigName + " (embedded)";
        }
        else
        {
            file = path;
            if (System.IO.Directory.Exists(path))
                throw new ConfigException([new ConfigProblem(path, "--config", path, "is a directory, not a file")]);
            if (!System.IO.File.Exists(path))
                throw new ConfigException([new ConfigProblem(path, "--config", path, "no such file")]);
            if (new FileInfo(path).Length > HoconGuard.MaxBytes)
                throw new ConfigException([new ConfigProblem(path, ConfigProblem.WholeFile, "", $"larger than the {HoconGuard.MaxBytes:N0} bytes a configuration may have")]);
            text = System.IO.File.ReadAllText(path);
        }
        // A knob set off on the command line is deliberate; a knob missing from the file may be a cut-off file.
        var knobOverridden = overrides?.Any(o => HvIommu.Model.Hazards.HazardRegistry.All.Any(k => o.Contains(k.ShortKey, StringComparison.Ordinal))) ?? false;
        return Parse(text, file, overrides, asWritten: !knobOverridden);
    }

    /// <summary>The marker of an override line set by a command-line option (<see cref="FromOption"/>).</summary>
    private const string OptionMark = " # set by ";

    /// <summary>An override line for <paramref name="key"/> set by the command-line <paramref name="option"/>: a problem
    /// with its value then names the option the user typed, not the config file the key would come from.</summary>
    public static string FromOption(string option, string key, string value) => $"{key} = {value}{OptionMark}{option}";

    /// <summary>Each problem with a key an option set, reworded to name that option (and the key it sets).</summary>
    private static IEnumerable<ConfigProblem> NamingOptions(List<ConfigProblem> problems, IEnumerable<string>? overrides)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in overrides ?? [])
            if (line.IndexOf(OptionMark, StringComparison.Ordinal) is var mark and > 0 && line.IndexOf('=', StringComparison.Ordinal) is var eq and > 0 && eq < mark)
                options[line[..eq].Trim()] = line[(mark + OptionMark.Length)..].Trim();
        return problems.Select(p => options.TryGetValue(p.Key, out var option)
            ? new ConfigProblem(option, ConfigProblem.WholeFile, p.Value, $"{p.Message} (the option sets {p.Key})")
            : p);
    }

    /// <summary>Loads configuration text as if it were a file named <paramref name="file"/>.</summary>
    /// <param name="asWritten">The text is a file as its author wrote it (not a resolved config, not a sweep cell):
    /// also check that a scenario expecting a hazard's violation switches one of its knobs on.</param>
    public static LoadedConfig Parse(string text, string file, IEnumerable<string>? overrides = null, bool asWritten = false)
    {
        var overlay = ParseOrThrow(text, file);
        foreach (var line in overrides ?? [])
            overlay = ParseOrThrow(line, "command line").WithFallback(overlay);
        var problems = new List<ConfigProblem>();
        CheckUnknownKeys(overlay, file, problems);
        var merged = overlay.WithFallback(Reference);
        var reader = new HoconReader(merged, overlay, file, problems);
        var settings = SettingsReader.Read(reader);
        if (asWritten)
            SettingsReader.CheckHazardKnobOn(reader, settings);
        TraceTopology.Check(settings, file, problems);
        if (problems.Count == 0)
            DispatcherCheck.Check(reader, settings.Run.Dispatcher);
        if (problems.Count > 0)
            throw new ConfigException([.. NamingOptions(problems, overrides)]);
        return new LoadedConfig(file, merged, settings);
    }

    private static Config ParseOrThrow(string text, string file)
    {
        var shape = HoconGuard.Check(text);
        if (shape.Count > 0)
            throw new ConfigException([.. shape.Select(p => new ConfigProblem(file, ConfigProblem.WholeFile, "", p))]);
        try
        {
            var config = ConfigurationFactory.ParseString(text);
            // Akka's parser is lazy about some errors; touching the tree surfaces them here.
            _ = config.Root.ToString();
            return config;
        }
        catch (Exception e) when (e is not ConfigException)
        {
            throw new ConfigException([new ConfigProblem(file, ConfigProblem.WholeFile, "", "malformed HOCON: " + DescribeSyntaxError(text, e.Message))]);
        }
    }

    /// <summary>
    /// Akka's parser reports "Unknown token at position N:" followed by the text around it over several
    /// lines; a problem is one line, so the offset becomes a line and column and the offending line is quoted.
    /// </summary>
    internal static string DescribeSyntaxError(string text, string message)
    {
        var first = message.ReplaceLineEndings("\n").Split("\n")[0].Trim().TrimEnd(':');
        var match = System.Text.RegularExpressions.Regex.Match(first, @"^(.*) at position (\d+)$");
        if (!match.Success || !int.TryParse(match.Groups[2].Value, out var position) || position > text.Length)
            return first;
        var before = text[..position];
        var line = before.Count(c => c == '\n') + 1;
        var lineStart = before.LastIndexOf('\n') + 1;
        var lineEnd = text.IndexOf('\n', position);
        var lineText = text[lineStart..(lineEnd < 0 ? text.Length : lineEnd)].Trim();
        var hint = position < text.Length && text[position] == ',' && text[..position].TrimEnd().EndsWith('}')
            ? " (Akka's HOCON parser takes no ',' after a closing '}'; end the line there instead)"
            : "";
        return $"{match.Groups[1].Value.ToLowerInvariant()} at line {line}, column {position - lineStart + 1}: '{lineText}'{hint}";
    }

    private static void CheckUnknownKeys(Config overlay, string file, List<ConfigProblem> problems)
    {
        if (!overlay.Root.IsObject())
            return;
        foreach (var (key, value) in overlay.Root.GetObject().Items)
        {
            if (key is "akka")
                continue;
            if (key != "hviommu")
            {
                problems.Add(new ConfigProblem(file, key, HoconReader.Render(value), "unknown top-level section; allowed: hviommu, akka"));
                continue;
            }
            CompareTo(Reference.GetValue("hviommu"), value, "hviommu", file, problems);
        }
    }

    private static void CompareTo(HoconValue reference, HoconValue given, string path, string file, List<ConfigProblem> problems)
    {
        if (!given.IsObject() || !reference.IsObject())
            return;
        var known = reference.GetObject().Items;
        foreach (var (key, value) in given.GetObject().Items)
        {
            if (!known.TryGetValue(key, out var refValue))
            {
                problems.Add(new ConfigProblem(file, $"{path}.{key}", HoconReader.Render(value), "unknown key; allowed here: " + string.Join(", ", known.Keys)));
                continue;
            }
            if (refValue.IsObject() && !value.IsObject())
                problems.Add(new ConfigProblem(file, $"{path}.{key}", HoconReader.Render(value), "expected a section { … }"));
            else
                CompareTo(refValue, value, $"{path}.{key}", file, problems);
        }
    }

    private static string ReadResource(string name)
    {
        using var stream = typeof(SimConfig).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded resource {name} is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
