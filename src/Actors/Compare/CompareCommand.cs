using System.Diagnostics;
using System.Globalization;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Compare;

/// <summary>
/// <c>compare</c>: one workload — a topology, or a real kernel trace — under several flush designs, same seed, side
/// by side (DESIGN.md §3): the table, DIR/compare.json, DIR/compare.csv and plots (PNG and SVG).
/// </summary>
public sealed class CompareCommand : ICommand
{
    public string Name => "compare";

    public string Summary => "one workload (a topology or a real kernel trace) under strict/lazy × domain/list flushes: table, JSON, CSV, plots";

    public string Usage => """
        usage: compare (--workload-trace FILE | --config FILE) --out DIR [--variants V,…] [--seed N]
                       [--mode deterministic|stress] [--ops N] [--parallel N] [--plain]

          --workload-trace FILE  a kernel ftrace of iommu:map/iommu:unmap events (plain or .gz); without --config it
                            runs on a topology fit for it (one vCPU per traced CPU, one device, one paging domain)
          --config FILE     a topology (with --workload-trace, the trace drives hviommu.workload.trace-device)
          --out DIR         writes DIR/compare.json, DIR/compare.csv and the plots vm-exits-collateral,
                            iotlb-hit-rate and translation-latency-cdf (.png and .svg)
          --variants V,…    which designs (default: all four, and each with ATS off when a device has ATS):
                            strict-domain, strict-list, lazy-domain, lazy-list, …-ats-off
          --seed N          the master seed, the same for every variant (default: hviommu.seed)
          --mode M          deterministic (default: the same seed gives the same figures) or stress
          --ops N           synthetic guest operations (overrides hviommu.run.ops; a trace's events always run)
          --parallel N      deterministic variants run on N threads at once (default: the machine's cores; the
                            figures are the same for any N); stress variants always run one at a time
          --plain           plain progress lines even on a terminal

        exit codes: 0 every variant's outcome matched the expectation (clean by default), 1 some did not,
        2 bad input, 3 the simulator failed
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var options = new CompareOptions(
            ConfigPath: args.Option("--config"),
            TracePath: args.Option("--workload-trace"),
            OutDir: args.Option("--out"),
            Variants: args.Option("--variants"),
            Seed: args.UInt64("--seed"),
            Mode: args.Option("--mode") ?? "deterministic",
            Ops: args.Int64("--ops", 0),
            Parallel: (int?)args.Int64("--parallel", 1, 64),
            Plain: args.Flag("--plain"));
        args.EnsureAllConsumed();
        return Execute(options, stdout, stderr);
    }

    /// <summary>Runs a comparison: every variant of <paramref name="o"/>, then the table, files and plots.</summary>
    /// <exception cref="UsageException">The options are not a comparison (no workload, no --out, bad mode or variant).</exception>
    public static int Execute(CompareOptions o, TextWriter stdout, TextWriter stderr)
    {
        var (configPath, tracePath, outDir, mode) = (o.ConfigPath, o.TracePath, o.OutDir, o.Mode);
        if (configPath is null && tracePath is null)
            throw new UsageException("compare needs a workload: --workload-trace FILE, --config FILE, or both");
        if (outDir is null)
            throw new UsageException("--out DIR is required (compare.json, compare.csv and the plots go there)");
        if (mode is not ("deterministic" or "stress"))
            throw new UsageException($"--mode '{mode}' is not a mode; allowed: deterministic, stress");
        if (File.Exists(outDir))
            throw new UsageException($"--out '{outDir}' is a file; expected a directory");

        var overrides = new List<string> { $"hviommu.mode = {mode}" };
        if (o.Seed is { } s)
            overrides.Add($"hviommu.seed = {s.ToString(CultureInfo.InvariantCulture)}");
        if (o.Ops is { } ops)
            overrides.Add($"hviommu.run.ops = {ops.ToString(CultureInfo.InvariantCulture)}");
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
        var results = new VariantResult[variants.Count];
        var wall = Stopwatch.StartNew();
        using (var progress = new CompareProgress(stderr, !o.Plain && RunProgressFactory.IsInteractiveTerminal, variants.Count))
        {
            var next = -1;
            void Worker(int thread)
            {
                for (var i = Interlocked.Increment(ref next); i < variants.Count; i = Interlocked.Increment(ref next))
                {
                    progress.Starting(variants[i].Name);
                    var started = wall.Elapsed;
                    results[i] = RunVariant(variants[i], configs[i], configPath, tracePath, mode, thread);
                    progress.Finished(variants[i].Name, (wall.Elapsed - started).TotalSeconds, results[i].Violations);
                }
            }
            var threads = Enumerable.Range(1, parallel - 1).Select(t => new Thread(() => Worker(t)) { IsBackground = true, Name = "compare-" + t }).ToList();
            threads.ForEach(t => t.Start());
            Worker(0);
            threads.ForEach(t => t.Join());
        }
        wall.Stop();

        CompareTable.Render(results, stdout);
        var files = CompareWriter.Write(outDir, source, baseConfig.Settings.Seed, mode, results);
        files = [.. files, .. ComparePlots.Write(outDir, Path.GetFileName(source), results)];
        foreach (var f in files)
            stdout.WriteLine($"wrote {f}");
        var events = results.Sum(r => (r.Stats.WorkloadTrace?.MapEvents ?? 0) + (r.Stats.WorkloadTrace?.UnmapEvents ?? 0));
        stdout.WriteLine(string.Format(CultureInfo.InvariantCulture, "compare: {0} variants in {1:0.0} s wall{2}", results.Length, wall.Elapsed.TotalSeconds,
            events > 0 ? $", {events / wall.Elapsed.TotalSeconds:N0} trace events/s" : ""));
        foreach (var r in results.Where(r => r.Failure is not null))
            stderr.WriteLine($"error: variant {r.Variant.Name}: the simulator failed: {r.Failure}");
        if (results.Any(r => r.ExitCode == ExitCodes.SimulatorFailure))
            return ExitCodes.SimulatorFailure;
        var matched = results.All(r => r.Report.OutcomeMatched);
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

    private static VariantResult RunVariant(CompareVariant variant, LoadedConfig config, string? configPath, string? tracePath, string mode, int thread)
    {
        var settings = config.Settings;
        if (mode == "deterministic")
        {
            var options = new ScheduleOptions();
            var reproduce = RunCommand.Reproduce(configPath, settings.Seed, null, options, tracePath);
            using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "compare-" + thread);
            var r = DeterministicRunner.RunSchedule(system, config, settings.Seed, options, reproduce, trace: false);
            return new VariantResult(variant, r.Report, r.ExitCode, r.Failure);
        }
        var result = StressRunner.Run(config, RunCommand.Reproduce(configPath, settings.Seed, null, null, tracePath), null, verbose: false);
        return new VariantResult(variant, result.Report, result.ExitCode, result.Failure);
    }
}

/// <summary>What <c>compare</c> was asked: the workload (a config, a trace, or both), where to write, which variants,
/// the seed, the mode, synthetic operations, threads for deterministic variants, and plain progress lines.</summary>
public sealed record CompareOptions(string? ConfigPath, string? TracePath, string? OutDir, string? Variants, ulong? Seed,
    string Mode, long? Ops, int? Parallel, bool Plain);
