using System.Diagnostics;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Where the driving thread's time goes, step by step (<c>bench</c>'s schedule profile): wall ticks
/// (<see cref="Stopwatch"/> ticks) and counts of mailbox runs that delivered a user message, mailbox runs that
/// processed only system messages (an actor's creation, a watch, a stop), and timer firings. Set on
/// <see cref="SimulationDriver.Profile"/>; it only observes, so choices and trace hashes are the same with it.
/// </summary>
public sealed class StepProfile
{
    public long MessageSteps { get; private set; }
    public long MessageTicks { get; private set; }
    public long SystemSteps { get; private set; }
    public long SystemTicks { get; private set; }
    public long TimerSteps { get; private set; }
    public long TimerTicks { get; private set; }

    internal void Message(long ticks)
    {
        MessageSteps++;
        MessageTicks += ticks;
    }

    internal void System(long ticks)
    {
        SystemSteps++;
        SystemTicks += ticks;
    }

    internal void Timer(long ticks)
    {
        TimerSteps++;
        TimerTicks += ticks;
    }

    /// <summary>Microseconds of <paramref name="ticks"/> Stopwatch ticks.</summary>
    public static double Microseconds(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
}
