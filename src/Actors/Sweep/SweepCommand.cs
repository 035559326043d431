using System.Globalization;
using System.Text;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Cluster;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// <c>sweep</c>: every combination of the varied config keys explored over the same seeds — the safety-contract
/// table of which settings are safe and which fail how (DESIGN.md §3). Runs on all cores of this machine, or on a
/// cluster of workers (<c>--cluster-listen</c>, <c>--local-workers</c>).
/// </summary>
public sealed class SweepCommand : ICommand
{
    public string Name => "sweep";

    public string Summary => "a matrix of config values × seeds explored cell by cell: the safety-contract table, JSON, CSV, Markdown, heatmap";

    public string Usage => UsageText.Replace("{cluster}\n", ClusterOptions.Help + "\n", StringComparison.Ordinal);

    private const string UsageText = """
        usage: sweep --config BASE --vary KEY=V1,V2,… [--vary KEY=…]… (--seeds N | --duration 30s) --out DIR
                     [--seed START] [--strategy random|pct] [--pct-depth D] [--max-steps N] [--mode deterministic|stress]
                     [--ops N] [--parallel N] [--cluster-listen HOST:PORT [--min-workers K]] [--local-workers K] [--plain]

          --config FILE     the base topology or scenario (default: the embedded default.conf)
          --vary KEY=V,…    a config key and the values it takes (repeat for more keys; every combination is a cell);
                            e.g. hviommu.hypervisor.behaviour.detached-translation=blocked,identity,last-domain
          --seeds N         schedules per cell, seeds START … START+N-1 in every cell (default 100)
          --duration T      instead of --seeds: explore each cell for T of wall-clock time (e.g. 30s)
          --seed START      first seed (default: hviommu.seed of the base config)
          --strategy S      random or pct (default random); --pct-depth D (default 3)
          --mode M          deterministic (default: schedules replay exactly) or stress (each seed one stress run on
                            all cores; the seed fixes the workload only)
          --ops N           guest operations per schedule (overrides hviommu.run.ops)
          --parallel N      explorer threads on this machine (default: all cores), or per local worker
          --out DIR         writes DIR/sweep.json, sweep.csv, sweep.md, heatmap.png/.svg (two keys), and for each cell
                            that failed DIR/cells/<cell>/ with its config, report, schedule and trace, so that
                            replay --report DIR/cells/<cell>/report.json reproduces its first violation
        {cluster}
          --plain           plain progress lines even on a terminal

        exit codes: 0 every cell's outcome matched its hviommu.expect (clean unless the config says otherwise),
        1 some cell's did not (the table says which), 2 bad input, 3 the simulator failed
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var configPath = args.Option("--config");
        var vary = args.Options("--vary");
        var seeds = args.Int64("--seeds", 1);
        var durationText = args.Option("--duration");
        var start = args.UInt64("--seed");
        var options = RunCommand.ReadScheduleOptions(args);
        var mode = args.Option("--mode") ?? "deterministic";
        var ops = args.Int64("--ops", 0);
        var parallel = (int?)args.Int64("--parallel", 1, 256);
        var outDir = args.Option("--out");
        var plain = args.Flag("--plain");
        var cluster = ClusterOptions.Read(args, configPath is not null && File.Exists(configPath) ? SimConfig.Load(configPath).Merged : null);
        args.EnsureAllConsumed();
        if (mode is not ("deterministic" or "stress"))
            throw new UsageException($"--mode '{mode}' is not a mode; allowed: deterministic, stress");
        if (outDir is null)
            throw new UsageException("--out DIR is required (where sweep.json, sweep.csv, sweep.md and the heatmap go)");
        if (seeds is not null && durationText is not null)
            throw new UsageException("give --seeds N or --duration T, not both");
        double? seconds = null;
        if (durationText is not null)
            seconds = HoconReader.TryParseDuration(durationText, out var d) && d > TimeSpan.Zero ? d.TotalSeconds : throw new UsageException($"--duration '{durationText}' is not a positive duration (e.g. 30s)");
        if (File.Exists(outDir))
            throw new UsageException($"--out {outDir} is a file; give a directory");
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
        var seedsText = job.SeedsPerCell is { } n ? $"{n:N0} seeds ({job.FirstSeed}…{job.FirstSeed + (ulong)n - 1})" : $"{seconds:0.#} s of seeds from {job.FirstSeed}";
        var state = new SweepState(job, stopAtFirst: false, leaseSeconds: cluster.LeaseSeconds);
        var outcome = ExplorationDriver.Drive(state, pool, stdout, plain, job.SeedsPerCell is { } per ? per * job.Cells() : null, () =>
        {
            stdout.WriteLine($"sweep {plan.CellConfigs[0].File}: {job.Cells()} cell(s) × {seedsText}, strategy {options.Strategy}{(options.Strategy == "pct" ? $" depth {options.PctDepth}" : "")}, {mode}; {pool.Where}");
            foreach (var a in plan.Axes)
                stdout.WriteLine($"  {a.Key} = {string.Join(", ", a.Values)}");
        });
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
        var header = new SweepWriter.Header(plan.CellConfigs[0].File, job.SeedsPerCell is { } s2 ? $"{s2:N0} seeds from {job.FirstSeed}" : $"{seconds:0.#} s", options.Strategy == "pct" ? $"pct depth {options.PctDepth}" : options.Strategy, mode, pool.Where, state.Elapsed.TotalSeconds, state.Totals().Schedules);
        var files = SweepWriter.WriteAll(outDir, plan, results, header);
        stdout.WriteLine();
        stdout.WriteLine(SweepWriter.Table(plan, results));
        stdout.WriteLine();
        var totals = state.Totals();
        stdout.WriteLine($"schedules {totals.Schedules:N0}, steps {totals.Steps:N0}, {totals.Schedules / Math.Max(state.Elapsed.TotalSeconds, 1e-3):N0} schedules/s over {state.Elapsed.TotalSeconds:0.0} s");
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
