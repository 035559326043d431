using Akka.Actor;

namespace HvIommu.Actors.Bench;

/// <summary>The two messages a ping-pong pair bounces, and the signal that starts a pair; all singletons so the loop allocates nothing.</summary>
internal sealed class Ping
{
    public static readonly Ping Instance = new();
}

internal sealed class Pong
{
    public static readonly Pong Instance = new();
}

internal sealed class StartPinging
{
    public static readonly StartPinging Instance = new();
}

/// <summary>Counts what every actor of a measurement received and completes once all of them have had their share.</summary>
internal sealed class PingPongCompletion(int actors)
{
    private readonly TaskCompletionSource<long> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _delivered;
    private int _actorsLeft = actors;

    public Task<long> Delivered => _done.Task;

    public void ActorDone(long received)
    {
        Interlocked.Add(ref _delivered, received);
        if (Interlocked.Decrement(ref _actorsLeft) == 0)
            _done.SetResult(Interlocked.Read(ref _delivered));
    }
}

/// <summary>Answers every <see cref="Ping"/> with a <see cref="Pong"/> to its sender.</summary>
internal sealed class Ponger(long expectedPings, PingPongCompletion completion) : UntypedActor
{
    private long _received;

    protected override void OnReceive(object message)
    {
        if (message is not Ping)
        {
            Unhandled(message);
            return;
        }
        // The sender of the message in hand, not one captured across hops: the raw shape being measured.
        Sender.Tell(Pong.Instance, Self);
        if (++_received == expectedPings)
            completion.ActorDone(_received);
    }
}

/// <summary>Keeps <c>inFlight</c> pings outstanding towards its <see cref="Ponger"/> until <c>roundTrips</c> have returned.</summary>
internal sealed class Pinger(IActorRef ponger, long roundTrips, int inFlight, PingPongCompletion completion) : UntypedActor
{
    private long _sent;
    private long _received;

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case StartPinging:
                for (var i = 0; i < inFlight && _sent < roundTrips; i++)
                    SendPing();
                break;
            case Pong:
                if (_sent < roundTrips)
                    SendPing();
                if (++_received == roundTrips)
                    completion.ActorDone(_received);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void SendPing()
    {
        _sent++;
        ponger.Tell(Ping.Instance, Self);
    }
}
