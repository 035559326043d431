using Akka.Actor;
using Akka.Dispatch;

namespace HvIommu.Actors.Vcpu;

/// <summary>
/// Guest work that reached a blocked vCPU (during a VM exit or a device prod): held in arrival order, then put back
/// at the front of the vCPU's mailbox when the vCPU resumes — what Akka's stash does (<c>Stash</c>, <c>UnstashAll</c>:
/// the same envelopes, put back last first through the mailbox's deque), without its per-message list node and the
/// enumerators its <c>UnstashAll</c> allocates. About one operation in two of a stress run holds a completion or its
/// next start this way. Not thread-safe: the vCPU actor owns it.
/// </summary>
internal sealed class VcpuHeldWork(IActorContext context)
{
    private readonly List<Envelope> _held = [];

    /// <summary>Guest work is held.</summary>
    public bool NonEmpty => _held.Count > 0;

    /// <summary>Holds the message the vCPU is handling now, with its sender.</summary>
    public void HoldCurrent()
    {
        var cell = (ActorCell)context;
        _held.Add(new Envelope(cell.CurrentMessage, cell.Sender));
    }

    /// <summary>Puts every held message back at the front of the mailbox, in the order they arrived.</summary>
    /// <exception cref="NotSupportedException">The vCPU's mailbox is not deque-based.</exception>
    public void ReturnAllToMailbox()
    {
        if (_held.Count == 0)
            return;
        if (((ActorCell)context).Mailbox?.MessageQueue is not IDequeBasedMessageQueueSemantics queue)
            throw new NotSupportedException("the vCPU's mailbox must be deque-based (IUnboundedDequeBasedMessageQueueSemantics)");
        for (var i = _held.Count - 1; i >= 0; i--)
            queue.EnqueueFirst(_held[i]);
        _held.Clear();
    }
}
