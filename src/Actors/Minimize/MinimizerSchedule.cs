using System.Collections.Immutable;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Minimize;

/// <summary>
/// A schedule as the minimizer sees it: the steps at which it deviates from the default schedule, and the
/// ordinal it picks there. The default schedule runs the lowest-ordinal ready actor and fires a virtual
/// timer only when no actor is ready (the same rule the driver uses to wind a run down), so an empty
/// deviation set is the least surprising interleaving there is and every deviation is a scheduling decision
/// the counterexample may need.
/// </summary>
public static class MinimizerSchedule
{
    /// <summary>The index into <paramref name="candidates"/> the default schedule picks.</summary>
    public static int DefaultIndex(ReadOnlySpan<int> candidates) => candidates.Length > 1 && candidates[0] == 0 ? 1 : 0;
}

/// <summary>
/// Wraps a strategy and records every step at which its choice differs from the default one
/// (<see cref="MinimizerSchedule.DefaultIndex"/>): the run's deviation set, which
/// <see cref="DefaultFallbackStrategy"/> replays exactly.
/// </summary>
public sealed class DeviationRecorder(IScheduleStrategy inner) : IScheduleStrategy
{
    private readonly SortedDictionary<long, int> _deviations = new();
    private readonly SortedDictionary<long, int> _values = new();

    public string Description => inner.Description;

    public bool ChoosesEnvironment => inner.ChoosesEnvironment;

    public int Version => inner.Version;

    /// <summary>Step → ordinal chosen, for every step that left the default schedule.</summary>
    public ImmutableSortedDictionary<long, int> Deviations => _deviations.ToImmutableSortedDictionary();

    /// <summary>Environment choice number → outcome, for every environment choice other than the quietest (0).</summary>
    public ImmutableSortedDictionary<long, int> ValueDeviations => _values.ToImmutableSortedDictionary();

    public int Choose(ReadOnlySpan<int> candidates, long step)
    {
        var index = inner.Choose(candidates, step);
        if (index >= 0 && index < candidates.Length && index != MinimizerSchedule.DefaultIndex(candidates))
            _deviations[step] = candidates[index];
        return index;
    }

    public int ChooseValue(int options, long index) => Noted(inner.ChooseValue(options, index), options, index);

    public int ChooseCoin(double probability, long index) => Noted(inner.ChooseCoin(probability, index), 2, index);

    private int Noted(int value, int options, long index)
    {
        if (value > 0 && value < options)
            _values[index] = value;
        return value;
    }
}

/// <summary>
/// Follows a deviation set: at a step it names, runs the named ordinal when that actor is ready; everywhere
/// else, and when the named actor is not ready (the config or an earlier removed deviation moved the run),
/// takes the default choice. It never diverges, so any subset of a deviation set is a schedule. With no
/// <c>values</c> the environment draws its choices from the seed (a version 1 schedule's run carried over);
/// <paramref name="version"/> keeps the device's replays timed as in the run carried over.
/// </summary>
public sealed class DefaultFallbackStrategy(IReadOnlyDictionary<long, int> deviations, IReadOnlyDictionary<long, int>? values = null, int version = ScheduleFile.CurrentVersion) : IScheduleStrategy
{
    public string Description => $"default with {deviations.Count} deviation(s)";

    public bool ChoosesEnvironment => values is not null;

    public int Version => version;

    public int Choose(ReadOnlySpan<int> candidates, long step)
    {
        if (deviations.TryGetValue(step, out var ordinal))
        {
            var index = candidates.BinarySearch(ordinal);
            if (index >= 0)
                return index;
        }
        return MinimizerSchedule.DefaultIndex(candidates);
    }

    /// <summary>The recorded environment choice where there is one that fits, else the quietest outcome.</summary>
    public int ChooseValue(int options, long index) =>
        values is not null && values.TryGetValue(index, out var value) && value < options ? value : 0;
}
