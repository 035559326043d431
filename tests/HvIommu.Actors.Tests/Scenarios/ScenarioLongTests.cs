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
/// number of operations mapped before the first violation stopped the run. A wrong scenario is judged by one
/// run per seed, as a user runs it: with <c>expect-kind</c>, the run goes on past violations of other kinds
/// until the expected one (or its operations run out), so a schedule that meets another symptom of the same
/// hazard first is not a miss. A wrong scenario in stress mode may take up to three runs of a seed
/// (<see cref="ScenarioFiles.JudgeWrong{T}"/>): there the seed fixes the workload, not the thread schedule, so a run
/// is one draw of the schedule; the "redraws" column counts the extra runs. A right twin gets one run per seed: any
/// violation there fails. With HVIOMMU_LONG_WRONG_SEEDS=N only the wrong scenarios run, on seeds 1..N.
/// </summary>
public sealed class ScenarioLongTests(ITestOutputHelper output)
{
    private const int WrongSeedCap = 20;
    private const string WrongSeedsVariable = "HVIOMMU_LONG_WRONG_SEEDS";

    [LongFact]
    [Trait("Category", "Long")]
    public void Every_scenario_matches_over_many_seeds()
    {
        var seeds = LongFactAttribute.Seeds ?? 0;
        var wrongOnly = int.TryParse(Environment.GetEnvironmentVariable(WrongSeedsVariable), out var w) && w > 0 ? w : (int?)null;
        var failures = new List<string>();
        output.WriteLine($"{"scenario",-28} {"seeds",5} {"matched",7} {"median s",9} {"median ops",10} {"sum s",8} {"redraws",7}");
        foreach (var file in ScenarioFiles.All())
        {
            if (wrongOnly is not null && ScenarioFiles.IsRight(file))
                continue;
            var count = ScenarioFiles.IsRight(file) ? seeds : wrongOnly ?? Math.Min(seeds, WrongSeedCap);
            var times = new List<double>();
            var ops = new List<long>();
            var matched = 0;
            var redraws = 0;
            for (var seed = 1; seed <= count; seed++)
            {
                var s = seed;
                var (r, attempts) = ScenarioFiles.IsRight(file)
                    ? (RunOnce(file, s), 1)
                    : ScenarioFiles.JudgeWrong(file, () => RunOnce(file, s), x => x.Exit == 0);
                redraws += attempts - 1;
                times.Add(r.WallSeconds);
                ops.Add(r.Ops);
                if (r.Exit == 0)
                    matched++;
                else
                    failures.Add($"{ScenarioFiles.Stem(file)} seed {seed}: exit {r.Exit} after {attempts} run(s)\n{r.Stdout}");
            }
            output.WriteLine($"{ScenarioFiles.Stem(file),-28} {count,5} {matched,7} {Median(times),9:0.000} {(ScenarioFiles.IsRight(file) ? "-" : Median(ops).ToString("0", CultureInfo.InvariantCulture)),10} {times.Sum(),8:0.0} {redraws,7}");
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
            return (exit, stdout + stderr, stats.GetProperty("wallSeconds").GetDouble(), stats.GetProperty("pagesMapped").GetInt64() / Math.Max(1, pages));
        }
        finally
        {
            File.Delete(report);
        }
    }

    private static double Median(List<double> xs) => xs.Count == 0 ? 0 : xs.Order().ElementAt(xs.Count / 2);

    private static double Median(List<long> xs) => xs.Count == 0 ? 0 : xs.Order().ElementAt(xs.Count / 2);
}
