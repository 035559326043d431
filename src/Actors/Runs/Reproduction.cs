using System.Globalization;

namespace HvIommu.Actors.Runs;

/// <summary>
/// The command lines printed to reproduce a run. They run as printed from the repository root: paths inside
/// the repository are written relative to it, others absolute, and every option that shaped the run is
/// there (mode, strategy, depth, step budget, operations, duration).
/// </summary>
public static class Reproduction
{
    public const string Program = "dotnet run --project src/Actors -c Release --";

    /// <summary>The <c>run</c> command that repeats a run of <paramref name="configPath"/> with this seed.</summary>
    /// <param name="deterministic">The schedule options of a deterministic run; null for stress mode.</param>
    /// <param name="workloadTrace">The kernel trace replayed as the workload (<c>--workload-trace</c>), if any.</param>
    public static string Run(string? configPath, ulong seed, long? ops, ScheduleOptions? deterministic, TimeSpan? duration = null, string? workloadTrace = null)
    {
        var parts = new List<string> { Program + " run" };
        if (configPath is not null)
            parts.Add("--config " + PathArgument(configPath));
        if (workloadTrace is not null)
            parts.Add("--workload-trace " + PathArgument(workloadTrace));
        parts.Add("--seed " + seed.ToString(CultureInfo.InvariantCulture));
        if (ops is { } o)
            parts.Add("--ops " + o.ToString(CultureInfo.InvariantCulture));
        if (duration is { } d)
            parts.Add("--duration " + d.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + "ms");
        if (deterministic is null)
        {
            parts.Add("--mode stress");
            return string.Join(' ', parts);
        }
        // A concrete strategy text (pct depth=3 length=57) is one argument: quoted.
        parts.Add("--mode deterministic --strategy " + (deterministic.Strategy.Contains(' ', StringComparison.Ordinal) ? $"\"{deterministic.Strategy}\"" : deterministic.Strategy));
        if (deterministic.PctDepth is { } depth)
            parts.Add("--pct-depth " + depth.ToString(CultureInfo.InvariantCulture));
        if (deterministic.MaxSteps != ScheduleOptions.DefaultMaxSteps)
            parts.Add("--max-steps " + deterministic.MaxSteps.ToString(CultureInfo.InvariantCulture));
        return string.Join(' ', parts);
    }

    /// <summary>The <c>replay</c> command for a report file.</summary>
    public static string Replay(string reportPath) => $"{Program} replay --report {PathArgument(reportPath)}";

    /// <summary>
    /// A path as the printed command needs it: relative to the repository root when inside it (the command
    /// runs from there), absolute otherwise; quoted for a POSIX shell when it holds anything but safe characters.
    /// </summary>
    public static string PathArgument(string path)
    {
        var full = Path.GetFullPath(path);
        var root = RepositoryRoot();
        var shown = root is not null && full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? Path.GetRelativePath(root, full)
            : full;
        return shown.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+' or ',' or ':' or '@')
            ? shown
            : "'" + shown.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>The directory holding HvIommu.Actors.sln, searched upwards from the current directory, then from the program.</summary>
    public static string? RepositoryRoot() => FindUp(Environment.CurrentDirectory) ?? FindUp(AppContext.BaseDirectory);

    private static string? FindUp(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HvIommu.Actors.sln")))
                return dir.FullName;
        return null;
    }
}
