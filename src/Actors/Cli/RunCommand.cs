using System.Globalization;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Cli;

/// <summary><c>run</c>: one run of a topology in stress mode, with progress, a summary and a report (DESIGN.md §3).</summary>
public sealed class RunCommand : ICommand
{
    public string Name => "run";

    public string Summary => "one run of a topology (default: the embedded config/default.conf)";

    public string Usage => """
        usage: run [--config FILE] [--seed N] [--ops N] [--duration 30s] [--report FILE.json] [--verbose] [--plain]

          --config FILE     a topology or scenario (an overlay on reference.conf); default: the embedded default.conf
          --seed N          the master seed (overrides hviommu.seed)
          --mode stress     how to schedule the actors (stress: Akka's dispatchers on all cores)
          --ops N           guest DMA operations to run (overrides hviommu.run.ops)
          --duration T      stop starting operations after T (e.g. 30s; overrides hviommu.run.duration)
          --report FILE     write the report JSON (schemaVersion 1) to FILE
          --verbose         log simulation events at debug level
          --plain           plain progress lines even on a terminal

        exit codes: 0 outcome matched the expectation, 1 it did not, 2 bad input, 3 simulator failure
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var configPath = args.Option("--config");
        var seed = args.UInt64("--seed");
        var mode = args.Option("--mode") ?? "stress";
        var ops = args.Int64("--ops", 0);
        var duration = args.Option("--duration");
        var reportPath = args.Option("--report");
        var verbose = args.Flag("--verbose");
        var plain = args.Flag("--plain");
        args.EnsureAllConsumed();
        if (mode != "stress")
            throw new UsageException($"--mode '{mode}' is not available in this build; allowed: stress");
        if (duration is not null && !HoconReader.TryParseDuration(duration, out _))
            throw new UsageException($"--duration '{duration}' is not a duration (e.g. 500ms, 30s, 2m)");

        var overrides = new List<string>();
        if (seed is { } s)
            overrides.Add($"hviommu.seed = {s.ToString(CultureInfo.InvariantCulture)}");
        if (ops is { } o)
            overrides.Add($"hviommu.run.ops = {o.ToString(CultureInfo.InvariantCulture)}");
        if (duration is not null)
            overrides.Add($"hviommu.run.duration = {duration}");
        var config = SimConfig.Load(configPath, overrides);
        var settings = config.Settings;

        SimLogging.Configure(verbose);
        PrintBanner(stdout, config);
        var reproduce = Reproduce(configPath, settings.Seed, ops);
        var progress = RunProgressFactory.Create(stdout, plain ? false : null);
        var result = StressRunner.Run(config, reproduce, progress, verbose);

        stdout.WriteLine();
        SummaryTable.Render(result.Report, stdout);
        if (reportPath is not null)
        {
            ReportWriter.Write(result.Report, reportPath);
            stdout.WriteLine($"report: {reportPath}");
        }
        if (result.Failure is not null)
            stderr.WriteLine($"error: the simulator failed: {result.Failure}");
        if (!result.Outcome.InitSucceeded && result.Failure is null)
            stdout.WriteLine($"guest init failed: {result.Outcome.InitDetail}");
        stdout.WriteLine(Verdict(result));
        return result.ExitCode;
    }

    private static void PrintBanner(TextWriter w, LoadedConfig config)
    {
        var s = config.Settings;
        w.WriteLine($"HvIommu.Actors run: {config.File}{(s.Name.Length > 0 ? $" ({s.Name})" : "")}");
        w.WriteLine($"  seed={s.Seed} mode=stress ops={s.Run.Ops} duration={s.Run.Duration.TotalSeconds:0.###}s expect={s.Expect.ToString().ToLowerInvariant()}{(s.ExpectKind is null ? "" : ":" + s.ExpectKind)}{(s.Hazard.Length > 0 ? " hazard=" + s.Hazard : "")}");
        w.WriteLine($"  vcpus={s.Vm.Vcpus} memory={s.Vm.MemoryMib}MiB domains={s.Domains.Length} devices={s.Devices.Length} (ats={s.Devices.Count(d => d.Ats)}, misbehaving={s.Devices.Count(d => d.Behaviour != Model.Settings.DeviceBehaviour.WellBehaved)})");
        w.WriteLine($"  driver: {s.Driver.DmaMode.ToString().ToLowerInvariant()} mode, {s.Driver.PageTableLevels}-level tables, {s.Driver.Flush.ToString().ToLowerInvariant()} flush, on-flush-failure={s.Driver.OnFlushFailure.ToString().ToLowerInvariant()}");
        var f = s.Hypervisor.Flush;
        w.WriteLine($"  flush handler: order={(f.Order == Model.Settings.FlushOrder.IotlbFirst ? "iotlb-first" : "devtlb-first")} await-atc={OnOff(f.AwaitAtcCompletions)} drain={OnOff(f.DrainDma)} walk-cache={OnOff(f.InvalidateWalkCache)}");
        w.WriteLine($"  workload: {s.Workload.BufferPages} page(s) per buffer, {s.Workload.DmaPerOp} DMA per op, {s.Workload.OutstandingPerVcpu} outstanding per vCPU; faults={s.Faults.Length}");
    }

    private static string OnOff(bool b) => b ? "on" : "off";

    /// <summary>The exact command that reproduces this run's workload.</summary>
    public static string Reproduce(string? configPath, ulong seed, long? ops)
    {
        var parts = new List<string> { "dotnet run --project src/Actors -c Release -- run" };
        if (configPath is not null)
            parts.Add("--config " + configPath);
        parts.Add("--seed " + seed.ToString(CultureInfo.InvariantCulture));
        if (ops is { } o)
            parts.Add("--ops " + o.ToString(CultureInfo.InvariantCulture));
        return string.Join(' ', parts);
    }

    private static string Verdict(RunResult r)
    {
        if (r.Failure is not null)
            return "result: SIMULATOR FAILURE (exit 3)";
        var expected = r.Report.Expected == ExpectedOutcome.Clean ? "clean" : $"violation{(r.Report.ExpectedKind is null ? "" : " " + r.Report.ExpectedKind)}";
        var found = r.Report.Violations.Count == 0 ? "no violation" : $"{r.Report.Violations.Count} violation(s) kept";
        return r.Report.OutcomeMatched
            ? $"result: expected {expected}, found {found}: MATCHED (exit 0)"
            : $"result: expected {expected}, found {found}: NOT MATCHED (exit 1)";
    }
}
