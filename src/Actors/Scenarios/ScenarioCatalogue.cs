using HvIommu.Actors.Configuration;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Scenarios;

/// <summary>One scenario file of the hazard catalogue (docs/design.md §3, config layout).</summary>
/// <param name="ExpectKind">The violation kind the scenario must show, or null for any kind (or when clean).</param>
public sealed record ScenarioEntry(string File, string Name, string Hazard, Expectation Expect, string? ExpectKind, string Description, long Ops)
{
    /// <summary>"clean", "violation" or "violation:Kind".</summary>
    public string ExpectText => Expect == Expectation.Clean ? "clean" : ExpectKind is null ? "violation" : "violation:" + ExpectKind;

    /// <summary>The hazard's number (H5 → 5), for sorting; unnumbered hazards sort last.</summary>
    public int HazardNumber => Hazard.Length > 1 && (Hazard[0] is 'H' or 'h') && int.TryParse(Hazard[1..], out var n) ? n : int.MaxValue;
}

/// <summary>
/// The scenario catalogue: every <c>*.conf</c> of a directory (normally <c>config/scenarios</c>), loaded as
/// <c>run</c> would load it, and held to the catalogue's conventions — the file is
/// <c>&lt;hazard&gt;-&lt;variant&gt;-wrong.conf</c> or <c>…-right.conf</c>, <c>name</c> is the file name without
/// <c>.conf</c>, <c>hazard</c> is set, a wrong scenario expects a violation and a right one expects clean,
/// and every wrong scenario has its right twin and vice versa.
/// </summary>
public static class ScenarioCatalogue
{
    public const string WrongSuffix = "-wrong";
    public const string RightSuffix = "-right";

    /// <summary>Loads every scenario of <paramref name="directory"/>, sorted by hazard number then name.</summary>
    public static (IReadOnlyList<ScenarioEntry> Entries, IReadOnlyList<ConfigProblem> Problems) Load(string directory)
    {
        var entries = new List<ScenarioEntry>();
        var problems = new List<ConfigProblem>();
        foreach (var file in Directory.GetFiles(directory, "*.conf").OrderBy(f => f, StringComparer.Ordinal))
        {
            try
            {
                var entry = Read(SimConfig.Load(file), file);
                CheckConventions(entry, problems);
                entries.Add(entry);
            }
            catch (ConfigException e)
            {
                problems.AddRange(e.Problems);
            }
        }
        CheckTwins(entries, problems);
        return (entries.OrderBy(e => e.HazardNumber).ThenBy(e => e.Name, StringComparer.Ordinal).ToList(), problems);
    }

    /// <summary>
    /// The scenario directory: <paramref name="explicitDir"/> when given; otherwise <c>config/scenarios</c>
    /// under the current directory or, failing that, under the repository root found above it or above the
    /// program. Null when none exists.
    /// </summary>
    public static string? FindDirectory(string? explicitDir) => FindConfigDirectory(explicitDir, "scenarios");

    /// <summary><paramref name="explicitDir"/> when given, else <c>config/NAME</c> found as <see cref="FindDirectory"/>
    /// finds <c>config/scenarios</c>; null when none exists.</summary>
    public static string? FindConfigDirectory(string? explicitDir, string name)
    {
        if (explicitDir is not null)
            return Directory.Exists(explicitDir) ? explicitDir : null;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "config", name);
                if (Directory.Exists(candidate))
                    return candidate;
                if (File.Exists(Path.Combine(dir.FullName, "HvIommu.Actors.sln")))
                    break;
            }
        return null;
    }

    private static ScenarioEntry Read(LoadedConfig config, string file)
    {
        var s = config.Settings;
        return new ScenarioEntry(file, s.Name, s.Hazard, s.Expect, s.ExpectKind, s.Description, s.Run.Ops);
    }

    private static void CheckConventions(ScenarioEntry e, List<ConfigProblem> problems)
    {
        var stem = Path.GetFileNameWithoutExtension(e.File);
        if (e.Name != stem)
            problems.Add(new ConfigProblem(e.File, "hviommu.name", e.Name, $"a scenario's name must be its file name without .conf ('{stem}')"));
        if (e.HazardNumber == int.MaxValue)
            problems.Add(new ConfigProblem(e.File, "hviommu.hazard", e.Hazard, "a scenario names its hazard from the brief (H1 … H20)"));
        else if (!stem.StartsWith(e.Hazard.ToLowerInvariant() + "-", StringComparison.Ordinal))
            problems.Add(new ConfigProblem(e.File, "hviommu.hazard", e.Hazard, $"the file name must start with '{e.Hazard.ToLowerInvariant()}-'"));
        if (e.Description.Length == 0)
            problems.Add(new ConfigProblem(e.File, "hviommu.description", "", "a scenario says in one line what it shows"));
        if (stem.EndsWith(WrongSuffix, StringComparison.Ordinal) && e.Expect != Expectation.Violation)
            problems.Add(new ConfigProblem(e.File, "hviommu.expect", e.ExpectText, "a -wrong scenario expects a violation"));
        else if (stem.EndsWith(RightSuffix, StringComparison.Ordinal) && e.Expect != Expectation.Clean)
            problems.Add(new ConfigProblem(e.File, "hviommu.expect", e.ExpectText, "a -right scenario expects clean"));
        else if (!stem.EndsWith(WrongSuffix, StringComparison.Ordinal) && !stem.EndsWith(RightSuffix, StringComparison.Ordinal))
            problems.Add(new ConfigProblem(e.File, ConfigProblem.WholeFile, Path.GetFileName(e.File), "a scenario file is named <hazard>-<variant>-wrong.conf or <hazard>-<variant>-right.conf"));
    }

    private static void CheckTwins(IReadOnlyList<ScenarioEntry> entries, List<ConfigProblem> problems)
    {
        var stems = entries.Select(e => Path.GetFileNameWithoutExtension(e.File)).ToHashSet(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var stem = Path.GetFileNameWithoutExtension(e.File);
            var twin = Twin(stem);
            if (twin is not null && !stems.Contains(twin))
                problems.Add(new ConfigProblem(e.File, ConfigProblem.WholeFile, Path.GetFileName(e.File), $"has no twin: {twin}.conf is missing beside it"));
        }
    }

    /// <summary>The twin's file name without .conf: -wrong ↔ -right; null for a name with neither suffix.</summary>
    public static string? Twin(string stem) =>
        stem.EndsWith(WrongSuffix, StringComparison.Ordinal) ? stem[..^WrongSuffix.Length] + RightSuffix
        : stem.EndsWith(RightSuffix, StringComparison.Ordinal) ? stem[..^RightSuffix.Length] + WrongSuffix
        : null;
}
