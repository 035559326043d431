namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Follows a recorded schedule choice by choice. When the recorded ordinal is not among the ready candidates
/// (the code or config changed, or the file was edited) it returns -1 and the driver stops, reporting the
/// step (0-based) at which the run left its recording in <see cref="DriveResult.DivergedAtStep"/>.
/// </summary>
public sealed class ReplayStrategy : IScheduleStrategy
{
    private readonly IReadOnlyList<int> _choices;

    public ReplayStrategy(ScheduleFile schedule) : this(schedule.Choices)
    {
        Source = schedule.Strategy;
    }

    public ReplayStrategy(IReadOnlyList<int> choices)
    {
        _choices = choices;
        Source = "choices";
    }

    /// <summary>The strategy that produced the recording.</summary>
    public string Source { get; }

    public string Description => "replay of " + Source;

    public int Choose(ReadOnlySpan<int> candidates, long step)
    {
        if (step >= _choices.Count)
            return -1;
        var index = candidates.BinarySearch(_choices[(int)step]);
        return index >= 0 ? index : -1;
    }
}
