using System.Diagnostics;
using System.Globalization;
using HvIommu.Actors.Bench;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Logging;
using HvIommu.Actors.Runs;
using HvIommu.Coyote;
using Microsoft.Coyote;
using Microsoft.Coyote.Logging;
using Microsoft.Coyote.SystematicTesting;

// The Coyote anchor (issue "thin actors", item 8) and the race benchmark side by side with Coyote: in one process,
// the simulator's explorer and Coyote 1.7.11's TestingEngine:
//   1. schedules/s of both on the H2 race's clean twin (hazard off, so every schedule runs to its end), and the ratio;
//   2. the benchmark of minimal races (bench --races: every config/races file, every simulator strategy, the same
//      starting seeds), with Coyote's default (its portfolio), random and prioritization (PCT) strategies on its
//      models of the H2, H4 and H5 races (RaceModels.cs) in the same table, and how many times fewer schedules the
//      simulator's default needs than Coyote's best strategy.
// Coyote's telemetry is off: COYOTE_CLI_TELEMETRY_OPTOUT=1 in this process and WithTelemetryEnabled(false). Its
// log is off (a logger to TextWriter.Null, VerbosityLevel.None), and, the models being actors only, partially controlled concurrency is
// not allowed (Coyote then spends nothing on watching for uncontrolled tasks).
Environment.SetEnvironmentVariable("COYOTE_CLI_TELEMETRY_OPTOUT", "1");

int seeds = 10;
long budget = 2000, throughputSchedules = 2000;
string? racesDir = null;
string[]? only = null;
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--seeds": seeds = Positive("--seeds", Value(), 1000); break;
            case "--budget": budget = Positive("--budget", Value(), 10_000_000); break;
            case "--schedules": throughputSchedules = Positive("--schedules", Value(), 10_000_000); break;
            case "--races-dir": racesDir = Value(); break;
            case "--races": only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
            case "--smoke": seeds = 2; budget = 100; throughputSchedules = 100; only = RaceKnobs.All.Select(k => k.Name).ToArray(); break;
            case "-h" or "--help":
                Console.WriteLine("usage: dotnet run -c Release --project benchmarks/HvIommu.Coyote -- [--seeds N (10)] [--budget N (2000)] [--schedules N (2000)] [--races-dir DIR] [--races NAME,NAME (all)] [--smoke]");
                return 0;
            default: throw new ArgumentException($"unknown option '{args[i]}' (allowed: --seeds, --budget, --schedules, --races-dir, --races, --smoke, --help)");
        }
    }
    racesDir = RaceBenchmark.FindDirectory(racesDir) ?? throw new ArgumentException(racesDir is null ? "no config/races directory found above the working directory; give --races-dir DIR" : $"--races-dir '{racesDir}' is not a directory");
    foreach (var name in only ?? [])
        if (!File.Exists(Path.Combine(racesDir, name + ".conf")))
            throw new ArgumentException($"--races: '{name}' has no file {name}.conf in {racesDir}");
    if (!File.Exists(Path.Combine(racesDir, RaceKnobs.FreeBeforeFlushRace.Name + ".conf")))
        throw new ArgumentException($"--races-dir '{racesDir}' holds no {RaceKnobs.FreeBeforeFlushRace.Name}.conf (the throughput race)");
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

SimLogging.Configure(verbose: false, TextWriter.Null);
var starts = RaceBenchmark.Starts(seeds);
string RaceFile(RaceKnobs knobs) => Path.Combine(racesDir, knobs.Name + ".conf");

// 1. Throughput on the H2 race's clean twin, one process. Each tool runs blocks of the same number of schedules: the
// first (after a start of 50) is its cold figure; then blocks until one is less than 10 % faster than the block before
// (at most WarmThroughput.MaxWarmUpBlocks), and that block is its warm figure. The runtime's tiered JIT takes thousands of the
// simulator's schedules to finish optimizing it (far more than 50), so a cold figure measures mostly the JIT.
var h2 = RaceKnobs.FreeBeforeFlushRace;
var cleanConfig = SimConfig.Load(RaceFile(h2), ["hviommu.driver.hazards.free-iova-before-flush = off"]);
WarmThroughput simulator;
using (var system = DeterministicRunner.CreateSystem(cleanConfig, verbose: false, name: "anchor"))
{
    var options = new ScheduleOptions(StrategySpec.Random);
    for (ulong s = 0; s < 50; s++)
        Check(DeterministicRunner.RunSchedule(system, cleanConfig, s, options, "", recordLatencies: false, trace: false, lazyReport: true));
    // Every block runs the same seeds, as every Coyote block runs from the same seed: a block's rate changes with the
    // code's warmth only, not with the schedules drawn.
    simulator = WarmThroughput.Measure(n =>
    {
        var watch = Stopwatch.StartNew();
        for (var i = 0L; i < n; i++)
            Check(DeterministicRunner.RunSchedule(system, cleanConfig, 1000 + (ulong)i, options, "", recordLatencies: false, trace: false, lazyReport: true));
        return n / watch.Elapsed.TotalSeconds;
    }, throughputSchedules, 50);
}
CoyoteRun(h2.Clean, Configuration.Create().WithRandomStrategy(), 1, 50);
var coyoteRates = WarmThroughput.Measure(n =>
{
    var coyote = CoyoteRun(h2.Clean, Configuration.Create().WithRandomStrategy(), 7, n);
    if (coyote.Bug)
        throw new InvalidOperationException("the clean Coyote model reported a bug");
    return coyote.Schedules / coyote.Seconds;
}, throughputSchedules, 50);
Console.WriteLine($"{h2.Name} clean twin (2 vCPUs, 4 operations, hazard off), blocks of {throughputSchedules:N0} schedules, random strategy, one process:");
Console.WriteLine($"  warm: simulator explorer {simulator.Warm:N0} schedules/s, Coyote 1.7.11 TestingEngine (actors) {coyoteRates.Warm:N0} schedules/s, ratio {simulator.Warm / coyoteRates.Warm:0.00} "
    + $"(after {simulator.WarmUp:N0} and {coyoteRates.WarmUp:N0} schedules of warm-up)");
Console.WriteLine($"  cold (the first block after 50 schedules): simulator explorer {simulator.Cold:N0} schedules/s, Coyote {coyoteRates.Cold:N0} schedules/s, ratio {simulator.Cold / coyoteRates.Cold:0.00}");
Console.WriteLine();

// 2. The benchmark of minimal races, with Coyote's cells beside the simulator's where Coyote has a model.
var files = RaceBenchmark.RaceFiles(racesDir).Where(f => only is null || only.Contains(Path.GetFileNameWithoutExtension(f))).ToList();
Console.WriteLine($"schedules to the first violation of the expected kind: {files.Count} race(s), {seeds} starting seed(s) ({string.Join(", ", starts.Take(3))}, …), budget {budget:N0} schedules; simulator strategies {string.Join(", ", RaceBenchmark.Strategies)}; Coyote 1.7.11 (its models of {string.Join(", ", RaceKnobs.All.Select(k => k.Name))}) default, random, pct");
var table = new List<IReadOnlyList<RaceCell>>();
foreach (var file in files)
{
    var cells = RaceBenchmark.Measure(SimConfig.Load(file, []), RaceBenchmark.Strategies, starts, budget).ToList();
    if (RaceKnobs.All.FirstOrDefault(k => k.Name == Path.GetFileNameWithoutExtension(file)) is { } knobs)
    {
        cells.Add(CoyoteCell(knobs, "default", Configuration.Create));
        cells.Add(CoyoteCell(knobs, "random", () => Configuration.Create().WithRandomStrategy()));
        cells.Add(CoyoteCell(knobs, "pct", () => Configuration.Create().WithPrioritizationStrategy()));
    }
    table.Add(cells);
    RaceBenchmark.Render([cells], Console.Out, header: table.Count == 1);
}
Console.WriteLine();
if (RaceBenchmark.TargetsSummary(table) is { } summary)
    Console.WriteLine(summary);
foreach (var cells in table)
    if (RaceBenchmark.AgainstOtherTool(cells) is { } o)
        Console.WriteLine($"{cells[0].Race}: the simulator's default needs {(o.AtLeast ? "at least " : "")}{o.Ratio.ToString("0.0", CultureInfo.InvariantCulture)} × fewer schedules (median) than Coyote's best strategy on its model ({o.Best}{(o.AtLeast ? $" > {budget}" : $" {o.BestMedian.ToString("0.#", CultureInfo.InvariantCulture)}")}); target on H4 and H5: ≥ 10 ×");
return 0;

// Coyote on its model of one race from every start: a TestingEngine run per start, up to the budget.
RaceCell CoyoteCell(RaceKnobs knobs, string strategy, Func<Configuration> configuration)
{
    var trials = starts.Select(start =>
    {
        var run = CoyoteRun(knobs, configuration(), (uint)start, budget);
        return new RaceTrial(start, run.Bug ? run.Schedules : null, run.Seconds);
    }).ToArray();
    return new RaceCell(knobs.Name, strategy, trials, budget, Tool: "coyote");
}

static void Check(ScheduleResult result)
{
    if (result.Failure is not null)
        throw new InvalidOperationException("simulator failure: " + result.Failure);
    if (result.Violations.Count > 0)
        throw new InvalidOperationException("the clean twin reported a violation: " + result.Violations[0].Kind);
}

static int Positive(string option, string text, int max) =>
    int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= 1 && v <= max
        ? v
        : throw new ArgumentException($"{option}: '{text}' is not a whole number from 1 to {max:N0}");

// One TestingEngine run from one seed: schedules (iterations) until the first bug or the budget.
static (bool Bug, long Schedules, double Seconds) CoyoteRun(RaceKnobs knobs, Configuration configuration, uint seed, long iterations)
{
    var config = configuration
        .WithTelemetryEnabled(false)
        .WithVerbosityEnabled(VerbosityLevel.None)
        .WithPartiallyControlledConcurrencyAllowed(false)
        .WithTestingIterations((uint)iterations)
        .WithRandomGeneratorSeed(seed)
        .WithMaxSchedulingSteps(10_000);
    var engine = TestingEngine.Create(config, runtime => RaceModel.Start(runtime, knobs));
    engine.SetLogger(new TextWriterLogger(TextWriter.Null, VerbosityLevel.None));
    var started = 0L;
    engine.RegisterStartIterationCallBack(i => started = i + 1);
    var watch = Stopwatch.StartNew();
    engine.Run();
    return (engine.TestReport.NumOfFoundBugs > 0, started, watch.Elapsed.TotalSeconds);
}

