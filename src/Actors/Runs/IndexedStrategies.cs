using HvIommu.Actors.Configuration;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Runs;

/// <summary>
/// The strategy of each seed of a sweep cell or a cluster exploration, as a function of the seed and its schedule
/// index (seed − first seed) alone — not of which explorer thread or worker ran the seeds before it — so the
/// coordinator's re-run of a found seed, in another process, makes the same schedule. The portfolio's members
/// and parameters are interleaved by index as <c>explore</c> on one machine interleaves them. Where <c>explore</c>
/// learns PCT's and delay bounding's length from the schedules an explorer has run, these draw their change points
/// over the decision steps of the cell's schedule 0 (its first seed, under the plan's first strategy, which needs
/// no length): every process computes it by running that schedule once, and it is the same everywhere.
/// Not thread-safe: one per explorer thread (or re-run).
/// </summary>
/// <param name="options">The exploration's options (<c>--strategy</c>); a replay or custom strategy is used as it is.</param>
/// <param name="firstSeed">The seed of schedule 0.</param>
public sealed class IndexedStrategies(ScheduleOptions options, ulong firstSeed)
{
    private long? _length;

    /// <summary>The decision steps of schedule 0 once measured (null before, or when no strategy needs it).</summary>
    public long? Length => _length;

    /// <summary>The concrete options of the schedule with <paramref name="seed"/> (≥ the first seed), whose text
    /// names its strategy for reproduction. May run schedule 0 on <paramref name="system"/> first (once).</summary>
    public ScheduleOptions For(DeterministicSystem system, LoadedConfig config, ulong seed)
    {
        if (options.Replay is not null || options.Custom is not null)
            return options;
        if (seed < firstSeed)
            throw new ArgumentOutOfRangeException(nameof(seed), seed, $"seeds start at {firstSeed}");
        var index = (long)(seed - firstSeed);
        var plan = options.Plan();
        var first = plan.Next(firstSeed, 0);
        if (index == 0 || !plan.NeedsLength)
            return options.For(plan.Next(seed, index));
        _length ??= DeterministicRunner.RunSchedule(system, config, firstSeed, options.For(first), "", DeterministicRunner.ExpectedSteps(config), recordLatencies: false, trace: false, lazyReport: true).Decisions;
        return options.For(plan.Next(seed, index, _length.Value));
    }
}
