namespace HvIommu.Actors.Simulation;

/// <summary>
/// A deterministic schedule is over and its actors are kept for the next one (started again then, not stopped):
/// each simulation actor publishes now what it publishes when it stops (message tallies, a device's costs), so the
/// report is the one a stopped run gives. Delivered while winding the schedule down, outside it (neither recorded
/// nor folded into the trace hash). An actor that published here publishes nothing more at its stop.
/// </summary>
public sealed class ScheduleEnded
{
    public static ScheduleEnded Instance { get; } = new();

    private ScheduleEnded()
    {
    }
}
