using HvIommu.Actors.Runs;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// The cells of a sweep — every combination of the varied keys' values, the first key varying slowest — and
/// the job that runs them. Built only after every key and value has been checked against the config loader,
/// each value alone and each combination, so a bad key or value stops the sweep before any schedule runs.
/// </summary>
public sealed class SweepPlan
{
    private SweepPlan(ExplorationJob job, IReadOnlyList<SweepAxis> axes, IReadOnlyList<IReadOnlyList<string>> cells, IReadOnlyList<LoadedConfig> configs, string? configPath)
    {
        Job = job;
        Axes = axes;
        CellValues = cells;
        CellConfigs = configs;
        ConfigPath = configPath;
    }

    public ExplorationJob Job { get; }

    public IReadOnlyList<SweepAxis> Axes { get; }

    /// <summary>Per cell, the value of each axis (in axis order).</summary>
    public IReadOnlyList<IReadOnlyList<string>> CellValues { get; }

    /// <summary>Per cell, its loaded config (for the expectation and the banner).</summary>
    public IReadOnlyList<LoadedConfig> CellConfigs { get; }

    /// <summary>The base config's path as given (null: the embedded default).</summary>
    public string? ConfigPath { get; }

    /// <summary>KEY → value for one cell, in axis order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings(int cell) =>
        Axes.Select((a, i) => new KeyValuePair<string, string>(a.Key, CellValues[cell][i])).ToList();

    /// <summary><c>detached-translation=identity, flush-covers-departed-devices=off</c> (the keys' last parts).</summary>
    public string Describe(int cell) => Axes.Count == 0
        ? "base configuration"
        : string.Join(", ", Settings(cell).Select(kv => $"{ShortKey(kv.Key)}={kv.Value}"));

    public static string ShortKey(string key) => key[(key.LastIndexOf('.') + 1)..];

    /// <param name="configPath">--config, or null for the embedded default.conf.</param>
    /// <param name="vary">The --vary arguments (none: one cell, the base config).</param>
    /// <exception cref="UsageException">A --vary that does not parse, names a key the sweep may not vary, or a value the loader rejects.</exception>
    /// <exception cref="ConfigException">The base config itself is wrong.</exception>
    public static SweepPlan Build(string? configPath, IReadOnlyList<string> vary, ulong? firstSeed, long? seeds, double? seconds,
        Runs.ScheduleOptions options, long? ops, bool stress)
    {
        var axes = new List<SweepAxis>();
        foreach (var v in vary)
        {
            SweepAxis axis;
            try
            {
                axis = SweepAxis.Parse(v);
            }
            catch (FormatException e)
            {
                throw new UsageException(e.Message);
            }
            if (axis.Key.StartsWith("akka.", StringComparison.Ordinal))
                throw new UsageException($"--vary {axis.Key}: Akka's own settings cannot be swept; vary hviommu.* keys");
            if (axis.Key is "hviommu.seed" or "hviommu.mode")
                throw new UsageException($"--vary {axis.Key}: the sweep sets this itself; use {(axis.Key == "hviommu.seed" ? "--seed and --seeds" : "--mode")}");
            if (axes.Any(a => a.Key == axis.Key))
                throw new UsageException($"--vary {axis.Key} is given twice; give each key once with all its values");
            axes.Add(axis);
        }

        var baseConfig = SimConfig.Load(configPath);
        var text = configPath is null ? SimConfig.DefaultText : File.ReadAllText(configPath);
        var file = baseConfig.File;
        var combos = Combinations(axes);
        var job = new ExplorationJob(text, file, combos.Select(c => c.Select((v, i) => axes[i].Override(v)).ToArray()).ToArray(),
            firstSeed ?? baseConfig.Settings.Seed, seeds, seconds, options.Strategy, options.PctDepth, options.MaxSteps, ops, stress);

        // Each value alone first, so the message names the one key and value at fault.
        foreach (var axis in axes)
        {
            foreach (var value in axis.Values)
            {
                try
                {
                    SimConfig.Parse(text, file, [.. job.BaseOverrides(), axis.Override(value)]);
                }
                catch (ConfigException e)
                {
                    throw new UsageException($"--vary {axis.Key}={value}: {Explain(e, axis.Key)}");
                }
            }
        }
        var configs = new List<LoadedConfig>();
        for (var c = 0; c < job.Cells(); c++)
        {
            try
            {
                configs.Add(job.Load(c));
            }
            catch (ConfigException e)
            {
                throw new UsageException($"the combination {string.Join(", ", job.CellOverrides[c])} is not a valid config: {string.Join("; ", e.Problems.Select(p => p.ToString()))}");
            }
        }
        return new SweepPlan(job, axes, combos, configs, configPath);
    }

    private static string Explain(ConfigException e, string key)
    {
        var mine = e.Problems.Where(p => p.Key == key || key.StartsWith(p.Key + ".", StringComparison.Ordinal) || p.Key.StartsWith(key, StringComparison.Ordinal)).ToList();
        return string.Join("; ", (mine.Count > 0 ? mine : e.Problems).Select(p => p.Message.Length > 0 ? (p.Key == key ? p.Message : $"{p.Key}: {p.Message}") : p.ToString()));
    }

    private static List<IReadOnlyList<string>> Combinations(IReadOnlyList<SweepAxis> axes)
    {
        var result = new List<IReadOnlyList<string>> { Array.Empty<string>() };
        foreach (var axis in axes)
            result = result.SelectMany(prefix => axis.Values.Select(v => (IReadOnlyList<string>)[.. prefix, v])).ToList();
        return result;
    }
}
