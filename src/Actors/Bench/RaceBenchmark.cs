using System.Diagnostics;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Bench;

/// <summary>One race explored with one strategy from one starting seed: schedules and seconds to the first
/// schedule with the expected violation kind, or null when the budget ran out first.</summary>
public sealed record RaceTrial(ulong Start, long? Schedules, double Seconds);

/// <summary>One race × one strategy over every starting seed.</summary>
public sealed record RaceCell(string Race, string Strategy, IReadOnlyList<RaceTrial> Trials, long Budget)
{
    public int Found => Trials.Count(t => t.Schedules is not null);

    /// <summary>Median schedules to the first violation; a trial that found nothing counts as more than the
    /// budget, so the median is infinite when half the trials or more found nothing.</summary>
    public double MedianSchedules => Median(Trials.Select(t => t.Schedules is { } s ? (double)s : double.PositiveInfinity));

    /// <summary>The most schedules a trial needed; infinite when one found nothing.</summary>
    public double MaxSchedules => Trials.Count == 0 ? 0 : Trials.Max(t => t.Schedules is { } s ? (double)s : double.PositiveInfinity);

    public double MedianSeconds => Median(Trials.Select(t => t.Schedules is not null ? t.Seconds : double.PositiveInfinity));

    public double MaxSeconds => Trials.Count == 0 ? 0 : Trials.Max(t => t.Seconds);

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0)
            return 0;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>
/// The benchmark of minimal races (<c>bench --races</c>): every race file (config/races/, the minimal twins of
/// the wrong scenarios) is explored with every strategy from several starting seeds, each exploration as
/// <c>explore --strategy S --seed START</c> runs it — schedule i with seed START + i and its plan's i-th
/// strategy, learning the schedule length as it goes — until the first schedule with the expected violation
/// kind or the budget. One deterministic system per race is reused across its schedules.
/// </summary>
public static class RaceBenchmark
{
    /// <summary>The default first, then every single strategy it is made of.</summary>
    public static IReadOnlyList<string> Strategies { get; } = [StrategySpec.Default, StrategySpec.Random, "pct", "delay"];

    /// <summary>Starting seeds 1, 1001, 2001, …: the first <paramref name="count"/>.</summary>
    public static IReadOnlyList<ulong> Starts(int count) => Enumerable.Range(0, count).Select(i => 1 + 1000 * (ulong)i).ToArray();

    /// <summary>The race directory: <paramref name="explicitDir"/> when given, else <c>config/races</c> above the
    /// working directory or the program; null when there is none.</summary>
    public static string? FindDirectory(string? explicitDir) => Scenarios.ScenarioCatalogue.FindConfigDirectory(explicitDir, "races");

    /// <summary>The targets of the benchmark for one race: the default strategy's median, and how it compares
    /// with the best single strategy (ratio of medians; infinite when the default found it in fewer than half).</summary>
    public static (double DefaultMedian, string Best, double BestMedian, double Ratio) Targets(IReadOnlyList<RaceCell> cells)
    {
        var portfolio = cells.First(c => c.Strategy == StrategySpec.Default);
        var best = cells.Where(c => c.Strategy != StrategySpec.Default).OrderBy(c => c.MedianSchedules).First();
        var ratio = double.IsPositiveInfinity(portfolio.MedianSchedules) ? double.PositiveInfinity : portfolio.MedianSchedules / Math.Max(1, best.MedianSchedules);
        return (portfolio.MedianSchedules, best.Strategy, best.MedianSchedules, ratio);
    }

    /// <summary>The side-by-side table: one row per race × strategy.</summary>
    public static void Render(IReadOnlyList<IReadOnlyList<RaceCell>> races, TextWriter w)
    {
        w.WriteLine($"{"race",-24} {"strategy",-10} {"found",7} {"median",7} {"max",7} {"median s",9} {"max s",8}");
        foreach (var cells in races)
        {
            foreach (var c in cells)
                w.WriteLine($"{c.Race,-24} {c.Strategy,-10} {c.Found,3}/{c.Trials.Count,-3} {Number(c.MedianSchedules, c.Budget),7} {Number(c.MaxSchedules, c.Budget),7} {Seconds(c.MedianSeconds),9} {Seconds(c.MaxSeconds),8}");
            if (cells.Any(c => c.Strategy == StrategySpec.Default) && cells.Count > 1)
            {
                var t = Targets(cells);
                w.WriteLine($"{"",-24} default median {Number(t.DefaultMedian, cells[0].Budget)} (target ≤ 10: {(t.DefaultMedian <= 10 ? "met" : "NOT met")}); best single {t.Best} {Number(t.BestMedian, cells[0].Budget)}; ratio {(double.IsInfinity(t.Ratio) ? "∞" : t.Ratio.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture))} (target ≤ 2: {(t.Ratio <= 2 ? "met" : "NOT met")})");
            }
        }
    }

    private static string Number(double v, long budget) => double.IsPositiveInfinity(v) ? $">{budget}" : v.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);

    private static string Seconds(double v) => double.IsPositiveInfinity(v) ? "-" : v.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The race files of <paramref name="directory"/>, by name.</summary>
    public static IReadOnlyList<string> RaceFiles(string directory) =>
        Directory.GetFiles(directory, "*.conf").OrderBy(f => f, StringComparer.Ordinal).ToArray();

    /// <summary>Every strategy on one race, from every start.</summary>
    public static IReadOnlyList<RaceCell> Measure(LoadedConfig race, IReadOnlyList<string> strategies, IReadOnlyList<ulong> starts, long budget)
    {
        using var system = DeterministicRunner.CreateSystem(race, verbose: false, name: "bench-races");
        var name = Path.GetFileNameWithoutExtension(race.File);
        return strategies.Select(s => new RaceCell(name, s, starts.Select(start => Explore(system, race, s, start, budget)).ToArray(), budget)).ToArray();
    }

    /// <summary>One exploration: schedules from <paramref name="start"/> until the expected kind or the budget.</summary>
    public static RaceTrial Explore(DeterministicSystem system, LoadedConfig race, string strategy, ulong start, long budget)
    {
        var options = new ScheduleOptions(strategy, MaxSteps: 1_000_000);
        var plan = options.Plan();
        var expected = Math.Max(1000, race.Settings.Run.Ops * 20);
        var wall = Stopwatch.StartNew();
        for (var i = 0L; i < budget; i++)
        {
            var seed = start + (ulong)i;
            var result = DeterministicRunner.RunSchedule(system, race, seed, options.For(plan.Next(seed, i)), "", expected, recordLatencies: false, trace: false);
            if (result.Failure is not null)
                throw new InvalidOperationException($"{race.File} seed {seed} ({result.Schedule.Strategy}): {result.Failure}");
            plan.Observe(result.Decisions);
            if (result.Report.Expected == ExpectedOutcome.Violation && result.Report.OutcomeMatched)
                return new RaceTrial(start, i + 1, wall.Elapsed.TotalSeconds);
        }
        return new RaceTrial(start, null, wall.Elapsed.TotalSeconds);
    }
}
