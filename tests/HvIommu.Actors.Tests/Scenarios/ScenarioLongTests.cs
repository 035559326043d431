using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Tests.Simulation;
using Xunit.Abstractions;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// The catalogue over many seeds (opt-in, <see cref="LongFactAttribute"/>): with HVIOMMU_LONG_SEEDS=N every
/// right twin runs on seeds 1..N and every wrong scenario on seeds 1..min(N, 20); each run must match its
/// expectation. Reports per scenario the median wall time of a run and, for wrong scenarios, the median
/// number of operations mapped before the first violation stopped the run.
/// </summary>
public sealed class ScenarioLongTests(ITestOutputHelper output)
{
    private const int WrongSeedCap = 20;

    [LongFact]
    [Trait("Category", "Long")]
    public void Every_scenario_matches_over_many_seeds()
    {
        var seeds = LongFactAttribute.Seeds ?? 0;
        var failures = new List<string>();
        output.WriteLine($"{"scenario",-28} {"seeds",5} {"matched",7} {"median s",9} {"median ops",10} {"sum s",8}");
        foreach (var file in ScenarioFiles.All())
        {
            var count = ScenarioFiles.IsRight(file) ? seeds : Math.Min(seeds, WrongSeedCap);
            var times = new List<double>();
            var ops = new List<long>();
            var matched = 0;
            for (var seed = 1; seed <= count; seed++)
            {
                var r = RunOnce(file, seed);
                times.Add(r.WallSeconds);
                ops.Add(r.Ops);
                if (r.Exit == 0)
                    matched++;
                else
                    failures.Add($"{ScenarioFiles.Stem(file)} seed {seed}: exit {r.Exit}\n{r.Stdout}");
            }
            output.WriteLine($"{ScenarioFiles.Stem(file),-28} {count,5} {matched,7} {Median(times),9:0.000} {(ScenarioFiles.IsRight(file) ? "-" : Median(ops).ToString("0", CultureInfo.InvariantCulture)),10} {times.Sum(),8:0.0}");
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    private static (int Exit, string Stdout, double WallSeconds, long Ops) RunOnce(string file, int seed)
    {
        var report = Path.Combine(Path.GetTempPath(), $"hviommu-long-{Guid.NewGuid():N}.json");
        try
        {
            var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", file, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--plain", "--report", report]);
            if (!File.Exists(report))
                return (exit, stdout + stderr, 0, 0);
            using var doc = JsonDocument.Parse(File.ReadAllText(report));
            var stats = doc.RootElement.GetProperty("stats");
            var pages = SimConfig.Load(file).Settings.Workload.BufferPages;
            return (exit, stdout + stderr, stats.GetProperty("wallSeconds").GetDouble(), stats.GetProperty("maps").GetInt64() / Math.Max(1, pages));
        }
        finally
        {
            File.Delete(report);
        }
    }

    private static double Median(List<double> xs) => xs.Count == 0 ? 0 : xs.Order().ElementAt(xs.Count / 2);

    private static double Median(List<long> xs) => xs.Count == 0 ? 0 : xs.Order().ElementAt(xs.Count / 2);
}
