using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Minimize;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>minimize</c>: shrinks a failing deterministic run (a report from <c>run --mode deterministic</c> or
/// <c>explore</c>) with <see cref="Minimizer"/> to a smaller one that still shows a violation of the same kind, and
/// writes its config, schedule and report so that <c>replay --report DIR/report.json</c> reproduces it.
/// </summary>
public sealed class MinimizeCommand : CliCommand
{
    private readonly Option<string> _report = new("--report") { Description = "a deterministic report with a violation (its schedule lies beside it)", HelpName = "FILE.json", Required = true };
    private readonly Option<string> _out = new("--out") { Description = "where to write minimal.conf, minimal.schedule, report.json and the minimal run's causal trace (DIR/trace)", HelpName = "DIR", Required = true };
    private readonly Option<TimeSpan?> _budget = CommonOptions.Duration("wall-clock time for the search (default 60s); the best run so far is kept", "--budget");
    private readonly Option<long?> _seeds = CommonOptions.Int64("--seeds", "schedules tried per smaller configuration besides the carried-over one (default 8)", 0, 1000, "K");
    private readonly Option<long?> _maxSteps = CommonOptions.Int64("--max-steps", "a candidate run longer than N steps counts as a hang (default 2,000,000; at least the recorded run's steps)", 1, long.MaxValue);

    public override string Name => "minimize";

    public override int Order => 50;

    public override string Description => "Shrinks a failing deterministic run to a minimal one that still fails the same way: phase 1 shrinks the configuration "
        + "(operations, vCPUs, devices, in-flight depth, ATS, domains, outstanding operations, DMA per operation, buffer pages; the hazard knobs stay), "
        + "phase 2 drops the schedule's deviations from the default schedule by delta debugging. "
        + "Exit codes: 0 a minimal failing run was written, 1 the report does not reproduce, 2 bad input, 3 simulator failure, 130 interrupted (the best run so far is written, its report marked partial).";

    protected override IEnumerable<Symbol> Symbols() => [_report, _out, _budget, _seeds, _maxSteps];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var reportPath = parse.GetValue(_report)!;
        var outDir = parse.GetValue(_out)!;
        var budget = parse.GetValue(_budget) ?? TimeSpan.FromSeconds(60);
        var seeds = (int)(parse.GetValue(_seeds) ?? 8);
        var recorded = RecordedRun.Load("--report", reportPath, "minimized");
        OutputPaths.CheckDirectory("--out", outDir);
        var maxSteps = parse.GetValue(_maxSteps) ?? Math.Max(2_000_000, recorded.Report.Stats.Steps * 2);
        if (maxSteps < recorded.Report.Stats.Steps)
            throw new UsageException($"--max-steps {maxSteps:N0} is below the {Counted.Of(recorded.Report.Stats.Steps, "step")} of the run to shrink; allowed: at least {recorded.Report.Stats.Steps:N0}");
        var kind = recorded.Report.Violations.FirstOrDefault()?.Kind
            ?? throw new UsageException($"--report {reportPath}: the run found no violation; there is nothing to minimize");
        var config = recorded.Config;
        var text = ReadableText(recorded);
        SimLogging.Configure(verbose: false);

        cli.Out.WriteLine($"minimize {reportPath}: {kind} in {recorded.Report.Config.File}, seed {recorded.Schedule.Seed}, {recorded.Schedule.Strategy}; budget {budget.TotalSeconds:0.#} s, {seeds} seed{(seeds == 1 ? "" : "s")} per candidate");
        cli.Out.WriteLine($"kept as they are (the bug): {MinimizerShape.Bug(config.Settings)}");
        using var minimizer = new Minimizer(config, text, kind, new MinimizerOptions(budget, seeds, maxSteps, cli.Cancel));
        var confirmed = minimizer.Confirm(recorded.Schedule);
        if (confirmed is null)
        {
            cli.Out.WriteLine($"result: the report does not reproduce a {kind} violation; nothing minimized (exit 1)");
            return ExitCodes.Mismatched;
        }
        if (confirmed.Result.Report.TraceHash != recorded.Report.TraceHash)
            cli.Out.WriteLine($"note: the replay shows {kind} but its trace hash {confirmed.Result.Report.TraceHash} differs from the report's {recorded.Report.TraceHash}");
        var result = minimizer.Minimize(confirmed);
        var interrupted = cli.Cancel.IsCancellationRequested;
        PrintLog(cli.Out, result, interrupted);
        return Write(cli, minimizer, result, outDir, interrupted);
    }

    /// <summary>
    /// The text the minimal config starts from: the scenario file as written when it still resolves to exactly
    /// the config the report stores (readable, with its comments), else the stored resolved config itself.
    /// </summary>
    private static string ReadableText(RecordedRun recorded)
    {
        var file = recorded.Report.Config.File;
        var stored = JsonSerializer.Serialize(recorded.Report.Config.Resolved);
        if (File.Exists(file))
        {
            var fileText = File.ReadAllText(file);
            var ops = $"\nhviommu.run.ops = {recorded.Config.Settings.Run.Ops.ToString(CultureInfo.InvariantCulture)}\n";
            foreach (var candidate in new[] { fileText, fileText + ops })
            {
                try
                {
                    if (JsonSerializer.Serialize(HoconJson.ToJson(SimConfig.Parse(candidate, file).Merged)) == stored)
                        return candidate;
                }
                catch (ConfigException)
                {
                    // The file no longer loads: the stored config is the truth.
                }
            }
        }
        return "# the resolved configuration stored in the report (its file has changed or is not here)\nhviommu = "
            + recorded.Report.Config.Resolved.GetRawText() + "\n";
    }

    private static void PrintLog(TextWriter stdout, MinimizerResult result, bool interrupted)
    {
        stdout.WriteLine();
        stdout.WriteLine($"  {"phase",-9} {"tried",-58} {"outcome",-34} {"messages",9} {"steps",9}");
        foreach (var step in result.Log)
            stdout.WriteLine($"  {step.Phase,-9} {Cut(step.Tried, 58),-58} {Cut(step.Outcome, 34),-34} {step.Messages,9:N0} {step.Steps,9:N0}");
        stdout.WriteLine();
        var o = result.Original;
        var m = result.Minimal;
        stdout.WriteLine($"original: {o.Shape.Describe()}, seed {o.Seed}");
        stdout.WriteLine($"minimal:  {m.Shape.Describe()}, seed {m.Seed}, {m.Deviations.Count} deviation{(m.Deviations.Count == 1 ? "" : "s")} from the default schedule");
        var stop = interrupted ? " (interrupted: the best run so far is kept)" : result.OutOfBudget ? " (budget ran out)" : "";
        stdout.WriteLine($"size: {o.Messages:N0} → {Counted.Of(m.Messages, "message")} delivered ({Percent(m.Messages, o.Messages)}), of which up to the violation {o.DeliveriesToViolation:N0}/{o.Deliveries:N0} → {m.DeliveriesToViolation:N0}/{m.Deliveries:N0} driver deliveries, {o.Steps:N0} → {Counted.Of(m.Steps, "step")} ({Percent(m.Steps, o.Steps)}); {Counted.Of(result.Runs, "run")} in {result.Elapsed.TotalSeconds:0.0} s{stop}");
    }

    /// <summary>Writes the minimal run's files; interrupted (Ctrl-C), they hold the best run so far, the report is
    /// marked partial (the search did not finish, a smaller run may exist) and the exit code is 130.</summary>
    private static int Write(CliContext cli, Minimizer minimizer, MinimizerResult result, string outDir, bool interrupted)
    {
        Directory.CreateDirectory(outDir);
        var configPath = Path.Combine(outDir, "minimal.conf");
        var schedulePath = Path.Combine(outDir, "minimal.schedule");
        var reportPath = Path.Combine(outDir, "report.json");
        var configText = minimizer.ConfigText(result.Minimal);
        var schedule = result.Minimal.Result.Schedule;

        // Check that the files alone reproduce the minimal run before writing any of them.
        var config = SimConfig.Parse(configText, configPath);
        var replayCommand = Reproduction.Replay(reportPath);
        var check = minimizer.Replay(config, schedule, replayCommand);
        if (!minimizer.Reproduces(check) || check.Report.TraceHash != result.Minimal.Result.Report.TraceHash)
        {
            cli.Error.WriteLine($"error: the minimal files would not reproduce the minimal run (trace hash {result.Minimal.Result.Report.TraceHash} → {check.Report.TraceHash}{(check.Failure is null ? "" : ", " + check.Failure)}); nothing written");
            return ExitCodes.SimulatorFailure;
        }
        AtomicFile.WriteText(configPath, configText);
        AtomicFile.WriteText(schedulePath, schedule.ToText());
        var report = check.Report with { Artifacts = [schedulePath], Partial = interrupted };
        if (RunOutput.Trace(Path.Combine(outDir, "trace"), check.Trace) is { } trace)
            report = report with { Artifacts = [.. report.Artifacts, .. RunOutput.WriteTrace(cli.Out, trace, report)] };
        ReportWriter.Write(report, reportPath);
        cli.Out.WriteLine($"wrote {configPath}, {schedulePath}, {reportPath} (trace hash {report.TraceHash})");
        cli.Out.WriteLine($"replay: {replayCommand}");
        if (interrupted)
        {
            cli.Out.WriteLine($"result: INTERRUPTED — the files hold the smallest failing run found so far; the report is marked partial (exit {ExitCodes.Interrupted})");
            return ExitCodes.Interrupted;
        }
        return ExitCodes.Matched;
    }

    private static string Percent(long part, long whole) =>
        whole == 0 ? "n/a" : (100.0 * part / whole).ToString("0.#", CultureInfo.InvariantCulture) + " %";

    private static string Cut(string s, int width) => s.Length <= width ? s : s[..(width - 1)] + "…";
}
