using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Cli;

/// <summary>
/// A deterministic run as a report records it, ready to run again from any directory: the report, the schedule
/// found beside it (by file name, next to the report, whatever directory the run was made from), and the
/// configuration rebuilt from the resolved config the report stores — not from the file it names, which may
/// have changed or moved since.
/// </summary>
public sealed record RecordedRun(string ReportPath, RunReport Report, string SchedulePath, ScheduleFile Schedule, LoadedConfig Config)
{
    /// <summary>Reads and checks everything <c>replay --report</c> and <c>minimize --report</c> need; throws <see cref="UsageException"/>.</summary>
    public static RecordedRun Load(string option, string reportPath, string purpose)
    {
        OutputPaths.CheckInput(option, reportPath);
        RunReport report;
        try
        {
            report = ReportReader.Read(reportPath);
        }
        catch (Exception e) when (e is ReportFormatException or JsonException or IOException or NotSupportedException)
        {
            throw new UsageException($"{option} {reportPath}: not a readable report: {(e is ReportFormatException f ? f.Problem : FirstLine(e.Message))}");
        }
        if (report.Mode != RunMode.Deterministic)
            throw new UsageException($"{option} {reportPath}: a {report.Mode.ToString().ToLowerInvariant()} run cannot be {purpose}; only deterministic runs can");
        if (string.IsNullOrEmpty(report.TraceHash))
            throw new UsageException($"{option} {reportPath}: the report has no traceHash, which every deterministic report carries; it cannot be {purpose}");
        // A hand-edited hash could never match a replay's: refuse it as bad input, not "NOT REPRODUCED" (TraceHash.ToString is x16).
        if (report.TraceHash is not { Length: 16 } hash || !hash.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
            throw new UsageException($"{option} {reportPath}: not a readable report: $.traceHash = \"{report.TraceHash}\" is not a value this field takes; "
                + "allowed: the trace hash the run wrote, a string of 16 hex digits");
        var schedulePath = FindSchedule(option, reportPath, report);
        var schedule = LoadSchedule("schedule file", schedulePath);
        if (schedule.Seed != report.Seed)
            throw new UsageException($"schedule file {schedulePath}: seed {schedule.Seed} is not the report's seed {report.Seed}; the two files belong to different runs");
        return new RecordedRun(reportPath, report, schedulePath, schedule, FromResolved(report, reportPath));
    }

    /// <summary>A schedule file, parsed and checked; throws <see cref="UsageException"/> naming <paramref name="what"/>
    /// (the option, or "schedule file") and the file.</summary>
    public static ScheduleFile LoadSchedule(string what, string path)
    {
        OutputPaths.CheckInput(what, path);
        try
        {
            return ScheduleFile.Load(path);
        }
        catch (Exception e) when (e is FormatException or IOException or OverflowException or ArgumentException)
        {
            // ScheduleFile's messages start "schedule file line N: …" or "schedule file: …": say which file once.
            var problem = FirstLine(e.Message);
            problem = problem.StartsWith("schedule file", StringComparison.Ordinal) ? problem["schedule file".Length..].TrimStart(':', ' ') : problem;
            throw new UsageException($"{what} {path}: {problem}");
        }
    }

    /// <summary>The report's own schedule: beside the report first (its usual place, found from any directory), then
    /// the report's own name with .schedule (a pair renamed together), then as recorded.</summary>
    private static string FindSchedule(string option, string reportPath, RunReport report)
    {
        var recorded = report.Artifacts.Where(a => a.EndsWith(".schedule", StringComparison.Ordinal)).ToList();
        var directory = Path.GetDirectoryName(Path.GetFullPath(reportPath))!;
        var own = Path.ChangeExtension(Path.GetFullPath(reportPath), ".schedule");
        foreach (var candidate in recorded.Select(a => Path.Combine(directory, Path.GetFileName(a))).Append(own).Concat(recorded.Where(Path.IsPathRooted)))
            if (File.Exists(candidate))
                return candidate;
        throw new UsageException(recorded.Count == 0
            ? $"{option} {reportPath}: it names no schedule file among its artifacts, and {Path.GetFileName(own)} is not beside it"
            : $"{option} {reportPath}: its schedule {Path.GetFileName(recorded[0])} is not beside it in {directory}");
    }

    /// <summary>The configuration the run used, rebuilt from the report's <c>config.resolved</c>.</summary>
    private static LoadedConfig FromResolved(RunReport report, string reportPath)
    {
        if (report.Config.Resolved.ValueKind != JsonValueKind.Object)
            throw new UsageException($"--report {reportPath}: config.resolved is missing or not an object");
        try
        {
            return SimConfig.Parse("hviommu = " + report.Config.Resolved.GetRawText(), $"{report.Config.File} (as resolved in {reportPath})");
        }
        catch (ConfigException e)
        {
            throw new UsageException($"--report {reportPath}: its resolved config does not load: {e.Problems[0]}");
        }
    }

    private static string FirstLine(string s)
    {
        var n = s.IndexOf('\n', StringComparison.Ordinal);
        return n < 0 ? s : s[..n].TrimEnd();
    }
}
