using System.CommandLine;
using System.Globalization;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>replay</c>: re-runs exactly what a deterministic report (or a schedule file) describes and checks that
/// the same trace hash and violations come back (<see cref="ReplayCheck"/>); says where the runs diverged when they do not.
/// A report replays from its own resolved config and the schedule beside it, from any directory.
/// </summary>
public sealed class ReplayCommand : CliCommand
{
    private readonly Option<string?> _report = CommonOptions.Report("a report written by run --mode deterministic, explore or minimize; it replays with the config it stores and the schedule beside it");
    private readonly Option<string?> _schedule = new("--schedule") { Description = "a schedule file; the seed is in it, the config comes from --config (default: the embedded default.conf)", HelpName = "FILE.schedule" };
    private readonly Option<string?> _config = CommonOptions.Config("with --schedule: the topology or scenario the schedule was recorded on");
    private readonly Option<long?> _ops = CommonOptions.Ops("with --schedule: guest operations (overrides hviommu.run.ops), as the recorded run had them");
    private readonly Option<string?> _trace = CommonOptions.Trace();

    public override string Name => "replay";

    public override int Order => 40;

    public override string Description => "Re-runs a deterministic report (or a schedule file) exactly and checks that the same trace hash and violations come back, or says at which schedule step the runs diverged. "
        + "Exit codes: 0 reproduced, 1 not (diverged or different), 2 bad input, 3 simulator failure.";

    protected override IEnumerable<Symbol> Symbols() => [_report, _schedule, _config, _ops, _trace];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var reportPath = parse.GetValue(_report);
        var schedulePath = parse.GetValue(_schedule);
        var configOption = parse.GetValue(_config);
        var ops = parse.GetValue(_ops);
        var traceDir = parse.GetValue(_trace);
        if ((reportPath is null) == (schedulePath is null))
            throw new UsageException("give exactly one of --report FILE.json or --schedule FILE.schedule");
        if (reportPath is not null && (configOption is not null || ops is not null))
            throw new UsageException($"--report replays the run with the config stored in the report; {(configOption is not null ? "--config" : "--ops")} goes only with --schedule");
        if (configOption is not null)
            OutputPaths.CheckInput("--config", configOption);
        if (traceDir is not null)
            OutputPaths.CheckDirectory("--trace", traceDir);
        OutputPaths.CheckDistinct(
            ("--config", configOption),
            ("--report", reportPath),
            ("--schedule", schedulePath),
            ("the schedule of --report", reportPath is null ? null : Path.ChangeExtension(reportPath, ".schedule")),
            ("--trace", traceDir));

        RunReport? original = null;
        LoadedConfig config;
        Deterministic.ScheduleFile schedule;
        string reproduce;
        if (reportPath is not null)
        {
            var recorded = RecordedRun.Load("--report", reportPath, "replayed");
            original = recorded.Report;
            config = recorded.Config;
            schedule = recorded.Schedule;
            schedulePath = recorded.SchedulePath;
            reproduce = Reproduction.Replay(reportPath);
        }
        else
        {
            schedule = RecordedRun.LoadSchedule("--schedule", schedulePath!);
            config = SimConfig.Load(configOption, ops is { } o ? [SimConfig.FromOption("--ops", "hviommu.run.ops", o.ToString(CultureInfo.InvariantCulture))] : null);
            reproduce = $"{Reproduction.Program} replay --schedule {Reproduction.PathArgument(schedulePath!)}"
                + (configOption is null ? "" : " --config " + Reproduction.PathArgument(configOption))
                + (ops is null ? "" : " --ops " + ops.Value.ToString(CultureInfo.InvariantCulture));
        }
        SimLogging.Configure(cli.Verbose);

        using var system = DeterministicRunner.CreateSystem(config, cli.Verbose);
        var result = DeterministicRunner.RunSchedule(system, config, schedule.Seed, new ScheduleOptions(Replay: schedule), reproduce, cancel: cli.Cancel).AsSingleRun();
        cli.Out.WriteLine($"replayed {schedulePath}: seed {schedule.Seed}, {schedule.Choices.Count:N0} recorded choices, trace hash {result.Report.TraceHash}");
        SummaryTable.Render(result.Report, cli.Out);
        if (RunOutput.Trace(traceDir, result.Trace) is { } trace)
            RunOutput.WriteTrace(cli.Out, trace, result.Report);
        var verdict = ReplayCheck.Judge(original, schedule, result);
        if (result.Failure is not null)
            cli.Error.WriteLine($"error: the simulator failed: {result.Failure}");
        var exit = ExitCodes.Of(verdict.Verdict);
        cli.Out.WriteLine($"result: {verdict.Text} (exit {exit})");
        if (verdict.Outcome == ReplayOutcome.Diverged && reportPath is null && configOption is null)
            cli.Out.WriteLine("hint: a schedule replays only on the topology it was recorded on, and this replay used the embedded default; "
                + "pass that run's config with --config (or replay its report with --report, which stores it)");
        return exit;
    }
}
