using Akka.Actor;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>
/// A seeded three-actor "free before flush completes" race. The vCPU asks the flush handler to flush, then,
/// wrongly not waiting for the flush to complete, takes a few preemptible steps and frees the frame. The
/// device has a DMA in flight that lands on the frame after a few steps of its own, or at once when the
/// flush handler drains it. The bug shows only when the vCPU's steps all run before the flush handler and the
/// device get to run: rare under a uniform random interleaving, likely under PCT.
/// </summary>
internal sealed class RaceState
{
    public bool Freed;
    public bool DmaDone;
    public bool VcpuDone;
    public bool Violation;

    public bool Finished => DmaDone && VcpuDone;
}

internal sealed record StartRace(IActorRef FlushHandler, IActorRef Device);

internal sealed record Flush(IActorRef Device, IActorRef ReplyTo);

internal sealed record DrainDma(IActorRef ReplyTo);

internal sealed record DmaDrained(IActorRef ReplyTo);

internal sealed class FlushCompleted
{
    public static readonly FlushCompleted Instance = new();
}

internal sealed record Continue(int Left);

internal sealed class RaceRoot : ReceiveActor
{
    public RaceRoot(RaceState state, int vcpuSteps, int deviceSteps)
    {
        var dispatcher = DeterministicSystem.DispatcherId;
        var flusher = Context.ActorOf(Props.Create(() => new RaceFlushHandler()).WithDispatcher(dispatcher), "flush");
        var device = Context.ActorOf(Props.Create(() => new RaceDevice(state, deviceSteps)).WithDispatcher(dispatcher), "device");
        var vcpu = Context.ActorOf(Props.Create(() => new RaceVcpu(state, vcpuSteps)).WithDispatcher(dispatcher), "vcpu");
        vcpu.Tell(new StartRace(flusher, device));
        device.Tell(new Continue(deviceSteps));
        ReceiveAny(_ => { });
    }
}

internal sealed class RaceVcpu : ReceiveActor
{
    public RaceVcpu(RaceState state, int steps)
    {
        Receive<StartRace>(start =>
        {
            start.FlushHandler.Tell(new Flush(start.Device, Self));
            Self.Tell(new Continue(steps));
        });
        Receive<Continue>(c =>
        {
            if (c.Left > 0)
            {
                Self.Tell(new Continue(c.Left - 1));
                return;
            }
            state.Freed = true; // the bug: the flush has not completed yet
        });
        Receive<FlushCompleted>(_ => state.VcpuDone = true);
    }
}

internal sealed class RaceFlushHandler : ReceiveActor
{
    public RaceFlushHandler()
    {
        Receive<Flush>(flush => flush.Device.Tell(new DrainDma(flush.ReplyTo), Self));
        Receive<DmaDrained>(drained => drained.ReplyTo.Tell(FlushCompleted.Instance));
    }
}

internal sealed class RaceDevice : ReceiveActor
{
    public RaceDevice(RaceState state, int steps)
    {
        void Access()
        {
            if (state.DmaDone)
                return;
            state.DmaDone = true;
            if (state.Freed)
                state.Violation = true;
        }

        Receive<Continue>(c =>
        {
            if (c.Left > 0 && !state.DmaDone)
                Self.Tell(new Continue(c.Left - 1));
            else
                Access();
        });
        Receive<DrainDma>(drain =>
        {
            Access();
            Sender.Tell(new DmaDrained(drain.ReplyTo));
        });
    }
}
