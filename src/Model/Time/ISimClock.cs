namespace HvIommu.Model.Time;

/// <summary>
/// The simulation's notion of "now" in nanoseconds. Model code never reads a clock itself: it is given
/// the time (STYLE.md practice 8). Deterministic mode hands out virtual time; stress mode a monotonic
/// clock used only to timestamp and measure, never to decide.
/// </summary>
public interface ISimClock
{
    long NowNs { get; }
}
