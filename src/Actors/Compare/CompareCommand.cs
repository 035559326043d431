using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Compare;

/// <summary>
/// <c>compare</c>: one workload — a topology, or a real kernel trace — under several flush designs, same seed, side
/// by side (docs/design.md §3): the table, DIR/compare.json, DIR/compare.csv and plots (PNG and SVG).
/// </summary>
public sealed class CompareCommand : CliCommand
{
    private readonly Option<string?> _workloadTrace = new("--workload-trace")
    {
        Description = "a kernel ftrace of iommu:map/iommu:unmap events (plain or .gz); without --config it runs on a topology fit for it (one vCPU per traced CPU, one device, one paging domain)",
        HelpName = "FILE",
    };
    private readonly Option<string?> _config = CommonOptions.Config("a topology (with --workload-trace, the trace drives hviommu.workload.trace-device and the other devices run the synthetic workload)");
    private readonly Option<string> _out = new("--out")
    {
        Description = "writes DIR/compare.json, DIR/compare.csv, the plots vm-exits-collateral, iotlb-hit-rate and translation-latency-cdf (.png and .svg), and DIR/variants/NAME.json, each variant's run report (with its schedule in deterministic mode: replay --report repeats it)",
        HelpName = "DIR",
        Required = true,
    };
    private readonly Option<string?> _variants = new("--variants")
    {
        Description = "which designs, comma-separated (default: all four, and each with ATS off when a device has ATS): strict-domain, strict-list, lazy-domain, lazy-list, …-ats-off",
        HelpName = "V,…",
    };
    private readonly Option<ulong?> _seed = CommonOptions.Seed("the master seed, the same for every variant (default: hviommu.seed)");
    private readonly Option<string?> _mode = CommonOptions.OneOf("--mode", "deterministic (default: the same seed gives the same figures) or stress (Akka's dispatchers, real races)", "deterministic", "stress");
    private readonly Option<long?> _ops = CommonOptions.Ops("synthetic guest operations (overrides hviommu.run.ops; a trace's events always run)");
    private readonly Option<long?> _parallel = CommonOptions.Int64("--parallel",
        "deterministic variants run on N threads at once (default: the machine's cores; the figures are the same for any N); stress variants always run one at a time", 1, 64);

    public override string Name => "compare";

    public override int Order => 37;

    public override string Description => "One workload (a topology or a real kernel trace) under strict/lazy × domain/list flushes, same seed: "
        + "the cost model's figures side by side as a table, compare.json, compare.csv and plots. "
        + "Exit codes: 0 every variant's outcome matched its expectation (clean by default), 1 some did not, 2 bad input, 3 the simulator failed, 130 interrupted.";

    protected override IEnumerable<Symbol> Symbols() => [_workloadTrace, _config, _out, _variants, _seed, _mode, _ops, _parallel];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var options = new CompareOptions(
            ConfigPath: parse.GetValue(_config),
            TracePath: parse.GetValue(_workloadTrace),
            OutDir: parse.GetValue(_out),
            Variants: parse.GetValue(_variants),
            Seed: parse.GetValue(_seed),
            Mode: parse.GetValue(_mode) ?? "deterministic",
            Ops: parse.GetValue(_ops),
            Parallel: (int?)parse.GetValue(_parallel),
            Plain: cli.Plain);
        SimLogging.Configure(cli.Verbose);
        return Execute(options, cli.Out, cli.Error, cli.Verbose, cli.Cancel);
    }

    /// <summary>Runs a comparison: every variant of <paramref name="o"/>, then the table, files and plots.</summary>
    /// <exception cref="UsageException">The options are not a comparison (no workload, no --out, bad mode or variant).</exception>
    public static int Execute(CompareOptions o, TextWriter stdout, TextWriter stderr, bool verbose = false, CancellationToken cancel = default)
    {
        var (configPath, tracePath, outDir, mode) = (o.ConfigPath, o.TracePath, o.OutDir, o.Mode);
        if (configPath is null && tracePath is null)
            throw new UsageException("compare needs a workload: --workload-trace FILE, --config FILE, or both");
        if (outDir is null)
            throw new UsageException("--out DIR is required (compare.json, compare.csv and the plots go there)");
        if (mode is not ("deterministic" or "stress"))
            throw new UsageException($"--mode '{mode}' is not a mode; allowed: deterministic, stress");
        if (configPath is not null)
            OutputPaths.CheckInput("--config", configPath);
        if (tracePath is not null)
            OutputPaths.CheckInput("--workload-trace", tracePath);
        OutputPaths.CheckDirectory("--out", outDir);

        var overrides = new List<string> { $"hviommu.mode = {mode}" };
        if (o.Seed is { } s)
            overrides.Add(SimConfig.FromOption("--seed", "hviommu.seed", s.ToString(CultureInfo.InvariantCulture)));
        if (o.Ops is { } ops)
            overrides.Add(SimConfig.FromOption("--ops", "hviommu.run.ops", ops.ToString(CultureInfo.InvariantCulture)));
        var baseConfig = TraceTopology.Load(configPath, tracePath, overrides);
        var caps = baseConfig.Settings.Iommu.CapabilityBits;
        var hasAts = ((IommuCapabilities)caps).HasFlag(IommuCapabilities.Ats) && baseConfig.Settings.Devices.Any(d => d.Ats);
        var variants = ParseVariants(o.Variants, hasAts);
        // Deterministic variants are independent schedules, so they may run side by side without changing a figure;
        // stress variants run one at a time so that they do not take cores from each other's races.
        var parallel = mode == "deterministic" ? Math.Clamp(o.Parallel ?? Environment.ProcessorCount, 1, variants.Count) : 1;
        var configs = variants.Select(v => TraceTopology.Load(configPath, tracePath, [.. overrides, .. Overrides(v, caps)])).ToArray();
        Directory.CreateDirectory(outDir);

        var source = tracePath ?? configPath!;
        stdout.WriteLine($"HvIommu.Actors compare: {source}{(tracePath is not null && configPath is not null ? $" on {configPath}" : "")}");
        stdout.WriteLine($"  seed={baseConfig.Settings.Seed} mode={mode} variants={string.Join(",", variants.Select(v => v.Name))} parallel={parallel}");
        var results = new VariantResult?[variants.Count];
        var wall = Stopwatch.StartNew();
        using (var progress = new CompareProgress(stderr, !o.Plain && RunProgressFactory.IsInteractiveTerminal, variants.Count))
        {
            var next = -1;
            void Worker(int thread)
            {
                // Ctrl-C: no variant starts after it, the running ones stop where they are.
                for (var i = Interlocked.Increment(ref next); i < variants.Count && !cancel.IsCancellationRequested; i = Interlocked.Increment(ref next))
                {
                    progress.Starting(variants[i].Name);
                    var started = wall.Elapsed;
                    var result = RunVariant(variants[i], configs[i], configPath, tracePath, mode, thread, verbose, cancel);
                    results[i] = result;
                    progress.Finished(variants[i].Name, (wall.Elapsed - started).TotalSeconds, result.Violations);
                }
            }
            var threads = Enumerable.Range(1, parallel - 1).Select(t => new Thread(() => Worker(t)) { IsBackground = true, Name = "compare-" + t }).ToList();
            threads.ForEach(t => t.Start());
            Worker(0);
            threads.ForEach(t => t.Join());
        }
        wall.Stop();
        var interrupted = cancel.IsCancellationRequested;
        // Interrupted: the variants that finished are compared; one stopped midway is left out (its figures would
        // not be comparable), and the files say the comparison is partial.
        var done = results.Where(r => r is not null && !r.Report.Partial).Select(r => r!).ToList();
        if (interrupted)
        {
            stderr.WriteLine($"compare: interrupted; {done.Count} of {variants.Count} variant(s) finished and are compared");
            if (done.Count == 0)
                return ExitCodes.Interrupted;
        }

        CompareTable.Render(done, stdout);
        var files = CompareWriter.Write(outDir, source, baseConfig.Settings.Seed, mode, done, partial: interrupted);
        files = [.. files, .. ComparePlots.Write(outDir, Path.GetFileName(source), done)];
        var variantFiles = new List<string>();
        done = [.. done.Select(r => WriteVariantReport(outDir, r, o, variantFiles))];
        files = [.. files, .. variantFiles];
        foreach (var f in files)
            stdout.WriteLine($"wrote {f}");
        foreach (var r in done.Where(r => r.Report.Violations.Count > 0))
            stdout.WriteLine($"{r.Variant.Name}: {r.Report.Violations[0].Kind} — {r.Report.Violations[0].Description}; reproduce: {r.Report.Violations[0].Reproduce}");
        var events = done.Sum(r => (r.Stats.WorkloadTrace?.MapEvents ?? 0) + (r.Stats.WorkloadTrace?.UnmapEvents ?? 0));
        stdout.WriteLine(string.Format(CultureInfo.InvariantCulture, "compare: {0} variants in {1:0.0} s wall{2}", done.Count, wall.Elapsed.TotalSeconds,
            events > 0 ? $", {events / wall.Elapsed.TotalSeconds:N0} trace events/s" : ""));
        foreach (var r in done.Where(r => r.Failure is not null))
            stderr.WriteLine($"error: variant {r.Variant.Name}: the simulator failed: {r.Failure}");
        if (interrupted)
            return ExitCodes.Interrupted;
        if (done.Any(r => r.Verdict == RunVerdict.SimulatorFailed))
            return ExitCodes.SimulatorFailure;
        var matched = done.All(r => r.Verdict == RunVerdict.Matched);
        stdout.WriteLine(matched ? "result: every variant matched its expectation (exit 0)" : "result: some variant did not match its expectation (exit 1)");
        return matched ? ExitCodes.Matched : ExitCodes.Mismatched;
    }

    private static IReadOnlyList<CompareVariant> ParseVariants(string? text, bool hasAts)
    {
        if (text is null)
            return CompareVariant.Defaults(hasAts);
        var list = new List<CompareVariant>();
        foreach (var word in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var v = CompareVariant.Parse(word)
                ?? throw new UsageException($"--variants: '{word}' is not a variant; allowed: strict-domain, strict-list, lazy-domain, lazy-list, each optionally with -ats-off");
            if (list.Contains(v))
                throw new UsageException($"--variants: '{word}' is named twice");
            list.Add(v);
        }
        if (list.Count == 0)
            throw new UsageException("--variants: name at least one variant");
        return list;
    }

    /// <summary>The overlay lines of a variant: dma-iommu mode, flush hypercall, and ATS left out of the capabilities.</summary>
    private static IEnumerable<string> Overrides(CompareVariant v, ulong caps)
    {
        yield return $"hviommu.driver.dma-mode = {v.DmaMode}";
        yield return $"hviommu.driver.flush = {v.Flush}";
        if (v.AtsOff)
        {
            var words = ConfigWords.Capabilities.Where(w => (caps & (ulong)w.Value) != 0 && w.Value != IommuCapabilities.Ats).Select(w => w.Key);
            yield return $"hviommu.iommu.capabilities = [{string.Join(", ", words)}]";
        }
    }

    private static VariantResult RunVariant(CompareVariant variant, LoadedConfig config, string? configPath, string? tracePath, string mode, int thread, bool verbose, CancellationToken cancel)
    {
        var settings = config.Settings;
        if (mode == "deterministic")
        {
            var options = new ScheduleOptions();
            var reproduce = Reproduction.Run(configPath, settings.Seed, null, options, workloadTrace: tracePath);
            using var system = DeterministicRunner.CreateSystem(config, verbose, name: "compare-" + thread);
            var r = DeterministicRunner.RunSchedule(system, config, settings.Seed, options, reproduce, trace: false, cancel: cancel);
            return new VariantResult(variant, r.Report, r.Verdict, r.Failure) { Schedule = r.Schedule };
        }
        var result = StressRunner.Run(config, Reproduction.Run(configPath, settings.Seed, null, null, workloadTrace: tracePath), null, verbose, cancel: cancel);
        return new VariantResult(variant, result.Report, result.Verdict, result.Failure);
    }

    /// <summary>
    /// DIR/variants/NAME.json: the variant's full run report (the resolved config with the variant's driver settings,
    /// every figure, the violations), and for a deterministic variant its schedule beside it, so that
    /// <c>replay --report DIR/variants/NAME.json</c> repeats it exactly. Each violation's reproduce line is that
    /// replay (deterministic), or this comparison of that one variant (stress): the run command cannot say which
    /// flush design the variant used.
    /// </summary>
    private static VariantResult WriteVariantReport(string outDir, VariantResult r, CompareOptions o, List<string> written)
    {
        var dir = Path.Combine(outDir, "variants");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, r.Variant.Name + ".json");
        var report = r.Report;
        string reproduce;
        if (r.Schedule is { } schedule)
        {
            var schedulePath = Path.ChangeExtension(path, ".schedule");
            AtomicFile.WriteText(schedulePath, schedule.ToText());
            written.Add(schedulePath);
            report = report with { Artifacts = [.. report.Artifacts, schedulePath] };
            reproduce = Reproduction.Replay(path);
        }
        else
        {
            reproduce = string.Join(' ', new[]
            {
                Reproduction.Program + " compare",
                o.TracePath is null ? null : "--workload-trace " + Reproduction.PathArgument(o.TracePath),
                o.ConfigPath is null ? null : "--config " + Reproduction.PathArgument(o.ConfigPath),
                "--variants " + r.Variant.Name,
                "--seed " + report.Seed.ToString(CultureInfo.InvariantCulture),
                o.Ops is { } ops ? "--ops " + ops.ToString(CultureInfo.InvariantCulture) : null,
                "--mode stress --out " + Reproduction.PathArgument(outDir),
            }.Where(p => p is not null));
        }
        report = report with { Violations = [.. report.Violations.Select(v => v with { Reproduce = reproduce })] };
        ReportWriter.Write(report, path);
        written.Add(path);
        return r with { Report = report };
    }
}

/// <summary>What <c>compare</c> was asked: the workload (a config, a trace, or both), where to write, which variants,
/// the seed, the mode, synthetic operations, threads for deterministic variants, and plain progress lines.</summary>
public sealed record CompareOptions(string? ConfigPath, string? TracePath, string? OutDir, string? Variants, ulong? Seed,
    string Mode, long? Ops, int? Parallel, bool Plain);
