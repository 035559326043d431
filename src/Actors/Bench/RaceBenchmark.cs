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
/// <param name="Tool">Null for the simulator's explorer; else the other tool whose model of the race this cell
/// measured (the Coyote anchor in benchmarks/ adds <c>coyote</c> cells), shown beside the simulator's cells but
/// never counted in the simulator's targets.</param>
public sealed record RaceCell(string Race, string Strategy, IReadOnlyList<RaceTrial> Trials, long Budget, string? Tool = null)
{
    /// <summary>The table's strategy column: the strategy, after the other tool's name when there is one.</summary>
    public string Label => Tool is null ? Strategy : Tool + " " + Strategy;

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
        var portfolio = cells.First(c => c.Tool is null && c.Strategy == StrategySpec.Default);
        var best = cells.Where(c => c.Tool is null && c.Strategy != StrategySpec.Default).OrderBy(c => c.MedianSchedules).First();
        var ratio = double.IsPositiveInfinity(portfolio.MedianSchedules) ? double.PositiveInfinity : portfolio.MedianSchedules / Math.Max(1, best.MedianSchedules);
        return (portfolio.MedianSchedules, best.Strategy, best.MedianSchedules, ratio);
    }

    /// <summary>Whether <paramref name="cells"/> hold the default strategy and a single one to judge it by.</summary>
    public static bool HasTargets(IReadOnlyList<RaceCell> cells) =>
        cells.Any(c => c.Tool is null && c.Strategy == StrategySpec.Default) && cells.Any(c => c.Tool is null && c.Strategy != StrategySpec.Default);

    /// <summary>How many times fewer schedules the simulator's default strategy needs than another tool's best
    /// strategy on its model of the same race (ratio of medians, the simulator's taken as at least 1). When the
    /// other tool found the race in fewer than half its trials its median is past the budget, and the ratio is
    /// a lower bound (<c>AtLeast</c>). Null when the cells hold no other tool or no default.</summary>
    public static (string Best, double BestMedian, double Ratio, bool AtLeast)? AgainstOtherTool(IReadOnlyList<RaceCell> cells)
    {
        var portfolio = cells.FirstOrDefault(c => c.Tool is null && c.Strategy == StrategySpec.Default);
        var other = cells.Where(c => c.Tool is not null).OrderBy(c => c.MedianSchedules).FirstOrDefault();
        if (portfolio is null || other is null || double.IsPositiveInfinity(portfolio.MedianSchedules))
            return null;
        var atLeast = double.IsPositiveInfinity(other.MedianSchedules);
        var otherMedian = atLeast ? other.Budget : other.MedianSchedules;
        return (other.Label, other.MedianSchedules, otherMedian / Math.Max(1, portfolio.MedianSchedules), atLeast);
    }

    /// <summary>Width of the race column: the longest race name of config/races (27) fits.</summary>
    private const int RaceWidth = 28;

    /// <summary>Width of the strategy column: a strategy text such as <c>random coins=eventful</c> (21) fits.</summary>
    private const int StrategyWidth = 22;

    /// <summary>
    /// The side-by-side table: one row per race × strategy (and per other tool's strategy). A caller that renders
    /// race by race as each is measured passes <paramref name="header"/> = true for the first race only; the columns
    /// have fixed widths so the rows of separate calls line up.
    /// </summary>
    public static void Render(IReadOnlyList<IReadOnlyList<RaceCell>> races, TextWriter w, bool header = true)
    {
        if (header)
            w.WriteLine($"{"race",-RaceWidth} {"strategy",-StrategyWidth} {"found",7} {"median",7} {"max",7} {"median s",9} {"max s",8}");
        foreach (var cells in races)
        {
            foreach (var c in cells)
                w.WriteLine($"{c.Race,-RaceWidth} {c.Label,-StrategyWidth} {c.Found,3}/{c.Trials.Count,-3} {Number(c.MedianSchedules, c.Budget),7} {Number(c.MaxSchedules, c.Budget),7} {Seconds(c.MedianSeconds),9} {Seconds(c.MaxSeconds),8}");
            if (HasTargets(cells))
            {
                var t = Targets(cells);
                w.WriteLine($"{"",-RaceWidth} default median {Number(t.DefaultMedian, cells[0].Budget)} (target ≤ 10: {(t.DefaultMedian <= 10 ? "met" : "NOT met")}); best single {t.Best} {Number(t.BestMedian, cells[0].Budget)}; ratio {(double.IsInfinity(t.Ratio) ? "∞" : Ratio(t.Ratio))} (target ≤ 2: {(t.Ratio <= 2 ? "met" : "NOT met")})");
            }
            if (AgainstOtherTool(cells) is { } o)
                w.WriteLine($"{"",-RaceWidth} fewest schedules of the other tool: {o.Best} {Number(o.BestMedian, cells[0].Budget)}, {(o.AtLeast ? "at least " : "")}{Ratio(o.Ratio)} × the default's median");
        }
    }

    /// <summary>The closing line of the table: on how many races the default strategy meets both targets; null
    /// when no race holds the default and a single strategy.</summary>
    public static string? TargetsSummary(IReadOnlyList<IReadOnlyList<RaceCell>> races)
    {
        var judged = races.Where(HasTargets).ToList();
        if (judged.Count == 0)
            return null;
        var met = judged.Count(c => Targets(c) is { DefaultMedian: <= 10, Ratio: <= 2 });
        return $"targets met on {met} of {judged.Count} race(s): the default strategy's median ≤ 10 schedules and ≤ 2 × the best single strategy's median";
    }

    private static string Ratio(double v) => v.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

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
        var wall = Stopwatch.StartNew();
        var i = 0L;
        foreach (var result in Schedules(system, race, strategy, start, budget))
        {
            i++;
            if (result.Expected == ExpectedOutcome.Violation && result.OutcomeMatched)
                return new RaceTrial(start, i, wall.Elapsed.TotalSeconds);
        }
        return new RaceTrial(start, null, wall.Elapsed.TotalSeconds);
    }

    /// <summary>The schedules <c>explore --strategy S --seed START</c> runs, lazily, up to <paramref name="budget"/>:
    /// schedule i with seed START + i and the plan's i-th concrete strategy, the plan learning each schedule's
    /// length. Throws <see cref="InvalidOperationException"/> on a simulator failure (naming file, seed, strategy).</summary>
    public static IEnumerable<ScheduleResult> Schedules(DeterministicSystem system, LoadedConfig race, string strategy, ulong start, long budget)
    {
        var options = new ScheduleOptions(strategy, MaxSteps: 1_000_000);
        var plan = options.Plan();
        var expected = Math.Max(1000, race.Settings.Run.Ops * 20);
        for (var i = 0L; i < budget; i++)
        {
            var seed = start + (ulong)i;
            var result = DeterministicRunner.RunSchedule(system, race, seed, options.For(plan.Next(seed, i)), "", expected, recordLatencies: false, trace: false, lazyReport: true);
            if (result.Failure is not null)
                throw new InvalidOperationException($"{race.File} seed {seed} ({result.Schedule.Strategy}): {result.Failure}");
            plan.Observe(result.Decisions);
            yield return result;
        }
    }
}
