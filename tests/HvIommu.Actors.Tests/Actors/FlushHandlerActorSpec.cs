using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using HvIommu.Actors.FlushHandler;
using HvIommu.Actors.PciDevice;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.VmExit;
using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Mappings;
using HvIommu.Model.PageTables;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>
/// The host's flush handler (brief §2.4, §4 rules; H1, H4, H5): probes stand in for the devices and answer
/// the ATS invalidations and drains when the test says so, so each step's order is observed exactly.
/// </summary>
[Trait("Category", "Actors")]
public sealed class FlushHandlerActorSpec : ActorSpec
{
    private const string Topology = """
        hviommu {
          iommu.capabilities = [present, s1, ats]
          domains = [ { name = dom }, { name = idle } ]
          devices = [ { name = gpu, domain = dom, ats = on }, { name = nic, domain = dom } ]
        }
        """;

    private const ulong Iova = 0x40_0000;

    private readonly TestProbe _gpu;
    private readonly TestProbe _nic;
    private readonly TestProbe _vcpu;
    private SimWorld _world = null!;
    private uint _dom;
    private uint _idle;
    private IActorRef _handler = ActorRefs.Nobody;

    public FlushHandlerActorSpec()
    {
        _gpu = CreateTestProbe("gpu");
        _nic = CreateTestProbe("nic");
        _vcpu = CreateTestProbe("vcpu");
    }

    /// <summary>The world with <c>dom</c> holding both devices and <c>idle</c> holding none, an IOTLB and a walk-cache
    /// entry of <c>dom</c> at <see cref="Iova"/>, and the handler under test with the given flush knobs.</summary>
    private void Start(string flushKnobs = "")
    {
        _world = World(Topology + "\nhviommu.hypervisor.flush { " + flushKnobs + " }");
        var dom = _world.DomainByName["dom"];
        var idle = _world.DomainByName["idle"];
        AttachPaging(_world, dom, "gpu", "nic");
        AttachPaging(_world, idle);
        (_dom, _idle) = (dom.Id, idle.Id);
        _world.Host.Iotlb.Fill(_dom, Iova, new IotlbEntry(0x1234_5000, 0x5000, PageSize.Size4K, true, 0));
        _world.Host.WalkCache.Fill(_dom, 1, Iova, SimWorld.AllocatorBaseGpa);
        // The probes stand for devices with DMA in flight; an idle device is not drained (see the last test).
        foreach (var device in _world.Devices)
            device.TranslationStarted();
        var devices = new Dictionary<string, IActorRef> { ["gpu"] = _gpu, ["nic"] = _nic };
        _handler = Sys.ActorOf(FlushHandlerActor.Props(_world, devices, Dispatcher));
    }

    [Fact]
    public void A_device_with_no_dma_in_flight_is_not_drained()
    {
        Start();
        _world.Devices.Single(d => d.Name == "nic").TransferFinished();
        Flush(_vcpu);
        Complete(_gpu.ExpectMsg<InvalidateAtc>());
        Complete(_gpu.ExpectMsg<DrainDma>(), "gpu");
        AssertSuccess(_vcpu);
        _nic.ExpectNoMsg(TimeSpan.Zero);
    }

    private void Flush(IActorRef replyTo, ImmutableArray<FlushVa>? blocks = null) =>
        _handler.Tell(new ExecuteFlush(_dom, blocks, blocks is null ? HypercallCode.FlushDeviceDomain : HypercallCode.FlushDeviceDomainList, replyTo));

    private bool IotlbHolds(ulong iova = Iova) => _world.Host.Iotlb.TryLookup(_dom, iova, out _);

    private bool WalkCacheHolds() => _world.Host.WalkCache.TryLookupDeepest(_dom, Iova, 3, out _, out _);

    private static void Complete(InvalidateAtc m) => m.ReplyTo.Tell(new AtcInvalidationCompleted(m.FlushId, "gpu"));

    private static void Complete(DrainDma m, string device) => m.ReplyTo.Tell(new DmaDrained(m.FlushId, device));

    /// <summary>
    /// A flush of the device-less domain completes within its own turn; once its reply is here, every
    /// earlier message to the handler has been handled and all it sent is in the probes' mailboxes.
    /// </summary>
    private void Barrier()
    {
        var probe = CreateTestProbe();
        _handler.Tell(new ExecuteFlush(_idle, null, HypercallCode.FlushDeviceDomain, probe));
        probe.ExpectMsg<HypercallCompleted>();
    }

    /// <summary>Both devices answer the drain of the flush now draining; the flush then completes to <paramref name="replyTo"/>.</summary>
    private void DrainBothAndComplete(TestProbe replyTo)
    {
        Complete(_gpu.ExpectMsg<DrainDma>(), "gpu");
        Complete(_nic.ExpectMsg<DrainDma>(), "nic");
        AssertSuccess(replyTo);
    }

    private void AssertSuccess(TestProbe replyTo, HypercallCode code = HypercallCode.FlushDeviceDomain)
    {
        var done = replyTo.ExpectMsg<HypercallCompleted>();
        Assert.Equal(code, done.Code);
        Assert.Equal(HvStatus.Success, done.Status);
    }

    [Fact]
    public void Iotlb_first_invalidates_the_iommu_caches_then_awaits_the_atc_then_drains_every_device_then_completes()
    {
        Start();
        Flush(_vcpu);

        var invalidate = _gpu.ExpectMsg<InvalidateAtc>();
        Assert.Null(invalidate.Blocks);
        Assert.Equal(_handler, invalidate.ReplyTo);
        Assert.False(IotlbHolds());
        Assert.False(WalkCacheHolds());
        Barrier();
        Assert.False(_nic.HasMessages);
        Assert.False(_gpu.HasMessages);
        Assert.False(_vcpu.HasMessages);

        Complete(invalidate);
        var drainGpu = _gpu.ExpectMsg<DrainDma>();
        var drainNic = _nic.ExpectMsg<DrainDma>();
        Assert.Equal(invalidate.FlushId, drainGpu.FlushId);
        Assert.Equal(invalidate.FlushId, drainNic.FlushId);

        Complete(drainGpu, "gpu");
        Barrier();
        Assert.False(_vcpu.HasMessages);
        Complete(drainNic, "nic");
        AssertSuccess(_vcpu);
    }

    [Fact]
    public void Devtlb_first_leaves_the_iotlb_entry_until_the_atc_invalidation_completes()
    {
        Start("order = devtlb-first");
        Flush(_vcpu);

        var invalidate = _gpu.ExpectMsg<InvalidateAtc>();
        Barrier();
        Assert.True(IotlbHolds());

        Complete(invalidate);
        var drain = _gpu.ExpectMsg<DrainDma>();
        Assert.False(IotlbHolds());
        Assert.False(WalkCacheHolds());
        Complete(drain, "gpu");
        Complete(_nic.ExpectMsg<DrainDma>(), "nic");
        AssertSuccess(_vcpu);
    }

    [Fact]
    public void Without_awaiting_atc_completions_the_drain_starts_at_once()
    {
        Start("await-atc-completions = off");
        Flush(_vcpu);

        _gpu.ExpectMsg<InvalidateAtc>();
        DrainBothAndComplete(_vcpu);
    }

    [Fact]
    public void Without_drain_the_flush_completes_once_the_atc_is_invalidated()
    {
        Start("drain-dma = off");
        Flush(_vcpu);

        Complete(_gpu.ExpectMsg<InvalidateAtc>());

        AssertSuccess(_vcpu);
        Assert.False(_gpu.HasMessages);
        Assert.False(_nic.HasMessages);
    }

    [Fact]
    public void Without_walk_cache_invalidation_the_walk_cache_survives_the_flush()
    {
        Start("invalidate-walk-cache = off, drain-dma = off");
        Flush(_vcpu);

        Complete(_gpu.ExpectMsg<InvalidateAtc>());
        AssertSuccess(_vcpu);

        Assert.False(IotlbHolds());
        Assert.True(WalkCacheHolds());
    }

    [Fact]
    public void A_list_flush_invalidates_only_its_blocks_and_passes_them_to_the_atc()
    {
        Start("drain-dma = off");
        const ulong outside = Iova + 0x10_0000;
        _world.Host.Iotlb.Fill(_dom, outside, new IotlbEntry(0x1234_6000, 0x6000, PageSize.Size4K, true, 0));
        ImmutableArray<FlushVa> blocks = [FlushVa.FromRange(Iova, Iova + 0xFFF)];

        Flush(_vcpu, blocks);

        var invalidate = _gpu.ExpectMsg<InvalidateAtc>();
        Assert.Equal(blocks, invalidate.Blocks!.Value);
        Assert.False(IotlbHolds());
        Assert.True(IotlbHolds(outside));
        Complete(invalidate);
        AssertSuccess(_vcpu, HypercallCode.FlushDeviceDomainList);
    }

    [Fact]
    public void Two_concurrent_flushes_complete_independently()
    {
        Start();
        var first = CreateTestProbe("first");
        var second = CreateTestProbe("second");
        Flush(first);
        Flush(second);
        var invalidateFirst = _gpu.ExpectMsg<InvalidateAtc>();
        var invalidateSecond = _gpu.ExpectMsg<InvalidateAtc>();
        Assert.NotEqual(invalidateFirst.FlushId, invalidateSecond.FlushId);

        Complete(invalidateSecond);
        var drainGpu = _gpu.ExpectMsg<DrainDma>();
        var drainNic = _nic.ExpectMsg<DrainDma>();
        Assert.Equal(invalidateSecond.FlushId, drainGpu.FlushId);
        Complete(drainGpu, "gpu");
        Complete(drainNic, "nic");
        AssertSuccess(second);
        Barrier();
        Assert.False(first.HasMessages);

        Complete(invalidateFirst);
        DrainBothAndComplete(first);
    }

    [Fact]
    public void A_late_completion_for_a_finished_flush_is_ignored()
    {
        Start("await-atc-completions = off");
        Flush(_vcpu);
        var invalidate = _gpu.ExpectMsg<InvalidateAtc>();
        DrainBothAndComplete(_vcpu);

        Complete(invalidate);
        _handler.Tell(new DmaDrained(invalidate.FlushId, "nic"));
        Barrier();
        Assert.False(_vcpu.HasMessages);

        // The handler is unharmed: the next flush runs its full course.
        Flush(_vcpu);
        _gpu.ExpectMsg<InvalidateAtc>();
        DrainBothAndComplete(_vcpu);
    }

    [Fact]
    public void The_oracle_sees_the_flush_complete_only_for_unmaps_before_it_started()
    {
        Start("drain-dma = off");
        var dom = _world.DomainByName["dom"];
        var before = MapPage(_world, dom, Iova + 0x2000).Record;
        var after = MapPage(_world, dom, Iova + 0x3000).Record;
        UnmapPage(_world, dom, before);

        Flush(_vcpu);
        var invalidate = _gpu.ExpectMsg<InvalidateAtc>();
        UnmapPage(_world, dom, after);
        Assert.Equal(MappingState.Unmapped, before.State);

        Complete(invalidate);
        AssertSuccess(_vcpu);
        Assert.Equal(MappingState.Flushed, before.State);
        Assert.Equal(MappingState.Unmapped, after.State);
    }
}
