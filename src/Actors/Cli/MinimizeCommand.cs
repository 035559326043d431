using System.Globalization;
using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>minimize</c>: shrinks a failing deterministic run (a report from <c>run --mode deterministic</c> or
/// <c>explore</c>) to a smaller one that still shows a violation of the same kind, and writes its config,
/// schedule and report so that <c>replay --report DIR/report.json</c> reproduces it.
/// </summary>
public sealed class MinimizeCommand : ICommand
{
    public string Name => "minimize";

    public string Summary => "shrinks a failing deterministic run to a minimal one that still fails the same way";

    public string Usage => """
        usage: minimize --report FILE.json --out DIR [--budget 60s] [--seeds K] [--max-steps N]

          --report FILE     a deterministic report with a violation (its schedule lies beside it)
          --out DIR         where to write minimal.conf, minimal.schedule, report.json and the minimal run's
                            causal trace (DIR/trace: Perfetto timeline, Mermaid history of the violation, JSON lines)
          --budget T        wall-clock time for the search (default 60s); the best run so far is kept
          --seeds K         schedules tried per smaller configuration besides the carried-over one (default 8)
          --max-steps N     a candidate run longer than N steps counts as a hang (default 2,000,000)

        Phase 1 shrinks the configuration (operations, vCPUs, devices, in-flight depth, ATS, domains,
        outstanding operations, DMA per operation, buffer pages), keeping a step when some schedule still
        shows the same violation kind with no more delivered messages; phase 2 drops the schedule's
        deviations from the default schedule (lowest-ordinal ready actor first) by delta debugging.

        exit codes: 0 a minimal failing run was written, 1 the report does not reproduce, 2 bad input,
        3 simulator failure
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var reportPath = args.Option("--report") ?? throw new UsageException("--report FILE.json is required");
        var outDir = args.Option("--out") ?? throw new UsageException("--out DIR is required");
        var budgetText = args.Option("--budget") ?? "60s";
        var seeds = (int)(args.Int64("--seeds", 0, 1000) ?? 8);
        var maxSteps = args.Int64("--max-steps", 1) ?? 2_000_000;
        args.EnsureAllConsumed();
        if (!HoconReader.TryParseDuration(budgetText, out var budget))
            throw new UsageException($"--budget '{budgetText}' is not a duration (e.g. 60s)");

        var (original, schedule, configPath, overrides) = ReadInput(reportPath);
        var kind = original.Violations.FirstOrDefault()?.Kind
            ?? throw new UsageException($"--report {reportPath}: the run found no violation; there is nothing to minimize");
        var config = SimConfig.Load(configPath, overrides);
        var text = configPath is null ? SimConfig.DefaultText : File.ReadAllText(configPath);
        SimLogging.Configure(verbose: false);

        stdout.WriteLine($"minimize {reportPath}: {kind} in {config.File}, seed {schedule.Seed}, {schedule.Strategy}; budget {budget.TotalSeconds:0.#} s, {seeds} seed(s) per candidate");
        using var minimizer = new Minimizer(config, text, kind, new MinimizerOptions(budget, seeds, maxSteps));
        var confirmed = minimizer.Confirm(schedule);
        if (confirmed is null)
        {
            stdout.WriteLine($"result: the report does not reproduce a {kind} violation; nothing minimized (exit 1)");
            return ExitCodes.Mismatched;
        }
        if (confirmed.Result.Report.TraceHash != original.TraceHash)
            stdout.WriteLine($"note: the replay shows {kind} but its trace hash {confirmed.Result.Report.TraceHash} differs from the report's {original.TraceHash}");
        var result = minimizer.Minimize(confirmed);
        PrintLog(stdout, result);
        return Write(stdout, stderr, minimizer, result, outDir);
    }

    private static (RunReport Report, ScheduleFile Schedule, string? ConfigPath, List<string> Overrides) ReadInput(string reportPath)
    {
        RunReport report;
        try
        {
            report = ReportReader.Read(reportPath);
        }
        catch (Exception e) when (e is ReportFormatException or JsonException or IOException)
        {
            throw new UsageException($"--report {reportPath}: {e.Message}");
        }
        if (report.Mode != RunMode.Deterministic)
            throw new UsageException($"--report {reportPath}: a {report.Mode.ToString().ToLowerInvariant()} run cannot be minimized; only deterministic runs can");
        var schedulePath = report.Artifacts.FirstOrDefault(a => a.EndsWith(".schedule", StringComparison.Ordinal))
            ?? throw new UsageException($"--report {reportPath}: it names no schedule file among its artifacts");
        ScheduleFile schedule;
        try
        {
            schedule = ScheduleFile.Load(schedulePath);
        }
        catch (Exception e) when (e is FormatException or IOException)
        {
            throw new UsageException($"schedule file {schedulePath}: {e.Message}");
        }
        var configPath = report.Config.File.EndsWith("(embedded)", StringComparison.Ordinal) ? null : report.Config.File;
        var overrides = new List<string>();
        if (report.Config.Resolved.TryGetProperty("run", out var run) && run.TryGetProperty("ops", out var ops))
            overrides.Add($"hviommu.run.ops = {ops.GetRawText()}");
        return (report, schedule, configPath, overrides);
    }

    private static void PrintLog(TextWriter stdout, MinimizerResult result)
    {
        stdout.WriteLine();
        stdout.WriteLine($"  {"phase",-9} {"tried",-58} {"outcome",-34} {"messages",9} {"steps",9}");
        foreach (var step in result.Log)
            stdout.WriteLine($"  {step.Phase,-9} {Cut(step.Tried, 58),-58} {Cut(step.Outcome, 34),-34} {step.Messages,9:N0} {step.Steps,9:N0}");
        stdout.WriteLine();
        var o = result.Original;
        var m = result.Minimal;
        stdout.WriteLine($"original: {o.Shape.Describe()}, seed {o.Seed}");
        stdout.WriteLine($"minimal:  {m.Shape.Describe()}, seed {m.Seed}, {m.Deviations.Count} deviation(s) from the default schedule");
        stdout.WriteLine($"size: {o.Messages:N0} → {m.Messages:N0} messages delivered ({Percent(m.Messages, o.Messages)}), of which up to the violation {o.DeliveriesToViolation:N0}/{o.Deliveries:N0} → {m.DeliveriesToViolation:N0}/{m.Deliveries:N0} driver deliveries, {o.Steps:N0} → {m.Steps:N0} steps ({Percent(m.Steps, o.Steps)}); {result.Runs:N0} runs in {result.Elapsed.TotalSeconds:0.0} s{(result.OutOfBudget ? " (budget ran out)" : "")}");
    }

    private static int Write(TextWriter stdout, TextWriter stderr, Minimizer minimizer, MinimizerResult result, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var configPath = Path.Combine(outDir, "minimal.conf");
        var schedulePath = Path.Combine(outDir, "minimal.schedule");
        var reportPath = Path.Combine(outDir, "report.json");
        File.WriteAllText(configPath, minimizer.ConfigText(result.Minimal));
        var schedule = result.Minimal.Result.Schedule;
        schedule.Save(schedulePath);

        // Load what was written and replay it: the files alone must reproduce the minimal run.
        var config = SimConfig.Load(configPath);
        var replayCommand = $"dotnet run --project src/Actors -c Release -- replay --report {reportPath}";
        var check = minimizer.Replay(config, schedule, replayCommand);
        if (!minimizer.Reproduces(check) || check.Report.TraceHash != result.Minimal.Result.Report.TraceHash)
        {
            stderr.WriteLine($"error: the written files do not reproduce the minimal run (trace hash {result.Minimal.Result.Report.TraceHash} → {check.Report.TraceHash}{(check.Failure is null ? "" : ", " + check.Failure)})");
            return ExitCodes.SimulatorFailure;
        }
        var report = check.Report with { Artifacts = [schedulePath] };
        if (RunCommand.TraceOutput(Path.Combine(outDir, "trace"), check.Trace) is { } trace)
            report = report with { Artifacts = [.. report.Artifacts, .. RunCommand.WriteTrace(stdout, trace, report)] };
        ReportWriter.Write(report, reportPath);
        stdout.WriteLine($"wrote {configPath}, {schedulePath}, {reportPath} (trace hash {report.TraceHash})");
        stdout.WriteLine($"replay: {replayCommand}");
        return ExitCodes.Matched;
    }

    private static string Percent(long part, long whole) =>
        whole == 0 ? "n/a" : (100.0 * part / whole).ToString("0.#", CultureInfo.InvariantCulture) + " %";

    private static string Cut(string s, int width) => s.Length <= width ? s : s[..(width - 1)] + "…";
}
