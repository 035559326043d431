using Akka.Actor;
using Akka.Dispatch.SysMsg;

namespace HvIommu.Actors.Simulation;

/// <summary>
/// Props of a simulation actor built by a plain delegate. <c>Props.Create(() =&gt; new X(a, b))</c> takes the
/// constructor's arguments apart from an expression tree (microseconds per Props) and builds the actor by
/// reflection; a deterministic explorer creates every actor once per schedule, so the delegate is what it pays
/// instead. Nothing else differs: the actor is still created by its cell, on the dispatcher given.
/// </summary>
public static class SimProps
{
    /// <summary>Props that build <typeparamref name="TActor"/> with <paramref name="factory"/>, on <paramref name="dispatcher"/>.</summary>
    public static Props Of<TActor>(Func<TActor> factory, string dispatcher) where TActor : ActorBase =>
        Props.CreateBy(new Producer<TActor>(factory)).WithDispatcher(dispatcher);

    /// <summary>
    /// The child <paramref name="name"/> of <paramref name="context"/>'s actor: created from <paramref name="props"/>, or,
    /// when a kept topology still has it, started again (<see cref="StartAgain"/>). Either way its mailbox is
    /// registered with the dispatcher here, with one system message (Create) to run: the same step for a
    /// deterministic schedule.
    /// </summary>
    public static IActorRef StartOrCreate(IUntypedActorContext context, string name, Func<Props> props)
    {
        var existing = context.Child(name);
        if (existing.IsNobody())
            return context.ActorOf(props(), name);
        StartAgain(existing);
        return existing;
    }

    /// <summary>
    /// Starts a live actor again as if it had just been created: its cell receives Akka's Create system message
    /// again, which builds a new instance from the cell's Props (constructor, then PreStart) in place of the old one.
    /// Unlike a restart (Recreate) nothing of the old instance runs (no PreRestart, no unstash into the mailbox, no
    /// PostStop) and the children are not touched. Only for a kept topology whose mailboxes are empty.
    /// </summary>
    public static void StartAgain(IActorRef actor) => ((IInternalActorRef)actor).SendSystemMessage(new Create());

    private sealed class Producer<TActor>(Func<TActor> factory) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => factory();

        public void Release(ActorBase actor)
        {
        }
    }
}
