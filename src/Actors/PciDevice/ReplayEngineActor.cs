using Akka.Actor;
using HvIommu.Actors.Hypervisor;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Vcpu;
using HvIommu.Model.Device;

namespace HvIommu.Actors.PciDevice;

/// <summary>
/// A misbehaving device's replay engine in deterministic mode (schedule version 3): each replay the device decides
/// on (a completed descriptor re-issued, a replayed write held before its data phase) waits here as a message
/// until the schedule runs this actor, which sends it back to the device. The delay is therefore where the
/// strategy places this actor's step among the others' — a scheduling choice PCT and delay bounding explore as
/// they explore orderings — instead of a number of device steps drawn as data, which no strategy can aim.
/// </summary>
internal sealed class ReplayEngineActor : ReceiveActor
{
    public ReplayEngineActor()
    {
        Receive<ReplayLater>(m => Sender.Tell(m.Kind == ReplayKind.Transfer ? new TransferDue(m.Ticket) : new ReplayNow(m.Ticket, m.Kind)));
    }

    public static Props Props(string dispatcher) => Simulation.SimProps.Of(() => new ReplayEngineActor(), dispatcher);
}
