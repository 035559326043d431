using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// The mailbox type of the deterministic dispatcher. Its queue knows its owner, which gives the driver two
/// things without reflection: the actor a pending mailbox belongs to (for strategies and traces), and every
/// user message at the moment it is dequeued for delivery (for <see cref="TraceHash"/>).
/// It offers deque semantics too, so actors that stash can live on the deterministic dispatcher.
/// </summary>
public sealed class DeterministicMailboxType : MailboxType, IProducesMessageQueue<DeterministicMessageQueue>
{
    public DeterministicMailboxType(Akka.Actor.Settings settings, Config config) : base(settings, config)
    {
    }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system)
    {
        var driver = (system.Scheduler as VirtualTimeScheduler)?.Driver;
        return new DeterministicMessageQueue(owner, driver);
    }
}

/// <summary>
/// An unbounded queue (multi-producer, consumed by the driving thread) that reports each dequeued user
/// message to the driver's delivery trace. Messages drained to dead letters at stop are not reported.
/// While the driver drives, it yields at most one user message per mailbox run (see <see cref="TryDequeue"/>).
/// </summary>
public sealed class DeterministicMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics,
    IUnboundedDequeBasedMessageQueueSemantics
{
    // A plain queue under a lock rather than a ConcurrentQueue: producers are almost always the driving thread
    // itself (an uncontended lock), and an explorer creates every actor's queue again per schedule, where a
    // ConcurrentQueue's first segment (32 slots) is most of what a mailbox allocates.
    private readonly Queue<(Envelope Envelope, long SendSeq)> _queue = new();
    private readonly Stack<Envelope> _prepended = new();
    private readonly SimulationDriver? _driver;
    private long _takenInRun = -1;

    public DeterministicMessageQueue(IActorRef? owner, SimulationDriver? driver)
    {
        Owner = owner;
        _driver = driver;
    }

    /// <summary>The actor whose mailbox this is (null only for queues Akka creates without an owner).</summary>
    public IActorRef? Owner { get; }

    /// <summary>The driver's cached identity of the owner; written and read by the driver only.</summary>
    internal ActorIdentity? Identity { get; set; }

    public bool HasMessages
    {
        get
        {
            if (_prepended.Count > 0)
                return true;
            lock (_queue)
                return _queue.Count > 0;
        }
    }

    public int Count
    {
        get
        {
            lock (_queue)
                return _prepended.Count + _queue.Count;
        }
    }

    // The send's trace number travels with the envelope, so the delivery can name its cause.
    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        var sendSeq = _driver?.OnEnqueued(this, envelope.Message) ?? 0;
        lock (_queue)
            _queue.Enqueue((envelope, sendSeq));
    }

    // Called only by the owning actor while it runs (UnstashAll), as with Akka's own deque queues.
    public void EnqueueFirst(Envelope envelope) => _prepended.Push(envelope);

    /// <summary>
    /// The next user message, unless this mailbox already delivered one in the driver's current mailbox run: a
    /// step of a deterministic schedule delivers at most one user message, whatever Akka's dispatcher throughput
    /// (which lets one run deliver two) — so the dispatcher needs no throughput deadline, whose clock read per
    /// message was a measurable part of a step. The mailbox, still holding messages, is scheduled again after the run.
    /// </summary>
    public bool TryDequeue(out Envelope envelope)
    {
        var driver = _driver;
        var counted = driver is not null && driver.OnDrivingThread;
        if (counted && _takenInRun == driver!.RunSerial)
        {
            envelope = default;
            return false;
        }
        if (!TryTake(out envelope, out var sendSeq))
            return false;
        if (counted)
            _takenInRun = driver!.RunSerial;
        driver?.OnDequeued(this, envelope.Message, sendSeq);
        return true;
    }

    /// <summary>Drops every user message, queued or unstashed (a kept topology's schedule is over). Driving thread only,
    /// with the owner not running.</summary>
    internal void Discard()
    {
        _prepended.Clear();
        lock (_queue)
            _queue.Clear();
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryTake(out var envelope, out _))
            deadletters.Enqueue(owner, envelope);
    }

    // A prepended (unstashed) envelope was delivered once already; its send is no longer known.
    private bool TryTake(out Envelope envelope, out long sendSeq)
    {
        sendSeq = 0;
        if (_prepended.Count > 0)
        {
            envelope = _prepended.Pop();
            return true;
        }
        (Envelope, long) entry;
        lock (_queue)
        {
            if (!_queue.TryDequeue(out entry))
            {
                envelope = default;
                return false;
            }
        }
        (envelope, sendSeq) = entry;
        return true;
    }
}
