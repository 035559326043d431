using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;
using HvIommu.Model.Time;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// Akka's scheduler in virtual time (<c>akka.scheduler.implementation =
/// "HvIommu.Actors.Deterministic.VirtualTimeScheduler, HvIommu.Actors"</c>). Timers scheduled on the driving
/// thread go into a queue ordered by virtual due time (ties by scheduling order) and fire only when the
/// <see cref="SimulationDriver"/> chooses "fire the next timer", which moves virtual time to the due time.
/// Timers scheduled from any other thread (Akka's own housekeeping, a test thread's Ask timeout) are not part
/// of the simulation and go to a real wall-clock scheduler. The clock is the simulation's
/// <see cref="ISimClock"/>; it starts at 0 for every schedule.
/// </summary>
public sealed class VirtualTimeScheduler : SchedulerBase, ISimClock, IDisposable
{
    private readonly PriorityQueue<VirtualTimer, (long DueNs, long Sequence)> _timers = new();
    private readonly Lazy<HashedWheelTimerScheduler> _wallClock;
    private long _nowNs;
    private long _sequence;
    private int _disposed;

    public VirtualTimeScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
        Driver = new SimulationDriver(this);
        _wallClock = new Lazy<HashedWheelTimerScheduler>(() => new HashedWheelTimerScheduler(scheduler, log));
    }

    /// <summary>The driver that runs this system's deterministic dispatcher.</summary>
    public SimulationDriver Driver { get; }

    /// <summary>Virtual nanoseconds since the schedule started.</summary>
    public long NowNs => Volatile.Read(ref _nowNs);

    /// <summary>Number of virtual timers queued, including cancelled ones not yet discarded.</summary>
    public int QueuedTimers => _timers.Count;

    /// <summary>True when a live (not cancelled) virtual timer is queued.</summary>
    public bool HasTimers
    {
        get
        {
            while (_timers.TryPeek(out var head, out _))
            {
                if (!head.IsCancelled)
                    return true;
                _timers.Dequeue();
            }
            return false;
        }
    }

    /// <summary>Due time of the next live timer, or null.</summary>
    public long? NextDueNs => HasTimers && _timers.TryPeek(out _, out var key) ? key.DueNs : null;

    public override TimeSpan MonotonicClock => TimeSpan.FromTicks(NowNs / 100);

    public override TimeSpan HighResMonotonicClock => MonotonicClock;

    protected override DateTimeOffset TimeNow => DateTimeOffset.UnixEpoch + MonotonicClock;

    /// <summary>Moves virtual time forward (the per-step quantum).</summary>
    internal void Advance(long ns) => _nowNs += ns;

    /// <summary>Drops every timer (a kept topology's schedule is over: nothing of it may fire into the next).</summary>
    internal void ClearTimers() => _timers.Clear();

    internal void Reset()
    {
        _timers.Clear();
        _nowNs = 0;
        _sequence = 0;
    }

    /// <summary>Fires the next live timer: time moves to its due time, then it runs; a repeating one re-arms.</summary>
    internal void FireNext()
    {
        if (!HasTimers)
            return;
        var timer = _timers.Dequeue();
        if (timer.DueNs > _nowNs)
            _nowNs = timer.DueNs;
        if (timer.IntervalNs > 0)
        {
            timer.DueNs += timer.IntervalNs;
            _timers.Enqueue(timer, (timer.DueNs, _sequence++));
        }
        try
        {
            timer.Fire();
        }
        catch (Exception e)
        {
            Log.Error(e, "Virtual timer action failed");
        }
    }

    // The ActorSystem disposes its scheduler on termination and DeterministicSystem does too: idempotent.
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && _wallClock.IsValueCreated)
            _wallClock.Value.Dispose();
    }

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message,
        IActorRef sender, ICancelable cancelable)
    {
        if (Driver.OnDrivingThread)
            Add(delay, TimeSpan.Zero, VirtualTimer.Tell(receiver, message, sender, cancelable));
        else
            WallClock.ScheduleTellOnce(delay, receiver, message, sender, cancelable);
    }

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval,
        ICanTell receiver, object message, IActorRef sender, ICancelable cancelable)
    {
        if (Driver.OnDrivingThread)
            Add(initialDelay, interval, VirtualTimer.Tell(receiver, message, sender, cancelable));
        else
            WallClock.ScheduleTellRepeatedly(initialDelay, interval, receiver, message, sender, cancelable);
    }

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable)
    {
        if (Driver.OnDrivingThread)
            Add(delay, TimeSpan.Zero, VirtualTimer.Run(action, cancelable));
        else
            WallClock.Advanced.ScheduleOnce(delay, action, cancelable);
    }

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable)
    {
        if (Driver.OnDrivingThread)
            Add(delay, TimeSpan.Zero, VirtualTimer.Run(action.Run, cancelable));
        else
            WallClock.Advanced.ScheduleOnce(delay, action, cancelable);
    }

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action,
        ICancelable cancelable)
    {
        if (Driver.OnDrivingThread)
            Add(initialDelay, interval, VirtualTimer.Run(action, cancelable));
        else
            WallClock.Advanced.ScheduleRepeatedly(initialDelay, interval, action, cancelable);
    }

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action,
        ICancelable cancelable)
    {
        if (Driver.OnDrivingThread)
            Add(initialDelay, interval, VirtualTimer.Run(action.Run, cancelable));
        else
            WallClock.Advanced.ScheduleRepeatedly(initialDelay, interval, action, cancelable);
    }

    private IScheduler WallClock => _wallClock.Value;

    private void Add(TimeSpan delay, TimeSpan interval, VirtualTimer timer)
    {
        timer.DueNs = _nowNs + Math.Max(0, delay.Ticks) * 100;
        timer.IntervalNs = interval.Ticks * 100;
        _timers.Enqueue(timer, (timer.DueNs, _sequence++));
    }

    private sealed class VirtualTimer
    {
        private readonly ICanTell? _receiver;
        private readonly object? _message;
        private readonly IActorRef? _sender;
        private readonly Action? _action;
        private readonly ICancelable? _cancelable;

        private VirtualTimer(ICanTell? receiver, object? message, IActorRef? sender, Action? action,
            ICancelable? cancelable)
        {
            _receiver = receiver;
            _message = message;
            _sender = sender;
            _action = action;
            _cancelable = cancelable;
        }

        public long DueNs { get; set; }

        public long IntervalNs { get; set; }

        public bool IsCancelled => _cancelable is { IsCancellationRequested: true };

        public static VirtualTimer Tell(ICanTell receiver, object message, IActorRef sender, ICancelable? cancelable) =>
            new(receiver, message, sender, null, cancelable);

        public static VirtualTimer Run(Action action, ICancelable? cancelable) =>
            new(null, null, null, action, cancelable);

        public void Fire()
        {
            if (_action is not null)
                _action();
            else
                _receiver!.Tell(_message, _sender);
        }
    }
}
