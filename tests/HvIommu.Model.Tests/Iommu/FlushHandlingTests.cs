using System.Collections.Immutable;
using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>
/// The flush handler's phases without an actor system (brief §2.4, §4; H1, H4, H5): each test drives the engine
/// with the completions a device would send and checks the exact order of the steps it asks for.
/// </summary>
[Trait("Category", "Model")]
public sealed class FlushHandlingTests
{
    private static readonly FlushHandlerSettings Correct = new(FlushOrder.IotlbFirst, AwaitAtcCompletions: true, DrainDma: true, InvalidateWalkCache: true);

    private readonly DeviceSlot _gpu = Busy(new DeviceSlot("gpu", 1, true, new DeviceTlb(16, new SeededRandom(1))));
    private readonly DeviceSlot _nic = Busy(new DeviceSlot("nic", 2, true, null));
    private readonly List<FlushStep<string>> _steps = new();

    private static DeviceSlot Busy(DeviceSlot device)
    {
        device.TranslationStarted();
        return device;
    }

    private FlushHandling<string> Engine(FlushHandlerSettings knobs) => new(knobs);

    /// <summary>The steps appended since the last call, as "Kind" or "Kind:device".</summary>
    private string[] Take()
    {
        var taken = _steps.Select(s => s.Device is { } d ? $"{s.Kind}:{d.Name}" : s.Kind.ToString()).ToArray();
        _steps.Clear();
        return taken;
    }

    [Fact]
    public void Correct_handler_invalidates_iotlb_and_walk_cache_then_awaits_the_atc_then_drains_then_completes()
    {
        var engine = Engine(Correct);
        var run = engine.Start(7, null, [_gpu, _nic], "vcpu0", _steps);
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "InvalidateAtc:gpu"], Take());

        engine.OnAtcCompleted(run.Id, "gpu", _steps);
        Assert.Equal(["Drain:gpu", "Drain:nic"], Take());

        engine.OnDrained(run.Id, "nic", _steps);
        Assert.Empty(Take());
        engine.OnDrained(run.Id, "gpu", _steps);
        var complete = Assert.Single(_steps);
        Assert.Equal(FlushStepKind.Complete, complete.Kind);
        Assert.Equal("vcpu0", complete.Run.Context);
        Assert.Equal(0, engine.InProgress);
    }

    [Fact]
    public void A_drain_step_for_an_idle_device_is_acknowledged_at_once_and_a_busy_one_needs_a_request()
    {
        var idle = new DeviceSlot("idle", 3, true, null);
        var engine = Engine(Correct with { InvalidateAtc = false });
        var run = engine.Start(7, null, [idle, _nic], "vcpu0", _steps);
        var drains = _steps.Where(s => s.Kind == FlushStepKind.Drain).ToList();
        _steps.Clear();

        Assert.False(engine.NeedsDrainRequest(drains.Single(s => s.Device == idle), _steps));
        Assert.Empty(Take());  // the busy device still owes its drain
        Assert.True(engine.NeedsDrainRequest(drains.Single(s => s.Device == _nic), _steps));
        Assert.Empty(Take());
        engine.OnDrained(run.Id, "nic", _steps);
        Assert.Equal(["Complete"], Take());
    }

    [Fact]
    public void A_flushs_charges_go_to_the_ledger_the_flush_total_and_the_waiting_vcpu()
    {
        var latency = new LatencySettings(VmExitNs: 1, FlushDomainNs: 1_000, FlushListNs: 100, AtcInvalidateNs: 10_000, IotlbHitNs: 1,
            WalkReferenceNs: 1, DmaTransferNs: 1, AtcTimeoutNs: 5_000_000);
        var costs = new Costs.CostLedger(vcpus: 2);
        var charges = new FlushCharges(latency, costs);

        charges.Started(null, vcpu: 0);
        charges.Started(ImmutableArray.Create(new FlushVa(1, 0), new FlushVa(2, 0), new FlushVa(3, 0)), vcpu: 1);
        Assert.Equal((1, 1_000L), (costs.Count(Costs.CostKind.FlushDomain), costs.Ns(Costs.CostKind.FlushDomain)));
        Assert.Equal((3, 300L), (costs.Count(Costs.CostKind.FlushListEntry), costs.Ns(Costs.CostKind.FlushListEntry)));
        Assert.Equal(1_300, costs.FlushNs);

        // H4: the vCPU waits for an ATS completion only when the host awaits it; the flush pays either way.
        charges.AtcInvalidation(vcpuWaits: false, vcpu: 0);
        charges.AtcInvalidation(vcpuWaits: true, vcpu: 1);
        Assert.Equal((2, 20_000L), (costs.Count(Costs.CostKind.AtcInvalidation), costs.Ns(Costs.CostKind.AtcInvalidation)));
        Assert.Equal(21_300, costs.FlushNs);

        // H5: only the time-out policy costs the ATS completion time-out.
        charges.Unanswered(DisconnectedDevicePolicy.Wait, 0);
        charges.Unanswered(DisconnectedDevicePolicy.SkipDisconnected, 0);
        Assert.Equal(21_300, costs.FlushNs);
        charges.Unanswered(DisconnectedDevicePolicy.TimeOut, 1);
        charges.Unanswered(DisconnectedDevicePolicy.TimeOut, null);  // the flush already finished: no vCPU waits
        Assert.Equal(10_021_300, costs.FlushNs);
        // vCPU 1 waited for its list flush, its awaited ATS invalidation and one time-out; vCPU 0 for its domain flush only.
        Assert.Equal(300 + 10_000 + 5_000_000, costs.MakespanNs);
        var single = new Costs.CostLedger(vcpus: 1);
        new FlushCharges(latency, single).AtcInvalidation(vcpuWaits: false, vcpu: 0);
        Assert.Equal(0, single.MakespanNs);
    }

    [Fact]
    public void H5_without_atc_invalidation_no_device_gets_an_ats_invalidation_and_the_flush_only_drains()
    {
        // Linux 041be2717b19: a device with no device-TLB cache tag is never sent an ATS invalidation.
        var engine = Engine(Correct with { InvalidateAtc = false });
        var run = engine.Start(7, null, [_gpu, _nic], "vcpu0", _steps);
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "Drain:gpu", "Drain:nic"], Take());
        engine.OnDrained(run.Id, "gpu", _steps);
        engine.OnDrained(run.Id, "nic", _steps);
        Assert.Equal(["Complete"], Take());
    }

    /// <summary>Linux 4fc82cd907ac: a surprise-removed device gets no ATS invalidation when the host skips disconnected
    /// devices; waiting on it never completes; a time-out gives the request up.</summary>
    [Theory]
    [InlineData(DisconnectedDevicePolicy.SkipDisconnected)]
    [InlineData(DisconnectedDevicePolicy.Wait)]
    [InlineData(DisconnectedDevicePolicy.TimeOut)]
    public void H5_a_surprise_removed_device_is_skipped_waited_for_or_timed_out(DisconnectedDevicePolicy policy)
    {
        var gone = new DeviceSlot("gone", 3, true, new DeviceTlb(16, new SeededRandom(2)));
        gone.Disconnect();
        var engine = Engine(Correct with { DrainDma = false, OnDisconnectedDevice = policy });
        var run = engine.Start(7, null, [gone], "vcpu0", _steps);
        if (policy == DisconnectedDevicePolicy.SkipDisconnected)
        {
            Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "Complete"], Take());
            return;
        }
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "InvalidateAtc:gone"], Take());
        engine.OnUnanswered(run.Id, "gone", drain: false, _steps);
        if (policy == DisconnectedDevicePolicy.Wait)
        {
            Assert.Empty(Take());
            Assert.Equal(1, engine.InProgress);
        }
        else
            Assert.Equal(["Complete"], Take());
    }

    /// <summary>Linux 0b15e02f0cc4's shape: with wrong-only-after-attach, only the first flush after an ATTACH skips the
    /// wait and the drain; the others are correct.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void H5_limited_to_the_flush_after_an_attach_the_other_flushes_await_and_drain(bool afterAttach)
    {
        var engine = Engine(Correct with { AwaitAtcCompletions = false, DrainDma = false, WrongOnlyAfterAttach = true });
        var run = engine.Start(7, null, [_gpu], "vcpu0", _steps, afterAttach);
        Assert.Equal(!afterAttach, run.AwaitsAtc);
        Assert.Equal(!afterAttach, run.DrainsDma);
        Assert.Equal(afterAttach
            ? ["InvalidateIotlb", "InvalidateWalkCache", "InvalidateAtc:gpu", "Complete"]
            : ["InvalidateIotlb", "InvalidateWalkCache", "InvalidateAtc:gpu"], Take());
    }

    [Fact]
    public void H1_without_walk_cache_invalidation_the_walk_cache_step_is_missing()
    {
        var engine = Engine(Correct with { InvalidateWalkCache = false });
        engine.Start(7, null, [_nic], "vcpu0", _steps);
        Assert.Equal(["InvalidateIotlb", "Drain:nic"], Take());
    }

    [Fact]
    public void H4_devtlb_first_invalidates_the_atc_before_the_iotlb_it_refills_from()
    {
        var engine = Engine(Correct with { Order = FlushOrder.DevTlbFirst });
        var run = engine.Start(7, null, [_gpu], "vcpu0", _steps);
        Assert.Equal(["InvalidateAtc:gpu"], Take());
        engine.OnAtcCompleted(run.Id, "gpu", _steps);
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "Drain:gpu"], Take());
    }

    [Fact]
    public void H4_without_awaiting_atc_completions_the_flush_goes_on_at_once_and_a_late_completion_is_ignored()
    {
        var engine = Engine(Correct with { AwaitAtcCompletions = false });
        var run = engine.Start(7, null, [_gpu], "vcpu0", _steps);
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "InvalidateAtc:gpu", "Drain:gpu"], Take());
        engine.OnAtcCompleted(run.Id, "gpu", _steps);
        Assert.Empty(Take());
        engine.OnDrained(run.Id, "gpu", _steps);
        Assert.Equal(["Complete"], Take());
    }

    [Fact]
    public void H5_without_drain_the_flush_completes_while_dma_is_in_flight()
    {
        var engine = Engine(Correct with { DrainDma = false });
        var run = engine.Start(7, null, [_gpu, _nic], "vcpu0", _steps);
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "InvalidateAtc:gpu"], Take());
        engine.OnAtcCompleted(run.Id, "gpu", _steps);
        Assert.Equal(["Complete"], Take());
        Assert.True(_gpu.InFlight > 0);
    }

    [Fact]
    public void Every_device_is_asked_to_drain_after_the_invalidations_and_a_flush_reaching_no_device_completes_at_once()
    {
        // Whether a device is idle is read by the performer after it performed the invalidations (a translation
        // starting in between used the old entry); the engine asks for every device's drain, in that order.
        _nic.TransferFinished();
        var engine = Engine(Correct);
        var run = engine.Start(7, [new FlushVa(0x40_0000, 0)], [_nic], "a", _steps);
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "Drain:nic"], Take());
        engine.OnDrained(run.Id, "nic", _steps);
        Assert.Equal(["Complete"], Take());
        engine.Start(8, null, [], "b", _steps);
        Assert.Equal(["InvalidateIotlb", "InvalidateWalkCache", "Complete"], Take());
    }

    [Fact]
    public void Concurrent_flushes_progress_independently_and_a_completion_for_the_wrong_phase_is_ignored()
    {
        var engine = Engine(Correct);
        var first = engine.Start(7, null, [_gpu], "first", _steps);
        var second = engine.Start(7, null, [_gpu], "second", _steps);
        Take();
        engine.OnDrained(first.Id, "gpu", _steps);
        Assert.Empty(Take());
        engine.OnAtcCompleted(second.Id, "gpu", _steps);
        Assert.Equal(["Drain:gpu"], Take());
        engine.OnDrained(second.Id, "gpu", _steps);
        Assert.Equal("second", Assert.Single(_steps).Run.Context);
        Assert.Equal(1, engine.InProgress);
    }

    [Fact]
    public void A_flush_after_a_completed_one_awaits_its_own_devices_and_ignores_the_earlier_flushs_late_answers()
    {
        var engine = Engine(Correct);
        var first = engine.Start(7, null, [_gpu, _nic], "first", _steps);
        engine.OnAtcCompleted(first.Id, "gpu", _steps);
        engine.OnDrained(first.Id, "gpu", _steps);
        engine.OnDrained(first.Id, "nic", _steps);
        Assert.Equal("first", _steps[^1].Run.Context);
        Take();

        // The second flush starts after the first completed: it awaits the ATC of gpu, then both drains, afresh.
        var second = engine.Start(7, null, [_gpu, _nic], "second", _steps);
        Take();
        engine.OnDrained(first.Id, "nic", _steps);
        engine.OnAtcCompleted(first.Id, "gpu", _steps);
        Assert.Empty(Take());
        engine.OnAtcCompleted(second.Id, "gpu", _steps);
        Assert.Equal(["Drain:gpu", "Drain:nic"], Take());
        engine.OnDrained(second.Id, "gpu", _steps);
        Assert.Empty(Take());
        engine.OnDrained(second.Id, "nic", _steps);
        Assert.Equal("second", Assert.Single(_steps).Run.Context);
        Assert.Equal(0, engine.InProgress);
    }
}
