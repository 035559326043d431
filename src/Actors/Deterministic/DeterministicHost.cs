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
        Receive<CreateRun>(command => command.Created.Value = Context.ActorOf(command.Props, command.Name));
    }

    protected override void PreStart() => _started.Value = true;

    /// <summary>Create the run's root; the driving thread reads the reference from <see cref="Created"/>.</summary>
    internal sealed record CreateRun(Props Props, string Name, StrongBox<IActorRef?> Created);
}
