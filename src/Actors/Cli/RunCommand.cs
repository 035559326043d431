using System.CommandLine;
using System.Globalization;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Cli;

/// <summary><c>run</c>: one run of a topology, stress or deterministic, with progress, a summary and a report (docs/design.md §3).</summary>
public sealed class RunCommand : CliCommand
{
    private readonly Option<string?> _config = CommonOptions.Config();
    private readonly Option<string?> _workloadTrace = new("--workload-trace")
    {
        Description = "replay a kernel ftrace of iommu:map/iommu:unmap events (plain or .gz) as the workload (sets hviommu.workload.trace); without --config, on a topology fit for it: one vCPU per traced CPU, one device in one paging domain",
        HelpName = "FILE",
    };
    private readonly Option<ulong?> _seed = CommonOptions.Seed();
    private readonly Option<string?> _mode = CommonOptions.Mode();
    private readonly Option<long?> _ops = CommonOptions.Ops();
    private readonly Option<TimeSpan?> _duration = CommonOptions.Duration("stop starting operations after T (e.g. 30s; overrides hviommu.run.duration)");
    private readonly Option<string?> _report = CommonOptions.Report();
    private readonly Option<string?> _trace = CommonOptions.Trace("write the causal trace into DIR (trace.perfetto.json, violation.md, history.jsonl); a stress run records a bounded trace without message causes (not causal-complete)");
    private readonly ScheduleOptionSet _schedule = new();

    public override string Name => "run";

    public override int Order => 10;

    public override string Description => "One run of a topology (default: the embedded config/default.conf), in stress mode "
        + "(Akka's dispatchers on all cores) or deterministic mode (seeded scheduler, virtual time). "
        + "Exit codes: 0 the outcome matched the expectation, 1 it did not, 2 bad input, 3 simulator failure, 130 interrupted.";

    protected override IEnumerable<Symbol> Symbols() => [_config, _workloadTrace, _seed, _mode, _ops, _duration, _report, _trace, .. _schedule.All];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var configPath = parse.GetValue(_config);
        var ops = parse.GetValue(_ops);
        var duration = parse.GetValue(_duration);
        var reportPath = parse.GetValue(_report);
        var traceDir = parse.GetValue(_trace);
        var schedule = _schedule.Read(parse);
        var tracePath = parse.GetValue(_workloadTrace);
        OutputPaths.CheckRun(configPath, reportPath, traceDir, tracePath);

        var overrides = new List<string>();
        if (parse.GetValue(_seed) is { } s)
            overrides.Add(SimConfig.FromOption("--seed", "hviommu.seed", s.ToString(CultureInfo.InvariantCulture)));
        if (ops is { } o)
            overrides.Add(SimConfig.FromOption("--ops", "hviommu.run.ops", o.ToString(CultureInfo.InvariantCulture)));
        if (duration is { } d)
            overrides.Add(SimConfig.FromOption("--duration", "hviommu.run.duration", $"{d.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)}ms"));
        if (parse.GetValue(_mode) is { } mode)
            overrides.Add(SimConfig.FromOption("--mode", "hviommu.mode", mode));
        var config = TraceTopology.Load(configPath, tracePath, overrides);
        var settings = config.Settings;
        var deterministic = settings.Mode == Model.Settings.RunMode.Deterministic;
        if (!deterministic && _schedule.AnyGiven(parse))
            throw new UsageException("--strategy, --pct-depth and --max-steps choose a deterministic schedule; this run is in stress mode (add --mode deterministic)");

        SimLogging.Configure(cli.Verbose);
        TopologyText.WriteBanner(cli.Out, config);
        if (deterministic)
        {
            var reproduce = Reproduction.Run(configPath, settings.Seed, ops, schedule, duration, tracePath);
            using var system = DeterministicRunner.CreateSystem(config, cli.Verbose);
            var r = DeterministicRunner.RunSchedule(system, config, settings.Seed, schedule, reproduce, cancel: cli.Cancel).AsSingleRun();
            return RunOutput.Finish(cli, r.Report, r.Verdict, r.Failure, null, reportPath, r.Schedule, RunOutput.Trace(traceDir, r.Trace));
        }
        var progress = RunProgressFactory.Create(cli.Out, cli.Plain ? false : null);
        var result = StressRunner.Run(config, Reproduction.Run(configPath, settings.Seed, ops, null, duration, tracePath), progress, cli.Verbose, trace: traceDir is not null, cancel: cli.Cancel);
        var initFailed = !result.Outcome.InitSucceeded && result.Failure is null ? result.Outcome.InitDetail : null;
        return RunOutput.Finish(cli, result.Report, result.Verdict, result.Failure, initFailed, reportPath, null, RunOutput.Trace(traceDir, result.Trace));
    }
}
