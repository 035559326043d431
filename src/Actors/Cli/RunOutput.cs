using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cli;

/// <summary>Where <c>--trace</c> goes and what it holds.</summary>
public sealed record TraceRequest(string Directory, SimTrace Trace);

/// <summary>
/// What every running command prints and writes when a run ends: the trace files, the schedule beside the
/// report, the summary table, the report (last, so that it names only files that exist) and the verdict line.
/// Paths were checked before the run (<see cref="OutputPaths"/>).
/// </summary>
public static class RunOutput
{
    public static TraceRequest? Trace(string? directory, SimTrace? trace) =>
        directory is not null && trace is not null ? new TraceRequest(directory, trace) : null;

    /// <summary>Summary, report (with the schedule and the trace files beside it), verdict; returns the exit code.</summary>
    public static int Finish(CliContext cli, RunReport report, RunVerdict verdict, string? failure, string? initFailed, string? reportPath, ScheduleFile? schedule, TraceRequest? trace = null)
    {
        var stdout = cli.Out;
        stdout.WriteLine();
        if (trace is not null)
            report = report with { Artifacts = [.. report.Artifacts, .. WriteTrace(stdout, trace, report)] };
        if (reportPath is not null && schedule is not null)
        {
            var schedulePath = Path.ChangeExtension(reportPath, ".schedule");
            AtomicFile.WriteText(schedulePath, schedule.ToText());
            report = report with { Artifacts = [.. report.Artifacts, schedulePath] };
        }
        SummaryTable.Render(report, stdout);
        if (reportPath is not null)
        {
            ReportWriter.Write(report, reportPath);
            stdout.WriteLine($"report: {reportPath}{(report.Partial ? " (partial: the run was interrupted)" : "")}");
        }
        if (failure is not null)
            cli.Error.WriteLine($"error: the simulator failed: {failure}");
        if (initFailed is not null)
            stdout.WriteLine($"guest init failed: {initFailed}");
        var exit = report.Partial ? ExitCodes.Interrupted : ExitCodes.Of(verdict);
        stdout.WriteLine(Verdict(report, exit, failure));
        return exit;
    }

    /// <summary>Writes the trace files, prints where they are and how to open them.</summary>
    public static IReadOnlyList<string> WriteTrace(TextWriter stdout, TraceRequest request, RunReport report)
    {
        var files = TraceFiles.Write(request.Directory, request.Trace, report);
        var t = request.Trace;
        stdout.WriteLine($"trace: {Counted.Of(t.Recorder.Recorded, "event")} recorded, {t.Dropped:N0} dropped (capacity {t.Recorder.Capacity:N0}){(t.RecordsMessages ? "" : "; a stress run's trace has no message causes: it is not causal-complete")}");
        foreach (var f in files)
            stdout.WriteLine($"trace: {f}");
        stdout.WriteLine($"open {files[0]} in https://ui.perfetto.dev");
        return files;
    }

    private static string Verdict(RunReport report, int exitCode, string? failure)
    {
        if (failure is not null)
            return $"result: SIMULATOR FAILURE (exit {exitCode})";
        var expected = report.Expected == ExpectedOutcome.Clean ? "clean" : $"violation{(report.ExpectedKind is null ? "" : " " + report.ExpectedKind)}";
        var found = report.Violations.Count == 0 ? "no violation" : $"{report.Violations.Count} violation{(report.Violations.Count == 1 ? "" : "s")} kept";
        if (report.Partial)
            return $"result: INTERRUPTED — expected {expected}, found {found} in the part that ran (exit {exitCode})";
        if (report.DidNotRun is { } why)
            return $"result: expected {expected}, found {found}, but {why}: NOT MATCHED (exit {exitCode})";
        return report.OutcomeMatched
            ? $"result: expected {expected}, found {found}: MATCHED (exit {exitCode})"
            : $"result: expected {expected}, found {found}: NOT MATCHED (exit {exitCode})";
    }
}
