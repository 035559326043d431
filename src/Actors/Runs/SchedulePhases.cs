using System.Diagnostics;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Runs;

/// <summary>The phases of one deterministic schedule, in order.</summary>
public enum SchedulePhase
{
    /// <summary>The strategy, the driver's reset, the world (or its reset when the topology is reused).</summary>
    Prepare,
    /// <summary>Creating the run's root (or restarting the kept topology's workload).</summary>
    Start,
    /// <summary>The schedule's steps.</summary>
    Drive,
    /// <summary>Stopping the run (or winding the kept topology down to idle).</summary>
    Stop,
    /// <summary>Building the report (for an explorer that asked for a lazy report, only the schedule's outcome).</summary>
    Report,
}

/// <summary>
/// Where deterministic schedules' wall time goes (<c>bench</c>'s schedule profile), summed over schedules in
/// <see cref="Stopwatch"/> ticks per <see cref="SchedulePhase"/>, with the drive's steps split by kind in
/// <see cref="Steps"/>. Pass one to <see cref="DeterministicRunner.RunSchedule"/>; it only observes.
/// </summary>
public sealed class SchedulePhases
{
    private readonly long[] _ticks = new long[Enum.GetValues<SchedulePhase>().Length];

    public long Schedules { get; internal set; }

    /// <summary>The drive's steps by kind (user message, system messages only, timer).</summary>
    public StepProfile Steps { get; } = new();

    public long Ticks(SchedulePhase phase) => _ticks[(int)phase];

    public long TotalTicks => _ticks.Sum();

    internal void Add(SchedulePhase phase, long ticks) => _ticks[(int)phase] += ticks;

    /// <summary>Mean microseconds per schedule of <paramref name="ticks"/>.</summary>
    public double PerSchedule(long ticks) => Schedules == 0 ? 0 : StepProfile.Microseconds(ticks) / Schedules;
}
