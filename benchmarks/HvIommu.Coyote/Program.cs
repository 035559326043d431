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

// The Coyote anchor (issue "thin actors", item 8): in one process, the simulator's explorer and Coyote 1.7.11's
// TestingEngine on the same minimal races (config/races/h2-free-iova, h4-devtlb-first, h5-drain):
//   1. schedules/s of both on the H2 race's clean twin (hazard off, so every schedule runs to its end), and the ratio;
//   2. schedules to the first violation with the simulator's portfolio, random and PCT and Coyote's random and
//      prioritization (PCT) strategies, from the same starting seeds, with each tool's schedules/s on the way.
// Coyote's telemetry is off: COYOTE_CLI_TELEMETRY_OPTOUT=1 in this process and WithTelemetryEnabled(false). Its
// log is off (a logger to TextWriter.Null, VerbosityLevel.None), and, the models being actors only, partially controlled concurrency is
// not allowed (Coyote then spends nothing on watching for uncontrolled tasks).
Environment.SetEnvironmentVariable("COYOTE_CLI_TELEMETRY_OPTOUT", "1");

int seeds = 10;
long budget = 1000, throughputSchedules = 2000;
string? racesDir = null;
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
            case "--smoke": seeds = 1; budget = 200; throughputSchedules = 100; break;
            case "-h" or "--help":
                Console.WriteLine("usage: dotnet run -c Release --project benchmarks/HvIommu.Coyote -- [--seeds N (10)] [--budget N (1000)] [--schedules N (2000)] [--races-dir DIR] [--smoke]");
                return 0;
            default: throw new ArgumentException($"unknown option '{args[i]}' (allowed: --seeds, --budget, --schedules, --races-dir, --smoke, --help)");
        }
    }
    racesDir = RaceBenchmark.FindDirectory(racesDir) ?? throw new ArgumentException("--races-dir: no config/races directory found above the working directory");
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

SimLogging.Configure(verbose: false, TextWriter.Null);
var starts = RaceBenchmark.Starts(seeds);
string RaceFile(RaceKnobs knobs) => Path.Combine(racesDir, knobs.Name + ".conf");

// 1. Throughput on the H2 race's clean twin, one process, each tool warmed up first.
var h2 = RaceKnobs.FreeBeforeFlushRace;
var cleanConfig = SimConfig.Load(RaceFile(h2), ["hviommu.driver.hazards.free-iova-before-flush = off"]);
double simulatorRate;
using (var system = DeterministicRunner.CreateSystem(cleanConfig, verbose: false, name: "anchor"))
{
    var options = new ScheduleOptions(StrategySpec.Random);
    for (ulong s = 0; s < 50; s++)
        Check(DeterministicRunner.RunSchedule(system, cleanConfig, s, options, "", recordLatencies: false, trace: false));
    var watch = Stopwatch.StartNew();
    for (var i = 0L; i < throughputSchedules; i++)
        Check(DeterministicRunner.RunSchedule(system, cleanConfig, 1000 + (ulong)i, options, "", recordLatencies: false, trace: false));
    simulatorRate = throughputSchedules / watch.Elapsed.TotalSeconds;
}
CoyoteRun(h2.Clean, Configuration.Create().WithRandomStrategy(), 1, 50);
var coyote = CoyoteRun(h2.Clean, Configuration.Create().WithRandomStrategy(), 7, throughputSchedules);
if (coyote.Bug)
    throw new InvalidOperationException("the clean Coyote model reported a bug");
var coyoteRate = coyote.Schedules / coyote.Seconds;
Console.WriteLine($"{h2.Name} clean twin (2 vCPUs, 4 operations, hazard off), {throughputSchedules:N0} schedules each, random strategy, one process:");
Console.WriteLine($"  simulator explorer {simulatorRate:N0} schedules/s, Coyote 1.7.11 TestingEngine (actors) {coyoteRate:N0} schedules/s, ratio {simulatorRate / coyoteRate:0.00}");
Console.WriteLine();

// 2. Schedules to the first violation.
Console.WriteLine($"schedules to the first violation, {seeds} starting seeds ({string.Join(", ", starts.Take(3))}, …), budget {budget:N0}: median / max (found/total), schedules/s");
Console.WriteLine($"{"race",-16} {"strategy",-22} {"median",8} {"max",8} {"found",7} {"sched/s",9}");
foreach (var knobs in RaceKnobs.All)
{
    var race = SimConfig.Load(RaceFile(knobs), []);
    var cells = RaceBenchmark.Measure(race, [StrategySpec.Default, StrategySpec.Random, "pct"], starts, budget);
    foreach (var cell in cells)
    {
        var explored = cell.Trials.Sum(t => t.Schedules ?? budget);
        var seconds = cell.Trials.Sum(t => t.Seconds);
        Row(knobs.Name, "simulator " + cell.Strategy, cell.Trials.Select(t => t.Schedules is { } s ? (double)s : double.PositiveInfinity).ToList(), explored / seconds);
    }
    CoyoteRow(knobs, "coyote random", () => Configuration.Create().WithRandomStrategy());
    CoyoteRow(knobs, "coyote pct", () => Configuration.Create().WithPrioritizationStrategy());
}
return 0;

void CoyoteRow(RaceKnobs knobs, string label, Func<Configuration> configuration)
{
    var found = new List<double>();
    double explored = 0, seconds = 0;
    foreach (var start in starts)
    {
        var run = CoyoteRun(knobs, configuration(), (uint)start, budget);
        found.Add(run.Bug ? run.Schedules : double.PositiveInfinity);
        explored += run.Schedules;
        seconds += run.Seconds;
    }
    Row(knobs.Name, label, found, explored / seconds);
}

void Row(string race, string strategy, List<double> schedules, double rate)
{
    var sorted = schedules.Order().ToArray();
    var mid = sorted.Length / 2;
    var median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    Console.WriteLine($"{race,-16} {strategy,-22} {Num(median),8} {Num(sorted[^1]),8} {$"{sorted.Count(double.IsFinite)}/{sorted.Length}",7} {rate,9:N0}");
}

string Num(double v) => double.IsPositiveInfinity(v) ? $">{budget}" : v.ToString("0.#", CultureInfo.InvariantCulture);

static void Check(ScheduleResult result)
{
    if (result.Failure is not null)
        throw new InvalidOperationException("simulator failure: " + result.Failure);
    if (result.Report.Violations.Count > 0)
        throw new InvalidOperationException("the clean twin reported a violation: " + result.Report.Violations[0].Kind);
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
