using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using HvIommu.Actors.Bench;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Runs;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>bench</c>: the performance figures of docs/design.md §4, measured side by side in one process — raw
/// Akka.NET ping-pong on the stress dispatcher, then the default stress topology with the oracle on —
/// reported as a ratio so the machine's speed cancels out.
/// </summary>
public sealed class BenchCommand : CliCommand
{
    /// <summary>The anonymous objects' names are written as they are; the workload record's properties in camel case.</summary>
    private static readonly JsonSerializerOptions WorkloadJson = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly Option<string?> _config = CommonOptions.Config("the stress topology to measure (default: the embedded default.conf)");
    private readonly Option<long?> _ops = CommonOptions.Int64("--ops", "guest operations in the measured stress run (default 200,000; with --soak 2,000,000)", 1, 1_000_000_000_000);
    private readonly Option<long?> _warmUpOps = CommonOptions.Int64("--warm-up-ops", "guest operations of an unmeasured stress run of the same topology just before the measured one, so that the measured run's code is already compiled, as the ping-pong and steps/s measurements are warmed up (default: a tenth of --ops, at most 20,000; 0: none, a cold start)", 0, 1_000_000_000_000);
    private readonly Option<long?> _schedules = CommonOptions.Int64("--schedules", "schedules per block of the deterministic schedules/s measurement (default 2,000): cold is the first block after 50 schedules, warm the first later block less than 10 % faster than the one before (at most the ninth)", 1, 10_000_000);
    private readonly Option<bool> _soak = new("--soak")
    {
        Description = "instead: one long stress run (default 2,000,000 operations, no duration limit) measuring the managed bytes retained per operation after warm-up (the first 20 %), from full collections at every progress update; exit 0 when below 1 byte/operation, 1 when not",
    };
    private readonly Option<bool> _races = new("--races")
    {
        Description = "instead: the benchmark of minimal races (config/races/): each race explored with each strategy (portfolio, random, pct, delay) from N starting seeds 1, 1001, 2001, … until the first schedule with the expected violation kind or --budget schedules: schedules and seconds to it (median, max, found/total), and the targets (the portfolio's median ≤ 10 schedules, ≤ 2 × the best single strategy's)",
    };
    private readonly Option<string?> _racesDir = new("--races-dir") { Description = "with --races: the race files (*.conf; default: config/races of the repository)", HelpName = "DIR" };
    private readonly Option<long?> _raceSeeds = CommonOptions.Int64("--race-seeds", "with --races: starting seeds per race and strategy (default 10)", 1, 1000);
    private readonly Option<long?> _budget = CommonOptions.Int64("--budget", "with --races: schedules per exploration before it counts as not found (default 1,000)", 1, 10_000_000);
    private readonly Option<bool> _freshActors = new("--fresh-actors")
    {
        Description = "measure schedules/s with new actors for every schedule (hviommu.run.reuse-actors = off) instead of the previous schedule's actors started again",
    };
    private readonly Option<string?> _strategies = new("--strategies") { Description = "with --races: the strategies compared, comma-separated (default portfolio,random,pct,delay)", HelpName = "S,S…" };
    private readonly Option<bool> _json = CommonOptions.Json("print {\"stress\":{\"rawAkkaMessagesPerSecond\",\"messagesPerSecond\",\"ratio\",\"dmaPerSecond\",\"operations\" (guest operations completed: map, DMA, unmap),\"warmUpOperations\" (completed by the unmeasured stress run before it; 0: a cold start),\"allocatedBytesPerOperation\" (managed bytes allocated by every thread during the stress run, per operation),\"violations\",\"workload\" (what was measured):{\"config\",\"mode\",\"dmaMode\",\"vcpus\",\"devices\",\"domains\",\"ops\",\"bufferPages\" (0: sizes drawn from bufferSizes),\"bufferSizes\",\"dmaPerOp\",\"dmaBytes\",\"outstandingPerVcpu\",\"dispatcher\"}},\"deterministic\":{\"stepsPerSecond\" (one schedule of the topology after a warm-up schedule of the same seed of at most 20,000 operations, run as explorers run it: untraced, no latency histograms, the report not built),\"schedulesPerSecond\" (warm: over the first block of --schedules less than 10 % faster than the one before, at most the ninth),\"coldSchedulesPerSecond\" (over the first block, after 50 schedules),\"warmUpSchedules\" (run before the warm block),\"bytesPerSchedule\" (managed bytes allocated per schedule of the warm block),\"reuseActors\",\"scheduleProfile\":{\"schedules\",\"microsecondsPerSchedule\",\"stepsPerSchedule\",\"stepMicrosecondsPerSchedule\"}}} (--soak: {\"soak\":{\"operations\",\"warmUpOperations\",\"samples\",\"bytesPerOperation\",…}}; --races: {\"races\":[{\"race\",\"strategy\",\"found\",\"trials\",\"medianSchedules\",\"maxSchedules\",\"medianSeconds\",\"maxSeconds\",\"budget\",\"schedules\"}],\"targets\":[{\"race\",\"defaultMedian\",\"best\",\"bestMedian\",\"ratio\",\"medianMet\" (default median ≤ 10),\"ratioMet\" (≤ 2 × the best single strategy's)}],\"targetsMet\",\"racesJudged\"})");

    public override string Name => "bench";

    public override int Order => 80;

    public override string Description => "Performance figures side by side in one process: stress messages/s against raw Akka ping-pong on the same dispatcher, DMA/s, deterministic steps/s and schedules/s. With --soak: the managed bytes retained per operation of one long stress run. With --races: schedules to the first violation of each minimal race, per strategy. Exit codes: 0 measured (--soak: below 1 byte/operation), 1 (--soak only) not below, 2 bad input, 3 simulator failure, 130 interrupted (--races).";

    protected override IEnumerable<Symbol> Symbols() => [_config, _ops, _warmUpOps, _schedules, _freshActors, _soak, _races, _racesDir, _raceSeeds, _budget, _strategies, _json];

    /// <summary>
    /// The free-before-flush race at its smallest (H2, brief §5.2): one vCPU, one device replaying stale
    /// descriptors, a strict unmap that frees the IOVA and buffer before its flush, two operations. A
    /// schedule is guest init, the race and teardown; schedules/s is measured over many seeds.
    /// </summary>
    public const string MinimalFreeBeforeFlush = """
        hviommu {
          name = "bench-free-before-flush"
          run { ops = 2, stop-on-first-violation = off }
          vm { vcpus = 1, memory-mib = 8 }
          iommu { capabilities = [present, s1], iotlb-entries = 64, walk-cache-entries = 16 }
          driver.hazards.free-iova-before-flush = on
          domains = [ { name = "dom" } ]
          devices = [ { name = "dev", domain = "dom", in-flight = 2, behaviour = stale-replay, replay-probability = 1.0 } ]
          workload { buffer-pages = 1, dma-per-op = 2, outstanding-per-vcpu = 1 }
        }
        """;

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is System.CommandLine.Parsing.OptionResult { Implicit: false };

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var stdout = cli.Out;
        Option[] raceOnly = [_racesDir, _raceSeeds, _budget, _strategies];
        if (parse.GetValue(_races))
        {
            if (new Option[] { _config, _ops, _warmUpOps, _schedules, _freshActors, _soak }.FirstOrDefault(o => Given(parse, o)) is { } other)
                throw new UsageException($"{other.Name} does not apply to --races (the races are config/races/*.conf, explored schedule by schedule)");
            return RaceBenchCommand.Run(parse.GetValue(_racesDir), (int)(parse.GetValue(_raceSeeds) ?? 10), parse.GetValue(_budget) ?? 1000, parse.GetValue(_strategies), parse.GetValue(_json), cli);
        }
        if (raceOnly.FirstOrDefault(o => Given(parse, o)) is { } raceOption)
            throw new UsageException($"{raceOption.Name} needs --races");
        var configPath = parse.GetValue(_config);
        if (configPath is not null)
            OutputPaths.CheckInput("--config", configPath);
        if (parse.GetValue(_soak))
        {
            if (parse.GetResult(_schedules) is not null)
                throw new UsageException("--schedules measures schedules/s; it does not apply to --soak");
            if (parse.GetResult(_warmUpOps) is not null)
                throw new UsageException("--warm-up-ops warms up the measured stress run; --soak skips its own first 20 % instead");
            return Soak(parse.GetValue(_ops) ?? 2_000_000, parse.GetValue(_json), configPath, stdout);
        }
        var ops = parse.GetValue(_ops) ?? 200_000;
        var schedules = parse.GetValue(_schedules) ?? 2000;
        var json = parse.GetValue(_json);
        var config = SimConfig.Load(configPath, [$"hviommu.run.ops = {ops.ToString(CultureInfo.InvariantCulture)}", "hviommu.run.duration = 10m"]);
        SimLogging.Configure(verbose: false);

        var workload = BenchWorkload.Of(config);
        if (!json)
            stdout.WriteLine(workload.Describe());
        var raw = MeasureRawAkka(config);
        if (!json)
            stdout.WriteLine($"raw Akka ping-pong on {config.Settings.Run.Dispatcher}: {raw.MessagesPerSecond:N0} messages/s ({raw.Messages:N0} in {raw.Seconds:0.00} s)");

        // The simulation's code is compiled (and tiered up) during its first operations; the measured run starts warm.
        var warmUpAsked = parse.GetValue(_warmUpOps) ?? Math.Min(20_000, ops / 10);
        var warmUp = 0L;
        if (warmUpAsked > 0)
        {
            var warm = StressRunner.Run(SimConfig.Load(configPath, [$"hviommu.run.ops = {warmUpAsked.ToString(CultureInfo.InvariantCulture)}", "hviommu.run.duration = 10m"]),
                Reproduction.Run(configPath, config.Settings.Seed, warmUpAsked, null), progress: null, verbose: false);
            // A warm-up that failed measured nothing worth comparing against: say so rather than measure after it.
            if (warm.Failure is not null)
            {
                cli.Error.WriteLine($"error: the warm-up stress run failed ({warm.Failure}); nothing was measured");
                return ExitCodes.SimulatorFailure;
            }
            warmUp = warm.Operations;
        }
        // The warm-up's garbage is collected now, not inside the measured run.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var result = StressRunner.Run(config, Reproduction.Run(configPath, config.Settings.Seed, ops, null), progress: null, verbose: false);
        // Every thread's allocations over the run (actor system start and stop included), per guest operation.
        var allocatedPerOperation = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)Math.Max(1, result.Operations);
        var stats = result.Report.Stats;
        var messagesPerSecond = stats.MessagesDelivered / stats.WallSeconds;
        var dmaPerSecond = stats.DmaTransactions / stats.WallSeconds;
        var ratio = messagesPerSecond / raw.MessagesPerSecond;
        if (!json)
        {
            stdout.WriteLine($"stress run of {config.File}: {Counted.Of(result.Operations, "operation")}, {stats.MessagesDelivered:N0} messages, {stats.DmaTransactions:N0} DMA in {stats.WallSeconds:0.00} s ({(warmUp > 0 ? $"after a warm-up run of {Counted.Of(warmUp, "operation")}" : "cold: no warm-up run")})");
            stdout.WriteLine($"  messages/s {messagesPerSecond:N0} = {ratio:P1} of raw Akka; DMA transactions/s {dmaPerSecond:N0}; {allocatedPerOperation:N0} bytes allocated per operation; violations {result.Report.Violations.Count}");
        }

        var (steps, stepSeconds) = MeasureSteps(config);
        var reuse = !parse.GetValue(_freshActors);
        var (scheduleRate, bytesPerSchedule, phases) = MeasureSchedules(schedules, reuse);
        if (!json)
        {
            stdout.WriteLine($"deterministic run of {config.File}: {steps:N0} controlled steps in {stepSeconds:0.00} s = {steps / stepSeconds:N0} steps/s (one thread)");
            stdout.WriteLine($"deterministic schedules of the minimal free-before-flush race, blocks of {schedules:N0}: warm {scheduleRate.Warm:N0} schedules/s (after {scheduleRate.WarmUp:N0} schedules), cold {scheduleRate.Cold:N0} (the first block after 50); {bytesPerSchedule:N0} bytes allocated per warm schedule ({(reuse ? "actors kept across schedules" : "new actors per schedule")})");
            stdout.WriteLine($"  profile of {phases.Schedules:N0} more (µs per schedule): " + string.Join(", ", Enum.GetValues<SchedulePhase>().Select(p => $"{p.ToString().ToLowerInvariant()} {phases.PerSchedule(phases.Ticks(p)):0.0}"))
                + $"; drive steps: {Per(phases.Steps.MessageSteps)} message ({phases.PerSchedule(phases.Steps.MessageTicks):0.0} µs), {Per(phases.Steps.SystemSteps)} system-only ({phases.PerSchedule(phases.Steps.SystemTicks):0.0} µs), {Per(phases.Steps.TimerSteps)} timer ({phases.PerSchedule(phases.Steps.TimerTicks):0.0} µs)");
        }
        else
        {
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                stress = new
                {
                    rawAkkaMessagesPerSecond = Math.Round(raw.MessagesPerSecond),
                    messagesPerSecond = Math.Round(messagesPerSecond),
                    ratio = Math.Round(ratio, 4),
                    dmaPerSecond = Math.Round(dmaPerSecond),
                    // Guest operations (map → DMA → unmap), as the text line counts them; stats.pagesUnmapped counts pages.
                    operations = result.Operations,
                    warmUpOperations = warmUp,
                    allocatedBytesPerOperation = Math.Round(allocatedPerOperation),
                    violations = result.Report.Violations.Count,
                    workload,
                },
                deterministic = new
                {
                    stepsPerSecond = Math.Round(steps / stepSeconds),
                    schedulesPerSecond = Math.Round(scheduleRate.Warm),
                    coldSchedulesPerSecond = Math.Round(scheduleRate.Cold),
                    warmUpSchedules = scheduleRate.WarmUp,
                    bytesPerSchedule = bytesPerSchedule,
                    reuseActors = reuse,
                    scheduleProfile = new
                    {
                        schedules = phases.Schedules,
                        microsecondsPerSchedule = Enum.GetValues<SchedulePhase>().ToDictionary(p => p.ToString().ToLowerInvariant(), p => Math.Round(phases.PerSchedule(phases.Ticks(p)), 1)),
                        stepsPerSchedule = new
                        {
                            message = Math.Round(Per(phases.Steps.MessageSteps), 1),
                            systemOnly = Math.Round(Per(phases.Steps.SystemSteps), 1),
                            timer = Math.Round(Per(phases.Steps.TimerSteps), 1),
                        },
                        stepMicrosecondsPerSchedule = new
                        {
                            message = Math.Round(phases.PerSchedule(phases.Steps.MessageTicks), 1),
                            systemOnly = Math.Round(phases.PerSchedule(phases.Steps.SystemTicks), 1),
                            timer = Math.Round(phases.PerSchedule(phases.Steps.TimerTicks), 1),
                        },
                    },
                },
            }, WorkloadJson));
        }
        return result.Failure is null ? ExitCodes.Matched : ExitCodes.SimulatorFailure;

        double Per(long steps) => phases.Schedules == 0 ? 0 : (double)steps / phases.Schedules;
    }

    /// <summary><c>bench --soak</c>: a stress run sampled by a <see cref="Bench.SoakProbe"/>; progress lines (with memory) on standard error.</summary>
    private static int Soak(long ops, bool json, string? configPath, TextWriter stdout)
    {
        // Samples are taken at progress updates: every 100 ms, so even a short soak on a fast machine has many.
        var config = SimConfig.Load(configPath, [$"hviommu.run.ops = {ops.ToString(CultureInfo.InvariantCulture)}", "hviommu.run.duration = 24h", "hviommu.run.progress-interval = 100ms"]);
        SimLogging.Configure(verbose: false);
        var probe = new Bench.SoakProbe(ops / 5, json ? null : new Reporting.PlainProgress(Console.Error));
        var result = StressRunner.Run(config, Reproduction.Run(configPath, config.Settings.Seed, ops, null), probe, verbose: false);
        var soak = probe.Result();
        stdout.WriteLine(json ? JsonSerializer.Serialize(new { soak = soak.ToJson(config.File, result.Report) }) : soak.Describe(config.File, result.Report));
        if (result.Failure is not null)
            return ExitCodes.SimulatorFailure;
        return soak.Bounded == true ? ExitCodes.Matched : ExitCodes.Mismatched;
    }

    /// <summary>Controlled steps/s: one deterministic schedule of the topology on this thread, after a warm-up schedule of
    /// the same seed (at most 20,000 operations). After a warm-up of 200 operations, as before, the first part of the
    /// measured schedule ran in code the JIT had not yet optimized (its tiering finishes in the background), so the figure
    /// measured the compiler as well as the executor.</summary>
    private static (long Steps, double Seconds) MeasureSteps(LoadedConfig config)
    {
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "bench-steps");
        var options = new ScheduleOptions();
        var warmUp = config.Settings with { Run = config.Settings.Run with { Ops = Math.Min(20_000, config.Settings.Run.Ops) } };
        // As explorers run: untraced (tracing is what replays of a found schedule add), no latency histograms, and no
        // report unless read (building it is per schedule, not per step).
        DeterministicRunner.RunSchedule(system, config with { Settings = warmUp }, config.Settings.Seed, options, "bench", recordLatencies: false, trace: false, lazyReport: true);
        var sw = Stopwatch.StartNew();
        var r = DeterministicRunner.RunSchedule(system, config, config.Settings.Seed, options, "bench", recordLatencies: false, trace: false, lazyReport: true);
        return (r.Steps, sw.Elapsed.TotalSeconds);
    }

    /// <summary>Schedules/s on <see cref="MinimalFreeBeforeFlush"/>, one system reused, one seed per schedule, cold and
    /// warm (<see cref="WarmThroughput"/>: blocks of <paramref name="count"/> schedules after a start of 50, the rule the
    /// Coyote anchor applies to both tools), with the bytes allocated per schedule over the warm block; then the profile
    /// (wall time by phase and step kind) of as many more schedules, at most 1,000, measured apart so that its clock
    /// reads do not count in the rate.</summary>
    private static (WarmThroughput Rate, long Bytes, SchedulePhases Profile) MeasureSchedules(long count, bool reuseActors)
    {
        var config = SimConfig.Parse(MinimalFreeBeforeFlush + (reuseActors ? "" : "\nhviommu.run.reuse-actors = off\n"), "bench-free-before-flush (embedded)");
        using var system = DeterministicRunner.CreateSystem(config, verbose: false, name: "bench-schedules");
        var options = new ScheduleOptions();
        for (ulong seed = 0; seed < 50; seed++)
            DeterministicRunner.RunSchedule(system, config, seed, options, "bench", recordLatencies: false, trace: false, lazyReport: true);
        var bytes = 0L;
        // Every block runs the same seeds, so that a block's rate changes with the code's warmth only.
        var rate = WarmThroughput.Measure(n =>
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            for (var i = 0L; i < n; i++)
                DeterministicRunner.RunSchedule(system, config, 1000 + (ulong)i, options, "bench", recordLatencies: false, trace: false, lazyReport: true);
            var seconds = sw.Elapsed.TotalSeconds;
            bytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / n;
            return n / seconds;
        }, count, alreadyRun: 50);
        var phases = new SchedulePhases();
        for (var i = 0L; i < Math.Min(count, 1000); i++)
            DeterministicRunner.RunSchedule(system, config, 1000 + (ulong)i, options, "bench", recordLatencies: false, trace: false, phases: phases, lazyReport: true);
        return (rate, bytes, phases);
    }

    /// <summary>Ping-pong with as many pairs as the topology has vCPUs and devices, and a few messages in
    /// flight per pair, like the simulation's own traffic; on the same dispatcher, after a warm-up.</summary>
    private static PingPongResult MeasureRawAkka(LoadedConfig config)
    {
        var akka = ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(false)).WithFallback(config.Merged);
        using var system = ActorSystem.Create("bench", akka);
        var pairs = Math.Max(2, config.Settings.Vm.Vcpus + config.Settings.Devices.Length);
        var dispatcher = config.Settings.Run.Dispatcher;
        PingPongBenchmark.Measure(system, dispatcher, pairs, 4, 20_000);
        var result = PingPongBenchmark.Measure(system, dispatcher, pairs, 4, 2_000_000);
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return result;
    }
}
