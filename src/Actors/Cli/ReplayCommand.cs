using System.Globalization;
using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>replay</c>: re-runs exactly what a deterministic report (or a schedule file) describes and checks that
/// the same trace hash and violations come back; says where the runs diverged when they do not.
/// </summary>
public sealed class ReplayCommand : ICommand
{
    public string Name => "replay";

    public string Summary => "re-runs a deterministic report or schedule exactly and checks it reproduces";

    public string Usage => """
        usage: replay --report FILE.json [--trace DIR]
               replay --schedule FILE.schedule [--config FILE] [--ops N] [--trace DIR]

          --report FILE     a report written by run --mode deterministic or explore (its schedule lies beside it)
          --schedule FILE   a schedule file; the seed is in it, the config comes from --config
          --trace DIR       write the replay's causal trace: DIR/trace.perfetto.json (open in https://ui.perfetto.dev),
                            DIR/violation.md (Mermaid diagram of the first violation's history), DIR/history.jsonl

        exit codes: 0 the same trace hash and violations came back, 1 they did not (where the runs diverged
        is printed), 2 bad input, 3 simulator failure
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var reportPath = args.Option("--report");
        var schedulePath = args.Option("--schedule");
        var configOption = args.Option("--config");
        var ops = args.Int64("--ops", 0);
        var traceDir = args.Option("--trace");
        args.EnsureAllConsumed();
        if ((reportPath is null) == (schedulePath is null))
            throw new UsageException("give exactly one of --report FILE.json or --schedule FILE.schedule");

        RunReport? original = null;
        string? configPath = configOption;
        var overrides = new List<string>();
        if (reportPath is not null)
        {
            original = ReadReport(reportPath);
            if (original.Mode != RunMode.Deterministic)
                throw new UsageException($"--report {reportPath}: a {original.Mode.ToString().ToLowerInvariant()} run cannot be replayed exactly; only deterministic runs can");
            schedulePath = original.Artifacts.FirstOrDefault(a => a.EndsWith(".schedule", StringComparison.Ordinal))
                ?? throw new UsageException($"--report {reportPath}: it names no schedule file among its artifacts");
            configPath = original.Config.File.EndsWith("(embedded)", StringComparison.Ordinal) ? null : original.Config.File;
            if (original.Config.Resolved.TryGetProperty("run", out var run) && run.TryGetProperty("ops", out var reportOps))
                overrides.Add($"hviommu.run.ops = {reportOps.GetRawText()}");
        }
        if (ops is { } o)
            overrides.Add($"hviommu.run.ops = {o.ToString(CultureInfo.InvariantCulture)}");
        if (!File.Exists(schedulePath))
            throw new UsageException($"schedule file {schedulePath} does not exist");
        ScheduleFile schedule;
        try
        {
            schedule = ScheduleFile.Load(schedulePath!);
        }
        catch (FormatException e)
        {
            throw new UsageException($"schedule file {schedulePath}: {e.Message}");
        }
        var config = SimConfig.Load(configPath, overrides);
        SimLogging.Configure(verbose: false);

        using var system = DeterministicRunner.CreateSystem(config, verbose: false);
        var options = new ScheduleOptions(Replay: schedule);
        var result = DeterministicRunner.RunSchedule(system, config, schedule.Seed, options, $"dotnet run --project src/Actors -c Release -- replay --schedule {schedulePath}");
        stdout.WriteLine($"replayed {schedulePath}: seed {schedule.Seed}, {schedule.Choices.Count:N0} recorded choices, trace hash {result.Report.TraceHash}");
        SummaryTable.Render(result.Report, stdout);
        if (RunCommand.TraceOutput(traceDir, result.Trace) is { } trace)
            RunCommand.WriteTrace(stdout, trace, result.Report);
        if (result.Failure is not null)
        {
            stderr.WriteLine($"error: the simulator failed: {result.Failure}");
            return ExitCodes.SimulatorFailure;
        }
        if (result.Drive.DivergedAtStep is { } step)
        {
            stdout.WriteLine($"result: DIVERGED at step {step:N0}: the recorded choice was not available; the run is not the one recorded (exit 1)");
            return ExitCodes.Mismatched;
        }
        if (original is null)
        {
            stdout.WriteLine($"result: replayed {result.Report.Stats.Steps:N0} steps (exit 0)");
            return ExitCodes.Matched;
        }
        var sameHash = original.TraceHash == result.Report.TraceHash;
        var before = Kinds(original);
        var after = Kinds(result.Report);
        if (sameHash && before == after)
        {
            stdout.WriteLine($"result: REPRODUCED — same trace hash {result.Report.TraceHash} and violations [{after}] (exit 0)");
            return ExitCodes.Matched;
        }
        stdout.WriteLine($"result: NOT REPRODUCED — trace hash {original.TraceHash} → {result.Report.TraceHash}, violations [{before}] → [{after}] (exit 1)");
        return ExitCodes.Mismatched;
    }

    private static string Kinds(RunReport r) => string.Join(", ", r.Violations.Select(v => v.Kind).Order(StringComparer.Ordinal));

    private static RunReport ReadReport(string path)
    {
        try
        {
            return ReportReader.Read(path);
        }
        catch (ReportFormatException e)
        {
            throw new UsageException(e.Message);
        }
        catch (JsonException e)
        {
            throw new UsageException($"--report {path}: {e.Message}");
        }
    }
}
