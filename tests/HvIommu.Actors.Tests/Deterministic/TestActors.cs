using Akka.Actor;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>A numbered token passed between relays until it has made its hops.</summary>
internal sealed record Token(int Id, int Hop);

/// <summary>
/// Root of a small multi-actor workload: <c>relays</c> children each start one token; every relay forwards a
/// token to a neighbour chosen by the hop number until it has made <c>hops</c> hops. Several tokens are in
/// flight at once, so the delivery order is the interleaving.
/// </summary>
internal sealed class RelayRoot : ReceiveActor
{
    public RelayRoot(int relays, int hops, Counter finished)
    {
        var children = new IActorRef[relays];
        for (var i = 0; i < relays; i++)
            children[i] = Context.ActorOf(
                Props.Create(() => new Relay(i, hops, finished)).WithDispatcher(DeterministicSystem.DispatcherId),
                $"relay-{i}");
        var peers = new Peers(children);
        for (var i = 0; i < relays; i++)
        {
            children[i].Tell(peers);
            children[i].Tell(new Token(i, 0));
        }
        ReceiveAny(_ => { });
    }
}

internal sealed record Peers(IActorRef[] All);

internal sealed class Relay : ReceiveActor
{
    public Relay(int index, int hops, Counter finished)
    {
        var peers = Array.Empty<IActorRef>();
        Receive<Peers>(p => peers = p.All);
        Receive<Token>(token =>
        {
            if (token.Hop == hops)
            {
                finished.Value++;
                return;
            }
            var next = (index + 1 + token.Hop % 2) % peers.Length;
            peers[next].Tell(new Token(token.Id, token.Hop + 1));
        });
    }
}

internal sealed class Counter
{
    public int Value;
}

/// <summary>Accepts anything; used to watch deliveries.</summary>
internal sealed class Sink : ReceiveActor
{
    public Sink() => ReceiveAny(_ => { });
}

/// <summary>
/// Deliberately wrong for deterministic mode: it pipes a task's result to a child, so the Tell happens on a
/// thread-pool thread. (Piping to itself would not show: its own mailbox is running, so Akka schedules it
/// again from the driving thread when the run ends.)
/// </summary>
internal sealed class PipingActor : ReceiveActor
{
    public PipingActor(Counter piped)
    {
        var target = Context.ActorOf(
            Props.Create(() => new PipeTarget(piped)).WithDispatcher(DeterministicSystem.DispatcherId), "target");
        Receive<string>(_ =>
        {
            // The task completes only after PipeTo has attached, so the Tell runs on a pool thread.
            using var gate = new ManualResetEventSlim();
            var piping = Task.Run(() =>
            {
                gate.Wait();
                return 42;
            }).PipeTo(target);
            gate.Set();
            piping.Wait();
        });
    }
}

internal sealed class PipeTarget : ReceiveActor
{
    public PipeTarget(Counter piped) => Receive<int>(_ => piped.Value++);
}
