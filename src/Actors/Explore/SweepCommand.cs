using System.CommandLine;
using System.Globalization;
using System.Text;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Cluster;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Sweep;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Explore;

/// <summary>
/// <c>sweep</c>: every combination of the varied config keys explored over the same seeds — the safety-contract
/// table of which settings are safe and which fail how (docs/design.md §3). Runs on all cores of this machine, or on a
/// cluster of workers (<c>--cluster-listen</c>, <c>--local-workers</c>).
/// </summary>
public sealed class SweepCommand : CliCommand
{
    private readonly Option<string?> _config = CommonOptions.Config("the base topology or scenario (default: the embedded default.conf)");
    private readonly Option<string[]> _vary = new("--vary")
    {
        Description = "a config key and the values it takes (repeat for more keys; every combination is a cell), e.g. hviommu.hypervisor.behaviour.detached-translation=blocked,identity,last-domain",
        HelpName = "KEY=V1,V2,…",
    };
    private readonly Option<long?> _seeds = CommonOptions.Int64("--seeds", "schedules per cell, seeds START … START+N-1 in every cell (default 100)", 1, long.MaxValue);
    private readonly Option<TimeSpan?> _duration = CommonOptions.Duration("instead of --seeds: explore each cell for T of wall-clock time (e.g. 30s)");
    private readonly Option<ulong?> _seed = CommonOptions.Seed("first seed (default: hviommu.seed of the base config)");
    private readonly ScheduleOptionSet _schedule = new();
    private readonly Option<string?> _mode = CommonOptions.Mode();
    private readonly Option<long?> _ops = CommonOptions.Ops("guest operations per schedule (overrides hviommu.run.ops)");
    private readonly Option<long?> _parallel = CommonOptions.Int64("--parallel", "explorer threads on this machine (default: all cores)", 1, 256);
    private readonly Option<string> _out = new("--out")
    {
        Description = "writes DIR/sweep.json, sweep.csv, sweep.md, heatmap.png/.svg (two keys), and for each cell that failed DIR/cells/<cell>/ with its config, report, schedule and trace",
        HelpName = "DIR",
        Required = true,
    };
    private readonly ClusterOptionSet _cluster = new();

    public override string Name => "sweep";

    public override int Order => 35;

    public override string Description => "A matrix of config values × seeds explored cell by cell: the safety-contract table (which settings are safe, which fail and how), JSON, CSV, Markdown, heatmap. "
        + "Exit codes: 0 every cell's outcome matched its hviommu.expect, 1 some cell's did not, 2 bad input, 3 the simulator failed, 130 interrupted (Ctrl-C: the files cover what ran, marked partial).";

    protected override IEnumerable<Symbol> Symbols() => [_config, _vary, _seeds, _duration, _seed, .. _schedule.All, _mode, _ops, _parallel, _out, .. _cluster.All];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var stdout = cli.Out;
        var stderr = cli.Error;
        var configPath = parse.GetValue(_config);
        var vary = parse.GetValue(_vary) ?? [];
        var seeds = parse.GetValue(_seeds);
        var duration = parse.GetValue(_duration);
        var start = parse.GetValue(_seed);
        var options = _schedule.Read(parse);
        var mode = parse.GetValue(_mode) ?? "deterministic";
        var ops = parse.GetValue(_ops);
        var parallel = (int?)parse.GetValue(_parallel);
        var outDir = parse.GetValue(_out)!;
        var plain = cli.Plain;
        var cluster = _cluster.Read(parse, configPath is not null && File.Exists(configPath) ? SimConfig.Load(configPath).Merged : null);
        if (seeds is not null && duration is not null)
            throw new UsageException("give --seeds N or --duration T, not both");
        double? seconds = duration?.TotalSeconds;
        if (configPath is not null)
            OutputPaths.CheckInput("--config", configPath);
        OutputPaths.CheckDirectory("--out", outDir);
        var stress = mode == "stress";

        var plan = SweepPlan.Build(configPath, vary, start, seconds is null ? seeds ?? 100 : null, seconds, options, ops, stress);
        try
        {
            Directory.CreateDirectory(outDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out {outDir}: cannot create the directory: {e.Message}");
        }
        SimLogging.Configure(verbose: false);
        var job = plan.Job;
        using var pool = cluster.CreatePool(parallel ?? (stress ? 1 : null), stderr);
        var seedsText = job.SeedsPerCell is { } n ? $"{Counted.Of(n, "seed")} ({job.FirstSeed}…{job.FirstSeed + (ulong)n - 1})" : $"{seconds:0.#} s of seeds from {job.FirstSeed}";
        var state = new SweepState(job, stopAtFirst: false, leaseSeconds: cluster.LeaseSeconds);
        var outcome = ExplorationDriver.Drive(state, pool, stdout, plain, job.SeedsPerCell is { } per ? per * job.Cells() : null, () =>
        {
            stdout.WriteLine($"sweep {plan.CellConfigs[0].File}: {job.Cells()} cell(s) × {seedsText}, strategy {options.Strategy}{(options.PctDepth is { } depth ? $" depth {depth}" : "")}, {mode}; {pool.Where}");
            foreach (var a in plan.Axes)
                stdout.WriteLine($"  {a.Key} = {string.Join(", ", a.Values)}");
        }, cli.Cancel);
        // Ctrl-C: no more leases; the cells are judged on what ran, written marked partial, and the exit code is 130.
        var interrupted = state.Interrupted;
        if (outcome is not null)
        {
            stderr.WriteLine($"error: {outcome}");
            return ExitCodes.SimulatorFailure;
        }

        var results = new List<CellResult>();
        var failed = false;
        for (var c = 0; c < job.Cells(); c++)
        {
            var tally = state.Tallies[c];
            FirstFound? first = null;
            if (tally.FirstViolation is { } v)
            {
                var cellDir = Path.Combine(outDir, "cells", CellFolder(plan, c));
                var written = CellArtifacts.Write(job, v, Path.Combine(cellDir, "cell.conf"), job.CellConfigText(c, plan.Describe(c)),
                    Path.Combine(cellDir, "report.json"), job.Stress ? null : Path.Combine(cellDir, "trace"));
                first = new FirstFound(v.Seed, v.Kinds[0], written.Replay, written.ReportPath, written.Failure);
                failed |= written.Failure is not null;
            }
            failed |= tally.FirstFailure is not null;
            results.Add(CellResult.Of(plan, c, tally, first));
        }
        var header = new SweepWriter.Header(plan.CellConfigs[0].File, job.SeedsPerCell is { } s2 ? $"{Counted.Of(s2, "seed")} from {job.FirstSeed}" : $"{seconds:0.#} s", options.PctDepth is { } d ? $"{options.Strategy} depth {d}" : options.Strategy, mode, pool.Where, state.Elapsed.TotalSeconds, state.Totals().Schedules, interrupted);
        var files = SweepWriter.WriteAll(outDir, plan, results, header);
        stdout.WriteLine();
        stdout.WriteLine(SweepWriter.Table(plan, results));
        stdout.WriteLine();
        var totals = state.Totals();
        stdout.WriteLine($"{Throughput.Of(totals.Schedules, totals.Steps, state.Elapsed, stress)} over {state.Elapsed.TotalSeconds:0.0} s{(interrupted ? " (interrupted)" : "")}");
        stdout.WriteLine(ClusterExplore.Coordination(state, pool));
        foreach (var f in files)
            stdout.WriteLine($"wrote {f}");
        if (failed)
        {
            foreach (var r in results.Where(r => r.Failure is not null))
                stderr.WriteLine($"error: the simulator failed in cell {r.Description}: {r.Failure}");
            stdout.WriteLine("result: SIMULATOR FAILURE (exit 3)");
            return ExitCodes.SimulatorFailure;
        }
        if (interrupted)
        {
            // Nothing is concluded from an interrupted sweep: the cells that ran no schedule, or only some, are unjudged.
            var withFinds = results.Count(r => r.WithViolations > 0);
            var ran = totals.Schedules == 0 ? "nothing ran"
                : $"{job.CountOf(totals.Schedules)} ran, " + (withFinds > 0 ? $"{withFinds} of {results.Count} cell(s) showed violations" : "every one clean");
            stdout.WriteLine($"result: INTERRUPTED — {ran}; the files above are partial (exit {ExitCodes.Interrupted})");
            return ExitCodes.Interrupted;
        }
        var mismatched = results.Where(r => !r.Matched).ToList();
        stdout.WriteLine(mismatched.Count == 0
            ? $"result: every cell matched its expectation (exit 0)"
            : $"result: {mismatched.Count} of {results.Count} cell(s) did not match their expectation: {string.Join("; ", mismatched.Select(r => $"{r.Description} expected {r.Expect}"))} (exit 1)");
        return mismatched.Count == 0 ? ExitCodes.Matched : ExitCodes.Mismatched;
    }

    /// <summary><c>cell-03-identity-off</c>: the index and the values, safe for a file name.</summary>
    public static string CellFolder(SweepPlan plan, int cell)
    {
        var sb = new StringBuilder("cell-").Append(cell.ToString("D2", CultureInfo.InvariantCulture));
        foreach (var v in plan.CellValues[cell])
        {
            sb.Append('-');
            foreach (var ch in v)
                sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '-' ? ch : '_');
        }
        return sb.ToString();
    }
}
