using Akka.Actor;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Time;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>
/// Base of the actor specs: a TestKit whose actors under test run on a one-thread dispatcher, so that
/// one actor's handler turn is never interleaved with another's — what one turn sends lands in the
/// peers' mailboxes before any of them runs. Probes stand in for every peer (STYLE.md practices 4, 11).
/// </summary>
public abstract class ActorSpec() : Akka.TestKit.Xunit2.TestKit(AkkaConfig)
{
    /// <summary>The dispatcher every actor under test runs on.</summary>
    protected const string Dispatcher = "one-thread-dispatcher";

    private const string AkkaConfig = """
        one-thread-dispatcher {
          type = Dispatcher
          executor = fork-join-executor
          fork-join-executor { parallelism-min = 1, parallelism-max = 1, parallelism-factor = 1.0 }
        }
        akka.loglevel = WARNING
        """;

    /// <summary>A world built from an overlay on reference.conf, with a counter for a clock.</summary>
    protected static SimWorld World(string hocon) => World(SimConfig.Parse(hocon, "test.conf").Settings);

    protected static SimWorld World(Model.Settings.SimSettings settings) => new(settings, new CountingClock());

    /// <summary>Sends <paramref name="messages"/> to <paramref name="target"/> from one handler turn of an actor on
    /// <see cref="Dispatcher"/>: the target cannot take the first before the last is in its mailbox.</summary>
    protected void SendInOneTurn(IActorRef target, params object[] messages) =>
        Sys.ActorOf(Props.Create(() => new OneTurnSender()).WithDispatcher(Dispatcher)).Tell(new OneTurnSender.Send(target, messages));

    /// <summary>
    /// Creates, configures (paging, with a fresh stage-1 table) and attaches <paramref name="domain"/> in the
    /// host directly, as the driver's init would through hypercalls.
    /// </summary>
    protected static StageOnePageTable AttachPaging(SimWorld world, GuestDomain domain, params string[] devices)
    {
        var host = world.Host;
        Assert.Equal(HvStatus.Success, host.CreateDomain(new CreateDeviceDomainInput(domain.Identity)));
        var table = new StageOnePageTable(world.Memory, world.Frames, 4, (int)domain.Id, world.IovaWidth);
        domain.Table = table;
        Assert.Equal(HvStatus.Success, host.ConfigureDomain(new ConfigureDeviceDomainInput(domain.Identity, DeviceDomainSettings.Paging(table.RootGpa))));
        foreach (var name in devices)
        {
            var device = world.Devices.Single(d => d.Name == name);
            Assert.Equal(HvStatus.Success, host.Attach(new AttachDeviceDomainInput(domain.Identity, device.LogicalDeviceId)));
        }
        return table;
    }

    /// <summary>dma_map of one zeroed 4 KiB buffer page at <paramref name="iova"/>; <paramref name="writeLeaf"/> false
    /// registers the mapping as live without writing its leaf (a lost mapping, H6).</summary>
    protected static (MappingRecord Record, ulong Frame) MapPage(SimWorld world, GuestDomain domain, ulong iova, bool writeLeaf = true)
    {
        var frame = world.Frames.Allocate(FrameOwner.DmaBuffer, 0, zero: true);
        var record = world.Mappings.Register(domain.Id, iova, frame, PageSize.Size4K, writable: true, 0, world.Clock.NowNs);
        if (writeLeaf)
            Assert.Equal(MapStatus.Mapped, domain.Table!.Map(iova, frame, PageSize.Size4K, writable: true));
        world.Mappings.Mapped(record);
        return (record, frame);
    }

    /// <summary>dma_unmap of that page as the driver does it: the oracle sees the leaf cleared.</summary>
    protected static void UnmapPage(SimWorld world, GuestDomain domain, MappingRecord record)
    {
        world.Mappings.UnmapStarting(record, world.Clock.NowNs, queued: false);
        domain.Table!.Unmap(record.Iova, GuestMemory.PageSize, new IotlbGather());
        world.Mappings.UnmapDone(record, world.Clock.NowNs);
    }

    /// <summary>Simulated time that advances by one on every read.</summary>
    private sealed class CountingClock : ISimClock
    {
        private long _now;

        public long NowNs => Interlocked.Increment(ref _now);
    }

    private sealed class OneTurnSender : ReceiveActor
    {
        public OneTurnSender() => Receive<Send>(m =>
        {
            foreach (var message in m.Messages)
                m.Target.Tell(message);
            Context.Stop(Self);
        });

        public sealed record Send(IActorRef Target, object[] Messages);
    }
}
