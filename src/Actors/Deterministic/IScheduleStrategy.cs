namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Decides each step of a deterministic run. <c>candidates</c> are the ordinals of the ready actors in
/// ascending order (ordinal = order of first sight in this schedule); ordinal 0, when present, is "fire the
/// next virtual timer". The strategy returns an index into <c>candidates</c>, or -1 when it cannot follow
/// (a replayed schedule whose recorded choice is not ready). A strategy instance serves one schedule.
/// </summary>
public interface IScheduleStrategy
{
    /// <summary>Name and parameters, e.g. <c>pct depth=3 steps=1000</c>; saved with recorded schedules.</summary>
    string Description { get; }

    int Choose(ReadOnlySpan<int> candidates, long step);
}
