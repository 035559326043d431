using System.Globalization;
using System.Text.Json;
using HvIommu.Actors.Bench;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Logging;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Cli;

/// <summary><c>bench --races</c>: the benchmark of minimal races (see <see cref="RaceBenchmark"/>).</summary>
internal static class RaceBenchCommand
{
    public static int Run(string? dirOption, int seeds, long budget, string? strategiesText, bool json, CliContext cli)
    {
        var stdout = cli.Out;
        var strategies = strategiesText is null ? RaceBenchmark.Strategies : CommonOptions.CommaList("--strategies", strategiesText, "strategy");
        foreach (var s in strategies)
        {
            try
            {
                StrategySpec.Parse(s);
            }
            catch (FormatException e)
            {
                throw new UsageException("--strategies: " + e.Message);
            }
        }
        var dir = RaceBenchmark.FindDirectory(dirOption)
            ?? throw new UsageException(dirOption is null ? "no config/races directory found above the working directory; give --races-dir DIR" : $"--races-dir '{dirOption}' is not a directory");
        var files = RaceBenchmark.RaceFiles(dir);
        if (files.Count == 0)
            throw new UsageException($"--races-dir '{dir}' holds no *.conf race file");
        var configs = files.Select(f => SimConfig.Load(f, [])).ToList();
        // The guest's log of its own errors (an injected flush failure it only logs) is not the benchmark's output.
        SimLogging.Configure(verbose: false, TextWriter.Null);
        var starts = RaceBenchmark.Starts(seeds);
        if (!json)
            stdout.WriteLine($"bench --races {dir}: {files.Count} race(s) × {strategies.Count} strateg(ies) × {seeds} starting seed(s) (1, 1001, …), budget {Counted.Of(budget, "schedule")}");
        var all = new List<IReadOnlyList<RaceCell>>();
        foreach (var config in configs)
        {
            if (cli.Cancel.IsCancellationRequested)
            {
                stdout.WriteLine($"interrupted after {all.Count} of {configs.Count} race(s) (exit {ExitCodes.Interrupted})");
                return ExitCodes.Interrupted;
            }
            var cells = RaceBenchmark.Measure(config, strategies, starts, budget);
            all.Add(cells);
            if (!json)
                RaceBenchmark.Render([cells], stdout, header: all.Count == 1);
        }
        if (json)
        {
            // Each judged race's targets, computed once for the per-race rows and the total.
            var judged = all.Where(RaceBenchmark.HasTargets).Select(cells => (Race: cells[0].Race, T: RaceBenchmark.Targets(cells))).ToList();
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                races = all.SelectMany(cells => cells).Select(c => new
                {
                    race = c.Race,
                    strategy = c.Strategy,
                    found = c.Found,
                    trials = c.Trials.Count,
                    medianSchedules = Finite(c.MedianSchedules),
                    maxSchedules = Finite(c.MaxSchedules),
                    medianSeconds = Finite(c.MedianSeconds),
                    maxSeconds = c.MaxSeconds,
                    budget = c.Budget,
                    schedules = c.Trials.Select(t => t.Schedules).ToArray(),
                }),
                targets = judged.Select(r => new
                {
                    race = r.Race,
                    defaultMedian = Finite(r.T.DefaultMedian),
                    best = r.T.Best,
                    bestMedian = Finite(r.T.BestMedian),
                    ratio = Finite(r.T.Ratio),
                    medianMet = r.T.DefaultMedian <= 10,
                    ratioMet = r.T.Ratio <= 2,
                }),
                targetsMet = judged.Count(r => r.T is { DefaultMedian: <= 10, Ratio: <= 2 }),
                racesJudged = judged.Count,
            }));
            return ExitCodes.Matched;
        }
        if (RaceBenchmark.TargetsSummary(all) is { } summary)
        {
            stdout.WriteLine();
            stdout.WriteLine(summary);
        }
        return ExitCodes.Matched;
    }

    /// <summary>JSON has no infinity: a median or max past the budget is null.</summary>
    private static double? Finite(double v) => double.IsFinite(v) ? Math.Round(v, 4) : null;
}
