using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Explore;

/// <summary>
/// <c>explore</c>: many deterministic schedules of one scenario (<see cref="Exploration"/>), each a seed (and so a
/// workload and a schedule), with a strategy; stops at the first violation unless <c>--all</c>.
/// </summary>
public sealed class ExploreCommand : CliCommand
{
    private const long DefaultSeeds = 1000;

    private readonly Option<string?> _config = CommonOptions.Config("the scenario or topology (default: the embedded default.conf)");
    private readonly ScheduleOptionSet _schedule = new();
    private readonly Option<long?> _seeds = CommonOptions.Int64("--seeds", $"schedules to run (default {DefaultSeeds:N0}); or --duration", 1, long.MaxValue);
    private readonly Option<TimeSpan?> _duration = CommonOptions.Duration("run schedules for this wall-clock time instead of a number of them (e.g. 30s)");
    private readonly Option<ulong?> _seed = CommonOptions.Seed("first seed (default: hviommu.seed); schedule i uses seed START + i");
    private readonly Option<long?> _parallel = CommonOptions.Int64("--parallel", "N explorers on N threads over disjoint seeds (default 1)", 1, 64);
    private readonly Option<bool> _all = new("--all") { Description = "run every schedule instead of stopping at the first violation" };
    private readonly Option<long?> _ops = CommonOptions.Ops("guest operations per schedule (overrides hviommu.run.ops)");
    private readonly Option<string?> _report = CommonOptions.Report("write the report of the first failing schedule (of the first schedule when none fails) to FILE, and its schedule beside it");
    private readonly Option<string?> _trace = CommonOptions.Trace("replay the first failing schedule with the causal trace on and write its files into DIR");
    private readonly Cluster.ClusterOptionSet _cluster = new();

    public override string Name => "explore";

    public override int Order => 30;

    public override string Description => "Many deterministic schedules of a scenario (portfolio, random, PCT, delay bounding); stops at the first violation (of hviommu.expect-kind when the scenario names one: other kinds are counted and listed with their first seed) and prints how to replay it. "
        + "Exit codes: 0 the outcome matched the expectation (a violation found for an expect = violation scenario, none over all schedules for a clean one), 1 not, 2 bad input, 3 simulator failure, 130 interrupted.";

    protected override IEnumerable<Symbol> Symbols() => [_config, .. _schedule.All, _seeds, _duration, _seed, _parallel, _all, _ops, _report, _trace, .. _cluster.All];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var configPath = parse.GetValue(_config);
        var options = _schedule.Read(parse);
        var seeds = parse.GetValue(_seeds);
        var duration = parse.GetValue(_duration);
        if (seeds is not null && duration is not null)
            throw new UsageException("give --seeds N or --duration T, not both (--duration runs schedules until the time is up)");
        var parallelGiven = (int?)parse.GetValue(_parallel);
        var parallel = parallelGiven ?? 1;
        var ops = parse.GetValue(_ops);
        var reportPath = parse.GetValue(_report);
        var traceDir = parse.GetValue(_trace);
        OutputPaths.CheckRun(configPath, reportPath, traceDir);
        var total = seeds ?? (duration is null ? DefaultSeeds : long.MaxValue);
        var cluster = _cluster.Read(parse, configPath is not null ? SimConfig.Load(configPath).Merged : null);
        if (cluster.IsCluster)
            return Cluster.ClusterExplore.Run(configPath, options, parse.GetValue(_seed), seeds, duration, parse.GetValue(_all), ops, reportPath, traceDir, parallelGiven, cluster, cli.Out, cli.Error, cli.Cancel);

        var overrides = ops is { } o ? new[] { SimConfig.FromOption("--ops", "hviommu.run.ops", o.ToString(CultureInfo.InvariantCulture)) } : [];
        var config = SimConfig.Load(configPath, overrides);
        var first = parse.GetValue(_seed) ?? config.Settings.Seed;
        SimLogging.Configure(verbose: false);
        var what = duration is { } limit ? $"for {limit.TotalSeconds:0.#} s" : total == 1 ? "1 schedule" : $"{total:N0} schedules";
        cli.Out.WriteLine($"explore {config.File}: strategy {options.Strategy}{(options.PctDepth is { } depth ? $" depth {depth}" : "")}, seeds from {first}, {what}, {parallel} explorer{(parallel == 1 ? "" : "s")}");

        var search = new Exploration(config, configPath, options, first, total, parallel, stopAtFirst: !parse.GetValue(_all), ops, cli.Cancel);
        var wall = Stopwatch.StartNew();
        search.Start();
        var lastPrint = TimeSpan.Zero;
        while (!search.Wait(TimeSpan.FromMilliseconds(200)))
        {
            if (duration is { } d && wall.Elapsed >= d)
                search.Stop();
            if (wall.Elapsed - lastPrint >= TimeSpan.FromSeconds(1))
            {
                lastPrint = wall.Elapsed;
                cli.Out.WriteLine(search.Progress(wall.Elapsed));
            }
        }
        wall.Stop();
        cli.Out.WriteLine(search.Progress(wall.Elapsed));
        return Report(cli, search, config, reportPath, traceDir, wall.Elapsed, search.Interrupted);
    }

    private static int Report(CliContext cli, Exploration search, LoadedConfig config, string? reportPath, string? traceDir, TimeSpan elapsed, bool interrupted)
    {
        var stdout = cli.Out;
        if (search.Failure is { } failure)
        {
            cli.Error.WriteLine($"error: the simulator failed on seed {failure.Report.Seed}: {failure.Failure}");
            return ExitCodes.SimulatorFailure;
        }
        var found = search.FirstViolation;
        stdout.WriteLine();
        stdout.WriteLine($"{Throughput.Of(search.Schedules, search.Steps, elapsed, stress: false)}, {search.WithViolations:N0} with violations{(interrupted ? " (interrupted)" : "")}");
        foreach (var kind in search.KindsSeen)
            stdout.WriteLine($"  {kind.Kind}: {kind.Schedules:N0} schedule(s), first seed {kind.FirstSeed} (schedule {kind.FirstIndex + 1:N0})");
        if (found is null)
        {
            var clean = config.Settings.Expect == Model.Settings.Expectation.Clean;
            var n = search.Schedules == 1 ? "1 schedule" : $"{search.Schedules:N0} schedules";
            if (reportPath is not null && search.FirstSchedule is { } firstRun)
                WriteCleanReport(cli, firstRun, reportPath, interrupted,
                    config.Settings.ExpectKind is { } wanted && search.KindsSeen.Count > 0 ? $"no schedule found a violation of kind {wanted}" : "no schedule failed");
            var expectedKind = config.Settings.ExpectKind is { } k ? $"a violation of kind {k}" : "a violation";
            if (interrupted)
            {
                // Interrupted: nothing is concluded, whatever the expectation; the schedules that ran are described.
                stdout.WriteLine(search.KindsSeen.Count == 0
                    ? $"result: INTERRUPTED — every schedule that ran was clean ({n}) (exit {ExitCodes.Interrupted})"
                    : $"result: INTERRUPTED — no {expectedKind[2..]} in the {n} that ran, only other kinds (above) (exit {ExitCodes.Interrupted})");
                return ExitCodes.Interrupted;
            }
            stdout.WriteLine(clean
                ? $"result: expected clean, every schedule was clean ({n}): MATCHED (exit 0)"
                : $"result: expected {expectedKind}, none found in {n}{(search.KindsSeen.Count > 0 ? " (only other kinds, above)" : "")}: NOT MATCHED (exit 1)");
            return clean ? ExitCodes.Matched : ExitCodes.Mismatched;
        }
        var schedulesToFirst = search.SchedulesToFirst == 1 ? "1 schedule" : $"{search.SchedulesToFirst:N0} schedules";
        stdout.WriteLine($"first violation: seed {found.Report.Seed} after {search.TimeToFirst!.Value.TotalSeconds:0.000} s and {schedulesToFirst}; trace hash {found.Report.TraceHash}");
        // Interrupted after a find: the report is the failing schedule's, marked partial (the search did not finish), exit 130.
        var code = RunOutput.Finish(cli, found.Report with { Partial = interrupted }, found.Verdict, null, null, reportPath, found.Schedule, TraceOf(config, found, traceDir));
        stdout.WriteLine(reportPath is not null
            ? $"replay: {Reproduction.Replay(reportPath)}"
            : $"reproduce: {found.Report.Violations.FirstOrDefault()?.Reproduce}");
        return code;
    }

    /// <summary>With no failing schedule, --report still gets a report (of the first schedule), so an older one is never left behind looking current.</summary>
    private static void WriteCleanReport(CliContext cli, ScheduleResult first, string reportPath, bool interrupted, string why)
    {
        var report = first.Report with { Partial = interrupted };
        var schedulePath = Path.ChangeExtension(reportPath, ".schedule");
        Reporting.AtomicFile.WriteText(schedulePath, first.Schedule.ToText());
        Reporting.ReportWriter.Write(report with { Artifacts = [schedulePath] }, reportPath);
        cli.Out.WriteLine($"report: {reportPath} ({why}; this is the report of the first schedule, seed {first.Report.Seed})");
    }

    /// <summary>
    /// Explorers run untraced (schedules/s matters); the failing schedule is replayed once with the trace on.
    /// Tracing only observes, so the replay is the same run (same trace hash, same violations).
    /// </summary>
    private static TraceRequest? TraceOf(LoadedConfig config, ScheduleResult found, string? traceDir)
    {
        if (traceDir is null)
            return null;
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "explore-trace");
        var options = new ScheduleOptions(Replay: found.Schedule);
        var traced = DeterministicRunner.RunSchedule(system, config, found.Report.Seed, options, found.Report.Violations.FirstOrDefault()?.Reproduce ?? "", trace: true);
        return RunOutput.Trace(traceDir, traced.Trace);
    }
}
