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
                       [--mode deterministic|stress] [--ops N] [--plain]

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
          --plain           plain progress lines even on a terminal

        exit codes: 0 every variant's outcome matched the expectation (clean by default), 1 some did not,
        2 bad input, 3 the simulator failed
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var configPath = args.Option("--config");
        var tracePath = args.Option("--workload-trace");
        var outDir = args.Option("--out");
        var variantsText = args.Option("--variants");
        var seed = args.UInt64("--seed");
        var mode = args.Option("--mode") ?? "deterministic";
        var ops = args.Int64("--ops", 0);
        var plain = args.Flag("--plain");
        args.EnsureAllConsumed();
        if (configPath is null && tracePath is null)
            throw new UsageException("compare needs a workload: --workload-trace FILE, --config FILE, or both");
        if (outDir is null)
            throw new UsageException("--out DIR is required (compare.json, compare.csv and the plots go there)");
        if (mode is not ("deterministic" or "stress"))
            throw new UsageException($"--mode '{mode}' is not a mode; allowed: deterministic, stress");
        if (File.Exists(outDir))
            throw new UsageException($"--out '{outDir}' is a file; expected a directory");

        var overrides = new List<string> { $"hviommu.mode = {mode}" };
        if (seed is { } s)
            overrides.Add($"hviommu.seed = {s.ToString(CultureInfo.InvariantCulture)}");
        if (ops is { } o)
            overrides.Add($"hviommu.run.ops = {o.ToString(CultureInfo.InvariantCulture)}");
        var baseConfig = TraceTopology.Load(configPath, tracePath, overrides);
        var caps = baseConfig.Settings.Iommu.CapabilityBits;
        var hasAts = ((IommuCapabilities)caps).HasFlag(IommuCapabilities.Ats) && baseConfig.Settings.Devices.Any(d => d.Ats);
        var variants = ParseVariants(variantsText, hasAts);
        Directory.CreateDirectory(outDir);

        var source = tracePath ?? configPath!;
        stdout.WriteLine($"HvIommu.Actors compare: {source}{(tracePath is not null && configPath is not null ? $" on {configPath}" : "")}");
        stdout.WriteLine($"  seed={baseConfig.Settings.Seed} mode={mode} variants={string.Join(",", variants.Select(v => v.Name))}");
        var results = new List<VariantResult>();
        var wall = Stopwatch.StartNew();
        using (var progress = new CompareProgress(stderr, !plain && RunProgressFactory.IsInteractiveTerminal, variants.Count))
        {
            foreach (var variant in variants)
            {
                progress.Starting(results.Count, variant.Name);
                var started = wall.Elapsed;
                var config = TraceTopology.Load(configPath, tracePath, [.. overrides, .. Overrides(variant, caps)]);
                var result = RunVariant(variant, config, configPath, tracePath, mode);
                results.Add(result);
                progress.Finished(results.Count, variant.Name, (wall.Elapsed - started).TotalSeconds, result.Violations);
            }
        }
        wall.Stop();

        CompareTable.Render(results, stdout);
        var files = CompareWriter.Write(outDir, source, baseConfig.Settings.Seed, mode, results);
        files = [.. files, .. ComparePlots.Write(outDir, Path.GetFileName(source), results)];
        foreach (var f in files)
            stdout.WriteLine($"wrote {f}");
        var events = results.Sum(r => (r.Stats.WorkloadTrace?.MapEvents ?? 0) + (r.Stats.WorkloadTrace?.UnmapEvents ?? 0));
        stdout.WriteLine(string.Format(CultureInfo.InvariantCulture, "compare: {0} variants in {1:0.0} s wall{2}", results.Count, wall.Elapsed.TotalSeconds,
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

    private static VariantResult RunVariant(CompareVariant variant, LoadedConfig config, string? configPath, string? tracePath, string mode)
    {
        var settings = config.Settings;
        if (mode == "deterministic")
        {
            var options = new ScheduleOptions();
            var reproduce = RunCommand.Reproduce(configPath, settings.Seed, null, options, tracePath);
            using var system = DeterministicRunner.CreateSystem(config, verbose: false);
            var r = DeterministicRunner.RunSchedule(system, config, settings.Seed, options, reproduce, trace: false);
            return new VariantResult(variant, r.Report, r.ExitCode, r.Failure);
        }
        var result = StressRunner.Run(config, RunCommand.Reproduce(configPath, settings.Seed, null, null, tracePath), null, verbose: false);
        return new VariantResult(variant, result.Report, result.ExitCode, result.Failure);
    }
}
