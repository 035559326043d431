using System.Collections.Immutable;
using Akka.Actor;
using HvIommu.Actors.Protocol;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.PciDevice;

/// <summary>The device around the driver's lifecycle: a raw-GPA ring from before init (H11), and replays on
/// request at teardown (H10).</summary>
internal sealed partial class PciDeviceActor
{
    private const int RecentKept = 4;
    private readonly Queue<DmaDescriptor> _recent = new();
    private DmaDescriptor? _ring;

    private void SetRing(SetRawGpaRing m)
    {
        Tick();
        _ring = m.Ring;
    }

    /// <summary>With a ring set, each descriptor also writes one entry of the ring at its raw GPA.</summary>
    private void EnqueueRingAccess(DescriptorState state)
    {
        if (_ring is not { } ring)
            return;
        state.Remaining++;
        var offset = (ulong)_random.Next(64) << 6;
        _pending.Enqueue(new Transaction(state, ring.Iova + offset, AccessKind.Write, replay: false, ring.Mappings[0]));
    }

    private void Remember(DmaDescriptor d)
    {
        if (d.Id < 0)
            return;
        _recent.Enqueue(d);
        while (_recent.Count > RecentKept)
            _recent.Dequeue();
    }

    private void ReplayRecentDescriptors(ReplayRecent m)
    {
        Tick();
        // The recent descriptors stay: a device prodded again (after teardown freed tables the host still walks for
        // it) replays them again, as a real device keeps its stale descriptors until it is reset.
        var recent = _spec.Behaviour == DeviceBehaviour.StaleReplay && !_removed ? _recent.ToArray() : [];
        if (recent.Length == 0)
        {
            m.ReplyTo.Tell(new DmaCompleted(-1, 0));
            return;
        }
        var prod = new DmaDescriptor(-1, 0, 1, recent.Length, 64, 1.0, ImmutableArray<Model.Mappings.MappingRecord>.Empty);
        var state = new DescriptorState(prod, m.ReplyTo);
        foreach (var d in recent)
            _pending.Enqueue(new Transaction(state, d.Iova, AccessKind.Write, replay: true, d.Mappings[0]));
        Pump();
    }
}
