using System.Globalization;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Logging;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Tracing;

namespace HvIommu.Actors.Cli;

/// <summary><c>run</c>: one run of a topology in stress mode, with progress, a summary and a report (DESIGN.md §3).</summary>
public sealed class RunCommand : ICommand
{
    public string Name => "run";

    public string Summary => "one run of a topology (default: the embedded config/default.conf)";

    public string Usage => """
        usage: run [--config FILE] [--workload-trace FILE] [--seed N] [--mode stress|deterministic] [--ops N] [--duration 30s] [--report FILE.json]
                   [--trace DIR] [--strategy S] [--pct-depth D] [--max-steps N] [--verbose] [--plain]

          --config FILE     a topology or scenario (an overlay on reference.conf); default: the embedded default.conf
          --workload-trace FILE  replay a kernel ftrace of iommu:map/iommu:unmap events (plain or .gz) as the workload
                            (sets hviommu.workload.trace); without --config, on a topology fit for it: one vCPU per
                            traced CPU, one device in one paging domain
          --seed N          the master seed (overrides hviommu.seed)
          --mode M          stress: Akka's dispatchers on all cores, real races, the seed fixes the workload;
                            deterministic: one mailbox step at a time under a seeded scheduler with virtual time,
                            so the same seed gives the same interleaving, trace hash and violations (default: hviommu.mode)
          --strategy S      deterministic mode's scheduler: portfolio (default), random, pct [depth=D] [length=L]
                            (Burckhardt et al.), delay [bound=B] [length=L] (delay bounding); quote a text with spaces
          --pct-depth D     PCT's depth (D - 1 priority change points; default: depths 1-4 in turn)
          --max-steps N     a deterministic schedule not finished after N steps is a hang (default 50,000,000)
          --ops N           guest DMA operations to run (overrides hviommu.run.ops)
          --duration T      stop starting operations after T (e.g. 30s; overrides hviommu.run.duration)
          --report FILE     write the report JSON (schemaVersion 1) to FILE; deterministic mode also writes
                            the schedule beside it (FILE.schedule) for replay
          --trace DIR       write the causal trace: DIR/trace.perfetto.json (open in https://ui.perfetto.dev),
                            DIR/violation.md (Mermaid diagram of the first violation's history) and DIR/history.jsonl;
                            a stress run records a bounded trace without message causes (not causal-complete)
          --verbose         log simulation events at debug level
          --plain           plain progress lines even on a terminal

        exit codes: 0 outcome matched the expectation, 1 it did not, 2 bad input, 3 simulator failure
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var configPath = args.Option("--config");
        var tracePath = args.Option("--workload-trace");
        var seed = args.UInt64("--seed");
        var mode = args.Option("--mode");
        var ops = args.Int64("--ops", 0);
        var duration = args.Option("--duration");
        var reportPath = args.Option("--report");
        var traceDir = args.Option("--trace");
        var verbose = args.Flag("--verbose");
        var plain = args.Flag("--plain");
        var schedule = ReadScheduleOptions(args);
        args.EnsureAllConsumed();
        if (mode is not null and not ("stress" or "deterministic"))
            throw new UsageException($"--mode '{mode}' is not a mode; allowed: stress, deterministic");
        if (duration is not null && !HoconReader.TryParseDuration(duration, out _))
            throw new UsageException($"--duration '{duration}' is not a duration (e.g. 500ms, 30s, 2m)");

        var overrides = new List<string>();
        if (seed is { } s)
            overrides.Add($"hviommu.seed = {s.ToString(CultureInfo.InvariantCulture)}");
        if (ops is { } o)
            overrides.Add($"hviommu.run.ops = {o.ToString(CultureInfo.InvariantCulture)}");
        if (duration is not null)
            overrides.Add($"hviommu.run.duration = {duration}");
        if (mode is not null)
            overrides.Add($"hviommu.mode = {mode}");
        var config = TraceTopology.Load(configPath, tracePath, overrides);
        var settings = config.Settings;

        SimLogging.Configure(verbose);
        PrintBanner(stdout, config);
        if (settings.Mode == Model.Settings.RunMode.Deterministic)
        {
            var reproduce = Reproduce(configPath, settings.Seed, ops, schedule, tracePath);
            using var system = DeterministicRunner.CreateSystem(config, verbose);
            var r = DeterministicRunner.RunSchedule(system, config, settings.Seed, schedule, reproduce);
            return Finish(stdout, stderr, r.Report, r.ExitCode, r.Failure, null, reportPath, r.Schedule, TraceOutput(traceDir, r.Trace));
        }
        var progress = RunProgressFactory.Create(stdout, plain ? false : null);
        var result = StressRunner.Run(config, Reproduce(configPath, settings.Seed, ops, null, tracePath), progress, verbose, trace: traceDir is not null);
        var initFailed = !result.Outcome.InitSucceeded && result.Failure is null ? result.Outcome.InitDetail : null;
        return Finish(stdout, stderr, result.Report, result.ExitCode, result.Failure, initFailed, reportPath, null, TraceOutput(traceDir, result.Trace));
    }

    /// <summary>--strategy, --pct-depth and --max-steps: how a deterministic run chooses its schedule.</summary>
    internal static ScheduleOptions ReadScheduleOptions(ArgReader args)
    {
        var strategy = args.Option("--strategy") ?? StrategySpec.Default;
        var depth = (int?)args.Int64("--pct-depth", 1, 100);
        try
        {
            StrategySpec.Parse(strategy, depth);
        }
        catch (FormatException e)
        {
            throw new UsageException("--strategy: " + e.Message);
        }
        var maxSteps = args.Int64("--max-steps", 1) ?? 50_000_000;
        return new ScheduleOptions(strategy, depth, maxSteps);
    }

    /// <summary>Where <c>--trace</c> goes and what it holds; null without <c>--trace</c>.</summary>
    internal sealed record TraceRequest(string Directory, SimTrace Trace);

    internal static TraceRequest? TraceOutput(string? directory, SimTrace? trace) =>
        directory is not null && trace is not null ? new TraceRequest(directory, trace) : null;

    /// <summary>Summary, report (with the schedule and the trace files beside it), verdict; the exit code of DESIGN.md §3.</summary>
    internal static int Finish(TextWriter stdout, TextWriter stderr, RunReport report, int exitCode, string? failure, string? initFailed, string? reportPath, ScheduleFile? schedule, TraceRequest? trace = null)
    {
        stdout.WriteLine();
        if (trace is not null)
            report = report with { Artifacts = [.. report.Artifacts, .. WriteTrace(stdout, trace, report)] };
        if (reportPath is not null && schedule is not null)
        {
            var schedulePath = Path.ChangeExtension(reportPath, ".schedule");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(schedulePath))!);
            schedule.Save(schedulePath);
            report = report with { Artifacts = [.. report.Artifacts, schedulePath] };
        }
        SummaryTable.Render(report, stdout);
        if (reportPath is not null)
        {
            ReportWriter.Write(report, reportPath);
            stdout.WriteLine($"report: {reportPath}");
        }
        if (failure is not null)
            stderr.WriteLine($"error: the simulator failed: {failure}");
        if (initFailed is not null)
            stdout.WriteLine($"guest init failed: {initFailed}");
        stdout.WriteLine(Verdict(report, exitCode, failure));
        return exitCode;
    }

    /// <summary>Writes the trace files, prints where they are and how to open them.</summary>
    internal static IReadOnlyList<string> WriteTrace(TextWriter stdout, TraceRequest request, RunReport report)
    {
        var files = TraceFiles.Write(request.Directory, request.Trace, report);
        var t = request.Trace;
        stdout.WriteLine($"trace: {t.Recorder.Recorded:N0} events recorded, {t.Dropped:N0} dropped (capacity {t.Recorder.Capacity:N0}){(t.RecordsMessages ? "" : "; a stress run's trace has no message causes: it is not causal-complete")}");
        foreach (var f in files)
            stdout.WriteLine($"trace: {f}");
        stdout.WriteLine($"open {files[0]} in https://ui.perfetto.dev");
        return files;
    }

    private static void PrintBanner(TextWriter w, LoadedConfig config)
    {
        var s = config.Settings;
        w.WriteLine($"HvIommu.Actors run: {config.File}{(s.Name.Length > 0 ? $" ({s.Name})" : "")}");
        w.WriteLine($"  seed={s.Seed} mode={s.Mode.ToString().ToLowerInvariant()} ops={s.Run.Ops} duration={s.Run.Duration.TotalSeconds:0.###}s expect={s.Expect.ToString().ToLowerInvariant()}{(s.ExpectKind is null ? "" : ":" + s.ExpectKind)}{(s.Hazard.Length > 0 ? " hazard=" + s.Hazard : "")}");
        w.WriteLine($"  vcpus={s.Vm.Vcpus} memory={s.Vm.MemoryMib}MiB domains={s.Domains.Length} devices={s.Devices.Length} (ats={s.Devices.Count(d => d.Ats)}, misbehaving={s.Devices.Count(d => d.Behaviour != Model.Settings.DeviceBehaviour.WellBehaved)})");
        w.WriteLine($"  driver: {s.Driver.DmaMode.ToString().ToLowerInvariant()} mode, {HvIommu.Model.Driver.TableDepth.For(s).Levels}-level tables, {s.Driver.Flush.ToString().ToLowerInvariant()} flush, on-flush-failure={s.Driver.OnFlushFailure.ToString().ToLowerInvariant()}");
        var f = s.Hypervisor.Flush;
        w.WriteLine($"  flush handler: order={(f.Order == Model.Settings.FlushOrder.IotlbFirst ? "iotlb-first" : "devtlb-first")} await-atc={OnOff(f.AwaitAtcCompletions)} drain={OnOff(f.DrainDma)} walk-cache={OnOff(f.InvalidateWalkCache)}");
        if (s.Workload.Trace.Enabled)
            w.WriteLine($"  trace workload: {s.Workload.Trace.File} ({s.Workload.Trace.Ordering.ToString().ToLowerInvariant()} order, device {(s.Workload.Trace.Device.Length > 0 ? s.Workload.Trace.Device : s.Devices[0].Name)}, {s.Workload.Trace.DmaPerPage} DMA per page)");
        w.WriteLine($"  workload: {s.Workload.BufferPages} page(s) per buffer, {s.Workload.DmaPerOp} DMA per op, {s.Workload.OutstandingPerVcpu} outstanding per vCPU; faults={s.Faults.Length}");
    }

    private static string OnOff(bool b) => b ? "on" : "off";

    /// <summary>The exact command that reproduces this run's workload.</summary>
    public static string Reproduce(string? configPath, ulong seed, long? ops, ScheduleOptions? deterministic = null, string? tracePath = null)
    {
        var parts = new List<string> { "dotnet run --project src/Actors -c Release -- run" };
        if (configPath is not null)
            parts.Add("--config " + configPath);
        if (tracePath is not null)
            parts.Add("--workload-trace " + tracePath);
        parts.Add("--seed " + seed.ToString(CultureInfo.InvariantCulture));
        if (ops is { } o)
            parts.Add("--ops " + o.ToString(CultureInfo.InvariantCulture));
        if (deterministic is not null)
        {
            parts.Add("--mode deterministic --strategy " + (deterministic.Strategy.Contains(' ', StringComparison.Ordinal) ? $"\"{deterministic.Strategy}\"" : deterministic.Strategy));
            if (deterministic.PctDepth is { } depth)
                parts.Add("--pct-depth " + depth.ToString(CultureInfo.InvariantCulture));
        }
        return string.Join(' ', parts);
    }

    private static string Verdict(RunReport report, int exitCode, string? failure)
    {
        if (failure is not null)
            return "result: SIMULATOR FAILURE (exit 3)";
        var expected = report.Expected == ExpectedOutcome.Clean ? "clean" : $"violation{(report.ExpectedKind is null ? "" : " " + report.ExpectedKind)}";
        var found = report.Violations.Count == 0 ? "no violation" : $"{report.Violations.Count} violation(s) kept";
        return report.OutcomeMatched
            ? $"result: expected {expected}, found {found}: MATCHED (exit {exitCode})"
            : $"result: expected {expected}, found {found}: NOT MATCHED (exit {exitCode})";
    }
}
