using System.Diagnostics;
using HvIommu.Model.Time;

namespace HvIommu.Actors.Simulation;

/// <summary>
/// Stress mode's clock: nanoseconds since the run started, from the monotonic high-resolution timer.
/// Used only to timestamp events and measure latencies; no simulation decision reads it (decisions come
/// from the seed), so it does not affect what the run does, only what it reports.
/// </summary>
public sealed class MonotonicClock : ISimClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public long NowNs => (long)((Stopwatch.GetTimestamp() - _start) * (1e9 / Stopwatch.Frequency));
}
