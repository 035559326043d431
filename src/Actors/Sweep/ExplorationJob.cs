using System.Globalization;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Simulation;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// Everything an explorer needs to run any schedule of a sweep or an exploration, on this machine or on a
/// cluster worker that has none of the coordinator's files: the base config's text, one list of override
/// lines per cell, the seeds and how schedules are chosen. Plain data (it travels to workers as JSON).
/// </summary>
/// <param name="ConfigText">The base config's HOCON text (the embedded default.conf's when no --config).</param>
/// <param name="ConfigFile">The name the base config is reported under (its path, or "default.conf (embedded)").</param>
/// <param name="CellOverrides">Per cell, the HOCON lines applied on the base (e.g. <c>hviommu.driver.dma-mode = lazy</c>);
/// an exploration is one cell with none.</param>
/// <param name="FirstSeed">Every cell runs seeds FirstSeed, FirstSeed + 1, …</param>
/// <param name="SeedsPerCell">Schedules per cell; null when <paramref name="SecondsPerCell"/> bounds each cell instead.</param>
/// <param name="SecondsPerCell">Wall-clock seconds each cell runs for (--duration), or null.</param>
/// <param name="Strategy">The strategy text (<c>portfolio</c>, <c>random</c>, <c>pct …</c>, <c>delay …</c>); each seed's
/// concrete strategy is a function of the seed and its index in the cell (<see cref="Strategies"/>).</param>
/// <param name="Ops">--ops: guest operations per schedule, or null for the config's run.ops.</param>
/// <param name="Stress">Stress mode: each seed is one stress run on all cores (the seed fixes the workload only).</param>
public sealed record ExplorationJob(
    string ConfigText,
    string ConfigFile,
    string[][] CellOverrides,
    ulong FirstSeed,
    long? SeedsPerCell,
    double? SecondsPerCell,
    string Strategy,
    int? PctDepth,
    long MaxSteps,
    long? Ops,
    bool Stress)
{
    public int Cells() => CellOverrides.Length;

    /// <summary>"1 schedule", "12 schedules", or in stress mode "3 stress runs": what a seed runs, counted (a stress run
    /// has no schedule; its actors race on real threads). Methods, not properties: the job crosses the network as JSON.</summary>
    public string CountOf(long n) => Model.Text.Counted.Of(n, Stress ? "stress run" : "schedule");

    /// <summary>The plural noun of <see cref="CountOf"/>, for column headers: "schedules" or "stress runs".</summary>
    public string Units() => Stress ? "stress runs" : "schedules";

    /// <summary>How schedules are chosen (a method, not a property: the job crosses the network as JSON).</summary>
    public ScheduleOptions ScheduleOptions() => new(Strategy, PctDepth, MaxSteps);

    /// <summary>The concrete strategy of each seed of a cell, the same in every explorer and in the coordinator's re-run.</summary>
    public IndexedStrategies Strategies() => new(ScheduleOptions(), FirstSeed);

    /// <summary>The lines applied on the base config for <paramref name="cell"/>: --ops, then the cell's own.</summary>
    public IReadOnlyList<string> OverridesOf(int cell) => [.. BaseOverrides(), .. CellOverrides[cell]];

    /// <summary>The lines every cell applies (--ops).</summary>
    public IReadOnlyList<string> BaseOverrides() => Ops is { } o ? [Configuration.SimConfig.FromOption("--ops", "hviommu.run.ops", o.ToString(CultureInfo.InvariantCulture))] : [];

    /// <summary>The loaded config of <paramref name="cell"/>.</summary>
    /// <exception cref="ConfigException">The combination is not a valid config.</exception>
    public LoadedConfig Load(int cell) => SimConfig.Parse(ConfigText, ConfigFile, OverridesOf(cell));

    /// <summary>Steps a PCT schedule of this config is expected to take (its change points are spread over them);
    /// every explorer and the coordinator's re-run use the same figure, so a seed is the same schedule everywhere.</summary>
    public static long ExpectedSteps(LoadedConfig config) => DeterministicRunner.ExpectedSteps(config);

    /// <summary>
    /// A stand-alone config file for <paramref name="cell"/>: the base text, then the cell's settings (and the
    /// mode), so <c>run --config</c> and <c>replay</c> load exactly the cell's configuration from any directory.
    /// </summary>
    public string CellConfigText(int cell, string description) =>
        ConfigText.TrimEnd() + "\n\n# sweep cell: " + description + "\n"
        + string.Join("\n", OverridesOf(cell)) + "\n"
        + (Stress ? "" : "hviommu.mode = deterministic\n");
}
