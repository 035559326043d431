namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Follows a recorded schedule choice by choice, environment choices included. When the recorded ordinal is
/// not among the ready candidates, or the recorded environment choice is missing or had another number of
/// options (the code or config changed, or the file was edited), it returns -1 and the driver stops, reporting
/// the step (0-based) at which the run left its recording in <see cref="DriveResult.DivergedAtStep"/>.
/// </summary>
public sealed class ReplayStrategy : IScheduleStrategy
{
    private readonly IReadOnlyList<int> _choices;
    private readonly IReadOnlyList<ScheduleValue> _values;

    public ReplayStrategy(ScheduleFile schedule) : this(schedule.Choices, schedule.EnvironmentChoices)
    {
        Source = schedule.Strategy;
        ChoosesEnvironment = schedule.Version >= 2;
        Version = schedule.Version;
    }

    public ReplayStrategy(IReadOnlyList<int> choices, IReadOnlyList<ScheduleValue>? values = null)
    {
        _choices = choices;
        _values = values ?? [];
        Source = "choices";
    }

    /// <summary>False when following a version 1 schedule: its environment choices come from the seed, as they did
    /// when it was recorded.</summary>
    public bool ChoosesEnvironment { get; } = true;

    /// <summary>The version of the recording: the device's replays are timed as they were then.</summary>
    public int Version { get; } = ScheduleFile.CurrentVersion;

    /// <summary>The strategy that produced the recording.</summary>
    public string Source { get; }

    public string Description => "replay of " + Source;

    /// <summary>Why the run left its recording, at the first choice that did not fit (null while it follows it): the
    /// text a DIVERGED verdict gives.</summary>
    public string? LeftBecause { get; private set; }

    public int Choose(ReadOnlySpan<int> candidates, long step)
    {
        if (step >= _choices.Count)
            return Left($"the recorded schedule choices (line choices) ended after {_choices.Count:N0}");
        var index = candidates.BinarySearch(_choices[(int)step]);
        return index >= 0 ? index : Left($"the actor the recording chose there ({_choices[(int)step]}, line choices) was not among the actors ready to run");
    }

    public int ChooseValue(int options, long index)
    {
        if (index >= _values.Count)
            return Left($"the run needed environment choice {index + 1:N0}, but only {_values.Count:N0} were recorded (line values)");
        var recorded = _values[(int)index];
        return recorded.Options == options
            ? recorded.Value
            : Left($"environment choice {index + 1:N0} was recorded out of {recorded.Options:N0} options (line values), and the run offered {options:N0}");
    }

    private int Left(string why)
    {
        LeftBecause ??= why;
        return -1;
    }
}
