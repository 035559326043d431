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
}
