using Microsoft.Coyote;
using Microsoft.Coyote.Actors;

namespace HvIommu.Coyote;

/// <summary>
/// Which minimal race a Coyote model plays, with the knobs and the shape of the simulator's race file of the same
/// name in config/races/: vCPUs, operations, two DMA transactions per descriptor, and a device that after each
/// completed descriptor may replay a recent one (a nondeterministic boolean Coyote's strategy decides, as the
/// simulator's strategy decides its device's replay choice).
/// </summary>
/// <param name="Name">The race file's name without <c>.conf</c>.</param>
/// <param name="FreeBeforeFlush">H2: strict unmap frees the buffer before the flush hypercall.</param>
/// <param name="Ats">The device caches translations in its ATC (PCIe ATS).</param>
/// <param name="DevtlbFirst">H4: the flush invalidates the device's ATC before the IOTLB.</param>
/// <param name="Drain">The flush waits for translated DMA in flight (false: H5).</param>
public sealed record RaceKnobs(string Name, int Vcpus, int Ops, bool FreeBeforeFlush = false, bool Ats = false, bool DevtlbFirst = false, bool Drain = true)
{
    /// <summary>H2 (races/h2-free-iova.conf).</summary>
    public static RaceKnobs FreeBeforeFlushRace { get; } = new("h2-free-iova", 2, 4, FreeBeforeFlush: true);

    /// <summary>H4 (races/h4-devtlb-first.conf): the ATC is refilled from the stale IOTLB between the two invalidations.</summary>
    public static RaceKnobs DevtlbFirstRace { get; } = new("h4-devtlb-first", 2, 4, Ats: true, DevtlbFirst: true);

    /// <summary>H5 (races/h5-drain.conf): the flush completes without draining translated DMA.</summary>
    public static RaceKnobs NoDrainRace { get; } = new("h5-drain", 2, 4, Drain: false);

    /// <summary>The races the anchor measures, in order.</summary>
    public static IReadOnlyList<RaceKnobs> All { get; } = [FreeBeforeFlushRace, DevtlbFirstRace, NoDrainRace];

    /// <summary>The same shape with every hazard off: no schedule violates, so every schedule runs to its end.</summary>
    public RaceKnobs Clean => this with { Name = Name + " (clean)", FreeBeforeFlush = false, DevtlbFirst = false, Drain = true };
}

/// <summary>Guest memory, page table and IOMMU caches, shared by the actors as in the real machine (and in the
/// simulator's SimWorld); Coyote serializes the actors, so plain collections suffice.</summary>
internal sealed class RaceWorld(RaceKnobs knobs)
{
    public RaceKnobs Knobs { get; } = knobs;
    public Dictionary<ulong, ulong> PageTable { get; } = new();
    public Dictionary<ulong, ulong> Iotlb { get; } = new();
    public Dictionary<ulong, ulong> Atc { get; } = new();
    public HashSet<ulong> Freed { get; } = new();
    public ulong NextIova { get; set; } = 0xFFFF_F000;
    public ulong NextFrame { get; set; } = 0x10_0000;
}

internal sealed class Setup(RaceWorld world, ActorId device, ActorId flush) : Event
{
    public RaceWorld World { get; } = world;
    public ActorId Device { get; } = device;
    public ActorId Flush { get; } = flush;
}

internal sealed class ProgramDma(ulong iova, ActorId replyTo) : Event
{
    public ulong Iova { get; } = iova;
    public ActorId ReplyTo { get; } = replyTo;
}

internal sealed class DmaCompleted : Event;

internal sealed class Descriptor(ulong iova, ActorId replyTo)
{
    public ulong Iova { get; } = iova;
    public ActorId ReplyTo { get; } = replyTo;
    public int Remaining { get; set; } = 2;
}

internal sealed class TransferDue(ulong iova, ulong frame, Descriptor? descriptor) : Event
{
    public ulong Iova { get; } = iova;
    public ulong Frame { get; } = frame;
    public Descriptor? Descriptor { get; } = descriptor;
}

internal sealed class Replay : Event;

internal sealed class FlushDomain(ActorId replyTo) : Event
{
    public ActorId ReplyTo { get; } = replyTo;
}

internal sealed class FlushCompleted : Event;

internal sealed class InvalidateAtc(ActorId replyTo) : Event
{
    public ActorId ReplyTo { get; } = replyTo;
}

internal sealed class AtcInvalidated : Event;

internal sealed class DrainDma(ActorId replyTo) : Event
{
    public ActorId ReplyTo { get; } = replyTo;
}

internal sealed class DmaDrained : Event;

internal sealed class VcpuModel : Actor
{
    protected override async Task OnInitializeAsync(Event initialEvent)
    {
        var setup = (Setup)initialEvent;
        var world = setup.World;
        for (var op = 0; op < world.Knobs.Ops / world.Knobs.Vcpus; op++)
        {
            var iova = world.NextIova;
            world.NextIova -= 0x1000;
            var frame = world.NextFrame;
            world.NextFrame += 0x1000;
            world.PageTable[iova] = frame;
            this.SendEvent(setup.Device, new ProgramDma(iova, this.Id));
            await this.ReceiveEventAsync(typeof(DmaCompleted));
            world.PageTable.Remove(iova);
            if (world.Knobs.FreeBeforeFlush)
                world.Freed.Add(frame);
            this.SendEvent(setup.Flush, new FlushDomain(this.Id));
            await this.ReceiveEventAsync(typeof(FlushCompleted));
            world.Freed.Add(frame);
        }
    }
}

/// <summary>
/// The device's DMA engine: a transaction is translated (ATC, IOTLB, walk) when issued and moves its data in a
/// later step; after completing a descriptor it may replay one of its recent ones later (stale-replay). The
/// oracle's check: the data phase must not touch a freed frame.
/// </summary>
[OnEventDoAction(typeof(ProgramDma), nameof(Program))]
[OnEventDoAction(typeof(TransferDue), nameof(Transfer))]
[OnEventDoAction(typeof(Replay), nameof(DoReplay))]
[OnEventDoAction(typeof(InvalidateAtc), nameof(InvalidateAtc))]
[OnEventDoAction(typeof(DrainDma), nameof(Drain))]
internal sealed class DeviceModel : Actor
{
    private readonly List<ulong> _recent = new();
    private readonly HashSet<TransferDue> _inFlight = new();
    private RaceWorld _world = null!;
    private ActorId? _drainReplyTo;

    protected override Task OnInitializeAsync(Event initialEvent)
    {
        _world = ((Setup)initialEvent).World;
        return Task.CompletedTask;
    }

    private void Program(Event e)
    {
        var p = (ProgramDma)e;
        var d = new Descriptor(p.Iova, p.ReplyTo);
        for (var i = 0; i < 2; i++)
            Issue(p.Iova, d);
    }

    private void DoReplay()
    {
        if (_recent.Count > 0)
            Issue(_recent[this.RandomInteger(_recent.Count)], null);
    }

    private void Issue(ulong iova, Descriptor? d)
    {
        if (!Translate(iova, out var frame))
        {
            if (d is not null)
                Done(d);
            return;
        }
        var tx = new TransferDue(iova, frame, d);
        _inFlight.Add(tx);
        this.SendEvent(this.Id, tx);
    }

    private bool Translate(ulong iova, out ulong frame)
    {
        if (_world.Knobs.Ats && _world.Atc.TryGetValue(iova, out frame))
            return true;
        if (!_world.Iotlb.TryGetValue(iova, out frame))
        {
            if (!_world.PageTable.TryGetValue(iova, out frame))
                return false;
            _world.Iotlb[iova] = frame;
        }
        if (_world.Knobs.Ats)
            _world.Atc[iova] = frame;
        return true;
    }

    private void Transfer(Event e)
    {
        var tx = (TransferDue)e;
        _inFlight.Remove(tx);
        this.Assert(!_world.Freed.Contains(tx.Frame), $"DmaToFreedFrame: DMA to IOVA 0x{tx.Iova:x} reached freed frame 0x{tx.Frame:x}");
        if (_drainReplyTo is { } drainer && _inFlight.Count == 0)
        {
            _drainReplyTo = null;
            this.SendEvent(drainer, new DmaDrained());
        }
        if (tx.Descriptor is { } d)
            Done(d);
    }

    private void Done(Descriptor d)
    {
        if (--d.Remaining > 0)
            return;
        this.SendEvent(d.ReplyTo, new DmaCompleted());
        _recent.Add(d.Iova);
        if (_recent.Count > 4)
            _recent.RemoveAt(0);
        if (this.RandomBoolean())
            this.SendEvent(this.Id, new Replay());
    }

    private void InvalidateAtc(Event e)
    {
        _world.Atc.Clear();
        this.SendEvent(((InvalidateAtc)e).ReplyTo, new AtcInvalidated());
    }

    private void Drain(Event e)
    {
        var replyTo = ((DrainDma)e).ReplyTo;
        if (_inFlight.Count == 0)
            this.SendEvent(replyTo, new DmaDrained());
        else
            _drainReplyTo = replyTo;
    }
}

/// <summary>The hypervisor's flush handler: invalidate the IOTLB and the device's ATC (in the configured order),
/// drain translated DMA (unless the hazard is on), then complete the hypercall.</summary>
[OnEventDoAction(typeof(FlushDomain), nameof(Flush))]
internal sealed class FlushHandlerModel : Actor
{
    private RaceWorld _world = null!;
    private ActorId _device = null!;

    protected override Task OnInitializeAsync(Event initialEvent)
    {
        var setup = (Setup)initialEvent;
        _world = setup.World;
        _device = setup.Device;
        return Task.CompletedTask;
    }

    private async Task Flush(Event e)
    {
        var replyTo = ((FlushDomain)e).ReplyTo;
        if (_world.Knobs.Ats && _world.Knobs.DevtlbFirst)
        {
            this.SendEvent(_device, new InvalidateAtc(this.Id));
            await this.ReceiveEventAsync(typeof(AtcInvalidated));
            _world.Iotlb.Clear();
        }
        else
        {
            _world.Iotlb.Clear();
            if (_world.Knobs.Ats)
            {
                this.SendEvent(_device, new InvalidateAtc(this.Id));
                await this.ReceiveEventAsync(typeof(AtcInvalidated));
            }
        }
        if (_world.Knobs.Drain)
        {
            this.SendEvent(_device, new DrainDma(this.Id));
            await this.ReceiveEventAsync(typeof(DmaDrained));
        }
        this.SendEvent(replyTo, new FlushCompleted());
    }
}

/// <summary>Builds one schedule's actors: the device, the flush handler, and the vCPUs.</summary>
public static class RaceModel
{
    public static void Start(IActorRuntime runtime, RaceKnobs knobs)
    {
        var world = new RaceWorld(knobs);
        var device = runtime.CreateActorIdFromName(typeof(DeviceModel), "device");
        var flush = runtime.CreateActorIdFromName(typeof(FlushHandlerModel), "flush");
        var setup = new Setup(world, device, flush);
        runtime.CreateActor(device, typeof(DeviceModel), setup);
        runtime.CreateActor(flush, typeof(FlushHandlerModel), setup);
        for (var v = 0; v < knobs.Vcpus; v++)
            runtime.CreateActor(typeof(VcpuModel), setup);
    }
}
