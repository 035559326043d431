using System.Runtime.CompilerServices;
using Akka.Actor;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// The long-lived root on the deterministic dispatcher under which each schedule's run is created. A
/// top-level actor is supervised by the /user guardian on the default dispatcher, and <c>system.ActorOf</c>
/// and <c>system.Stop</c> go through that guardian asynchronously, so a run's root must be this actor's child.
/// </summary>
internal sealed class DeterministicHost : ReceiveActor
{
    private readonly StrongBox<bool> _started;

    public DeterministicHost(StrongBox<bool> started)
    {
        _started = started;
        Receive<CreateRun>(command =>
        {
            if (command.Kept is { } kept)
                ((IInternalActorRef)kept).SendSystemMessage(new Akka.Dispatch.SysMsg.Create());
            command.Created.Value = command.Kept ?? Context.ActorOf(command.Props, command.Name);
        });
    }

    protected override void PreStart() => _started.Value = true;

    /// <summary>Create the run's root, or start the <paramref name="Kept"/> one again (Akka's Create system message to
    /// its live cell: a new instance from its Props, as at its creation); the driving thread reads the reference from
    /// <see cref="Created"/>. Either way the root's mailbox is registered in this step, with one system message to run.</summary>
    internal sealed record CreateRun(Props Props, string Name, StrongBox<IActorRef?> Created, IActorRef? Kept = null);
}
