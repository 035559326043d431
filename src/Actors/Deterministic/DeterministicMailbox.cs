using System.Collections.Concurrent;
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
/// </summary>
public sealed class DeterministicMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics,
    IUnboundedDequeBasedMessageQueueSemantics
{
    private readonly ConcurrentQueue<(Envelope Envelope, long SendSeq)> _queue = new();
    private readonly Stack<Envelope> _prepended = new();
    private readonly SimulationDriver? _driver;

    public DeterministicMessageQueue(IActorRef? owner, SimulationDriver? driver)
    {
        Owner = owner;
        _driver = driver;
    }

    /// <summary>The actor whose mailbox this is (null only for queues Akka creates without an owner).</summary>
    public IActorRef? Owner { get; }

    /// <summary>The driver's cached identity of the owner; written and read by the driver only.</summary>
    internal ActorIdentity? Identity { get; set; }

    public bool HasMessages => _prepended.Count > 0 || !_queue.IsEmpty;

    public int Count => _prepended.Count + _queue.Count;

    // The send's trace number travels with the envelope, so the delivery can name its cause.
    public void Enqueue(IActorRef receiver, Envelope envelope) =>
        _queue.Enqueue((envelope, _driver?.OnEnqueued(this, envelope.Message) ?? 0));

    // Called only by the owning actor while it runs (UnstashAll), as with Akka's own deque queues.
    public void EnqueueFirst(Envelope envelope) => _prepended.Push(envelope);

    public bool TryDequeue(out Envelope envelope)
    {
        if (!TryTake(out envelope, out var sendSeq))
            return false;
        _driver?.OnDequeued(this, envelope.Message, sendSeq);
        return true;
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
        if (!_queue.TryDequeue(out var entry))
        {
            envelope = default;
            return false;
        }
        (envelope, sendSeq) = entry;
        return true;
    }
}
