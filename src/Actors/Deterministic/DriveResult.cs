namespace HvIommu.Actors.Deterministic;

/// <summary>
/// What one call to drive the simulation did. <see cref="Steps"/> counts the steps of this call;
/// a deterministic run must see <see cref="GuardTrips"/> == 0 (no work arrived from another thread) and no
/// <see cref="DivergedAtStep"/> (a replayed schedule stayed on its recorded path).
/// </summary>
public readonly record struct DriveResult(
    long Steps,
    bool Done,
    bool Quiescent,
    bool TimedOut,
    long GuardTrips,
    string? GuardActor,
    long? DivergedAtStep)
{
    /// <summary>True when nothing made the run nondeterministic or leave its recorded schedule.</summary>
    public bool Deterministic => GuardTrips == 0 && DivergedAtStep is null;
}
