using Akka.Actor;
using HvIommu.Actors.FlushHandler;
using HvIommu.Actors.Protocol;

namespace HvIommu.Actors.PciDevice;

/// <summary>
/// Surprise removal (lifecycle.surprise-remove; H5, Linux 4fc82cd907ac): the device leaves the bus without an orderly
/// removal. Its outstanding descriptors complete with errors (the driver's remove path aborts them), it issues no DMA
/// from then on, and it answers no ATS invalidation and no drain — what the host's flush does about that is
/// hypervisor.flush.on-disconnected-device.
/// </summary>
internal sealed partial class PciDeviceActor
{
    private bool _removed;
    private int _descriptorsSeen;

    /// <summary>Counts <paramref name="m"/>; when this device is the one to remove and its time has come, removes it.
    /// True when the device is gone: the descriptor then completes at once, every transaction failed.</summary>
    private bool Gone(ProgramDma m)
    {
        var life = _world.Settings.Lifecycle;
        if (!_removed && life.SurpriseRemove == _spec.Name && ++_descriptorsSeen >= life.SurpriseRemoveAfter)
            Remove();
        if (!_removed)
            return false;
        m.ReplyTo.Tell(new DmaCompleted(m.Descriptor.Id, m.Descriptor.Transactions));
        return true;
    }

    private void Remove()
    {
        _removed = true;
        _slot.Disconnect();
        _world.Trace?.Event(Tracing.TraceEventKind.CacheInvalidate, Actor, "surprise removal",
            $"{_spec.Name} left the bus: {_pending.Count + _inFlight.Count} transactions aborted, no further answers");
        var aborted = _inFlight.Values.ToList();
        _inFlight.Clear();
        _heldReplays.Clear();
        _delayedReplays.Clear();
        foreach (var tx in aborted)
        {
            _slot.TransferFinished();
            Finish(tx, faulted: true);
        }
        while (_pending.TryDequeue(out var tx))
            Finish(tx, faulted: true);
        _recent.Clear();
        foreach (var w in _waiters.ToList())
            Unanswered(w.FlushId, w.ReplyTo, w.Drain);
        _waiters.Clear();
        CheckQuiesced();
    }

    /// <summary>A request the removed device will never answer: the host learns the target is absent.</summary>
    private void Unanswered(long flushId, IActorRef replyTo, bool drain) =>
        replyTo.Tell(new RequestUnanswered(flushId, _spec.Name, drain));
}
