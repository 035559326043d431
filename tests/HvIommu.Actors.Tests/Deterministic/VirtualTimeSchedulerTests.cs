using Akka.Actor;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

[Trait("Category", "Actors")]
public sealed class VirtualTimeSchedulerTests : IDisposable
{
    private readonly DeterministicSystem _system = Deterministic.CreateSystem();
    private readonly List<(string Message, long AtNs)> _deliveries = new();

    public VirtualTimeSchedulerTests() =>
        _system.Driver.DeliveryObserver = (_, message) => _deliveries.Add((message.ToString()!, _system.Clock.NowNs));

    public void Dispose() => _system.Dispose();

    [Fact]
    public void Timers_fire_only_when_chosen_in_due_order_and_cancelled_ones_never()
    {
        _system.Reset(1, new ActorsFirstStrategy());
        var sink = _system.StartRun(Props.Create(() => new Sink()));
        Assert.True(_system.DriveUntil(null, 100).Quiescent);
        _deliveries.Clear();
        var scheduler = _system.System.Scheduler;
        var t0 = _system.Clock.NowNs; // two mailbox runs (host, sink start) at 100 ns each
        Assert.Equal(200, t0);
        scheduler.ScheduleTellOnce(TimeSpan.FromMicroseconds(30), sink, "c", ActorRefs.NoSender);
        var cancelled = scheduler.ScheduleTellOnceCancelable(TimeSpan.FromMicroseconds(20), sink, "x", ActorRefs.NoSender);
        scheduler.ScheduleTellOnce(TimeSpan.FromMicroseconds(10), sink, "a", ActorRefs.NoSender);
        scheduler.ScheduleTellOnce(TimeSpan.FromMicroseconds(20), sink, "b", ActorRefs.NoSender);
        sink.Tell("now");
        Assert.Equal(4, _system.Scheduler.QueuedTimers);
        cancelled.Cancel();

        var result = _system.DriveUntil(null, 100);

        Assert.True(result.Quiescent);
        // The ready actor runs first (the strategy prefers actors); each timer then moves time to its due time
        // (scheduling time + delay) and its message is delivered one quantum (100 ns) later.
        var expected = new[] { ("now", t0 + 100), ("a", t0 + 10_100), ("b", t0 + 20_100), ("c", t0 + 30_100) };
        Assert.Equal(expected, _deliveries);
        Assert.Equal(0, _system.Scheduler.QueuedTimers);
    }

    [Fact]
    public void Actor_timers_run_in_virtual_time_repeat_and_cancel()
    {
        _system.Reset(2, new UniformRandomStrategy(2));
        _system.StartRun(Props.Create(() => new Ticker(3)));
        var result = _system.DriveUntil(null, 1_000);
        Assert.True(result.Quiescent);
        Assert.Equal(3, _deliveries.Count(d => d.Message.Contains("Tick", StringComparison.Ordinal)));
        Assert.InRange(_system.Clock.NowNs, 3_000_000, 3_010_000);
    }

    [Fact]
    public void Reset_starts_virtual_time_again_at_zero_with_no_timers()
    {
        _system.Reset(3, new ActorsFirstStrategy());
        var sink = _system.StartRun(Props.Create(() => new Sink()));
        _system.System.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), sink, "late", ActorRefs.NoSender);
        _system.DriveUntil(null, 100);
        Assert.True(_system.Clock.NowNs >= 1_000_000_000);
        _system.System.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), sink, "never", ActorRefs.NoSender);
        _system.Reset(4, new ActorsFirstStrategy());
        Assert.Equal(0, _system.Clock.NowNs);
        Assert.False(_system.Scheduler.HasTimers);
    }

    /// <summary>Runs the highest-ordinal ready actor; fires a timer only when no actor is ready.</summary>
    private sealed class ActorsFirstStrategy : IScheduleStrategy
    {
        public string Description => "actors-first";

        public int Choose(ReadOnlySpan<int> candidates, long step) => candidates.Length - 1;
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    /// <summary>A periodic 1 ms timer that the actor cancels after <c>ticks</c> ticks.</summary>
    private sealed class Ticker : ReceiveActor, IWithTimers
    {
        public Ticker(int ticks)
        {
            var seen = 0;
            Receive<Tick>(_ =>
            {
                if (++seen == ticks)
                    Timers.Cancel("tick");
            });
        }

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart() =>
            Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromMilliseconds(1));
    }
}
