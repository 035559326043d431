using System.Diagnostics;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// Runs the seeds of leases on one explorer thread: deterministic schedules on one reused
/// <see cref="DeterministicSystem"/> (one per distinct akka section, normally one for the whole sweep), untraced
/// and without latency histograms as explorers run; or, in stress mode, one stress run per seed. The same code
/// runs a single-machine sweep's threads and a cluster worker's, so a seed gives the same schedule on both.
/// Progress is handed out in order, in pieces of at most <paramref name="batch"/> schedules or
/// <paramref name="batchSeconds"/> of work, so a lost explorer loses at most one piece.
/// </summary>
public sealed class LeaseRunner(ExplorationJob job, string name, int batch = 256, double batchSeconds = 0.25) : IDisposable
{
    private readonly Dictionary<int, LoadedConfig> _configs = new();
    private readonly Dictionary<int, IndexedStrategies> _strategies = new();
    private readonly Dictionary<string, DeterministicSystem> _systems = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="lease"/> until it is done or <paramref name="stop"/> says so; returns the seeds run.</summary>
    public long Run(Lease lease, Func<bool> stop, Action<LeaseProgress> report)
    {
        var config = ConfigOf(lease.Cell);
        var notable = new List<SeedOutcome>();
        var clock = Stopwatch.StartNew();
        var from = lease.First;
        long count = 0, steps = 0, total = 0;
        for (var seed = lease.First; seed < lease.End && !stop(); seed++)
        {
            var (outcome, s) = RunOne(config, lease.Cell, seed);
            count++;
            steps += s;
            if (outcome is not null)
                notable.Add(outcome);
            if (count >= batch || clock.Elapsed.TotalSeconds >= batchSeconds || seed + 1 == lease.End)
            {
                report(new LeaseProgress(lease.Id, lease.Cell, from, count, steps, notable.ToArray(), clock.Elapsed.TotalSeconds));
                total += count;
                from = seed + 1;
                count = steps = 0;
                notable.Clear();
                clock.Restart();
            }
        }
        if (count > 0)
        {
            report(new LeaseProgress(lease.Id, lease.Cell, from, count, steps, notable.ToArray(), clock.Elapsed.TotalSeconds));
            total += count;
        }
        return total;
    }

    /// <summary>One seed of <paramref name="cell"/>: null when clean, else what it found; and its steps.</summary>
    public (SeedOutcome? Outcome, long Steps) RunOne(LoadedConfig config, int cell, ulong seed)
    {
        if (job.Stress)
        {
            var seeded = config with { Settings = config.Settings with { Seed = seed } };
            var r = StressRunner.Run(seeded, "", progress: null, verbose: false);
            return (Notable(cell, seed, r.Report.Violations.Select(v => v.Kind), "", r.Failure), r.Report.Stats.Steps);
        }
        var system = SystemFor(config);
        if (!_strategies.TryGetValue(cell, out var strategies))
            _strategies[cell] = strategies = job.Strategies();
        var result = DeterministicRunner.RunSchedule(system, config, seed, strategies.For(system, config, seed), "", ExplorationJob.ExpectedSteps(config), recordLatencies: false, trace: false, lazyReport: true).AsExplored();
        return (Notable(cell, seed, result.Violations.Select(v => v.Kind), result.TraceHash ?? "", result.Failure), result.Steps);
    }

    private static SeedOutcome? Notable(int cell, ulong seed, IEnumerable<string> kinds, string hash, string? failure)
    {
        var distinct = kinds.Distinct(StringComparer.Ordinal).ToArray();
        return distinct.Length == 0 && failure is null ? null : new SeedOutcome(cell, seed, distinct, hash, failure);
    }

    public LoadedConfig ConfigOf(int cell)
    {
        if (!_configs.TryGetValue(cell, out var config))
            _configs[cell] = config = job.Load(cell);
        return config;
    }

    private DeterministicSystem SystemFor(LoadedConfig config)
    {
        var akka = config.Merged.HasPath("akka") ? config.Merged.GetConfig("akka").Root.ToString() : "";
        if (!_systems.TryGetValue(akka, out var system))
            _systems[akka] = system = DeterministicRunner.CreateSystem(config, verbose: false, name: $"{name}-{_systems.Count}");
        return system;
    }

    public void Dispose()
    {
        foreach (var s in _systems.Values)
            s.Dispose();
        _systems.Clear();
    }
}
