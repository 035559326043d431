using Akka.Actor;

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

    private sealed class Producer<TActor>(Func<TActor> factory) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => factory();

        public void Release(ActorBase actor)
        {
        }
    }
}
