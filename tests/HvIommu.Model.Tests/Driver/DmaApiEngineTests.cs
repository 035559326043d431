using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;
using HvIommu.Model.Metrics;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The guest DMA API engine driven through a fake port, without an actor system: what each path asks of
/// the hypervisor, and what it frees before and after the status returns (brief §5.2, §5.3; H2, H6, H8, H18).</summary>
[Trait("Category", "Model")]
public sealed class DmaApiEngineTests
{
    [Fact]
    public void Strict_unmap_makes_one_domain_flush_and_frees_the_iova_and_buffer_only_after_its_status()
    {
        var rig = new DriverEngineRig(DmaMode.Strict);
        var d = rig.Map();
        Assert.Empty(rig.Port.Calls);
        var unmap = rig.Dma.CompleteAsync(d.Id);
        var flush = Assert.IsType<FlushDeviceDomainInput>(Assert.Single(rig.Port.Calls));
        Assert.Equal(DriverEngineRig.DomainId, flush.Domain.DomainId.Id);
        Assert.False(unmap.IsCompleted);
        Assert.True(rig.IovaLive(d));
        Assert.Equal(1, rig.BuffersAllocated);

        rig.Port.Answer();
        Assert.True(unmap.IsCompleted);
        unmap.ThrowIfFaulted();
        Assert.Single(rig.Port.Calls);
        Assert.False(rig.IovaLive(d));
        Assert.Equal(0, rig.BuffersAllocated);
        Assert.Equal("start-next-operation", rig.Port.Posted[^1]);
    }

    [Fact]
    public void The_guest_writes_each_hypercall_s_input_into_its_input_page_before_the_trap()
    {
        var rig = new DriverEngineRig(DmaMode.Strict);
        var unmap = rig.Dma.CompleteAsync(rig.Map().Id);
        var flush = Assert.IsType<FlushDeviceDomainInput>(rig.Port.Outstanding);
        var page = new byte[HypercallInputCodec.PageBytes];
        rig.World.Memory.Read(DriverEngineRig.InputPageGpa, page);
        Assert.Equal(HypercallCode.FlushDeviceDomain, rig.Port.Controls[^1].Code);
        Assert.True(HypercallInputCodec.Holds(rig.Port.Controls[^1], page, flush));
        rig.Port.Answer();
        Assert.True(unmap.IsCompleted);
    }

    [Fact]
    public void H2_frees_the_iova_and_buffer_while_the_flush_is_still_outstanding()
    {
        var rig = new DriverEngineRig(DmaMode.Strict, DriverHazards.None with { FreeIovaBeforeFlush = true });
        var d = rig.Map();
        var unmap = rig.Dma.CompleteAsync(d.Id);
        Assert.IsType<FlushDeviceDomainInput>(rig.Port.Outstanding);
        Assert.False(rig.IovaLive(d));
        Assert.Equal(0, rig.BuffersAllocated);
        rig.Port.Answer();
        Assert.True(unmap.IsCompleted);
    }

    [Theory]
    [InlineData(FlushFailurePolicy.Log, 1)]
    [InlineData(FlushFailurePolicy.Fallback, 2)]
    public void A_failed_flush_is_logged_or_retried_once_with_a_domain_flush(FlushFailurePolicy policy, int calls)
    {
        var rig = new DriverEngineRig(DmaMode.Strict, onFlushFailure: policy);
        var unmap = rig.Dma.CompleteAsync(rig.Map().Id);
        rig.Port.Answer(HvStatus.InvalidParameter);
        rig.Port.AnswerAll();
        Assert.True(unmap.IsCompleted);
        Assert.Equal(calls, rig.Port.Calls.Count);
        Assert.All(rig.Port.Calls, c => Assert.IsType<FlushDeviceDomainInput>(c));
        Assert.Contains(rig.Telemetry.Logged, l => l.Level == (policy == FlushFailurePolicy.Log ? DriverLogLevel.Error : DriverLogLevel.Warning));
    }

    [Fact]
    public void Lazy_unmaps_queue_without_a_flush_until_the_ring_is_full_then_flush_once_and_retry()
    {
        // A ring of 4 slots holds 3 entries (fq_full: one slot stays empty).
        var rig = new DriverEngineRig(DmaMode.Lazy, flushQueueEntries: 4);
        var queued = Enumerable.Range(0, 3).Select(_ => rig.Map()).ToList();
        var fourth = rig.Map();
        foreach (var d in queued)
            Assert.True(rig.Dma.CompleteAsync(d.Id).IsCompleted);
        Assert.Empty(rig.Port.Calls);
        Assert.Single(rig.Port.TimersArmed);
        Assert.Equal(3, rig.Domain.Queues[0].Count);
        Assert.Equal(1, rig.BuffersAllocated);

        var unmap = rig.Dma.CompleteAsync(fourth.Id);
        Assert.IsType<FlushDeviceDomainInput>(Assert.Single(rig.Port.Calls));
        Assert.False(unmap.IsCompleted);
        // Nothing the ring holds is reaped before the flush finishes.
        Assert.Equal(3, rig.Domain.Queues[0].Count);
        Assert.Equal(1, rig.Domain.Fq.StartCount);
        Assert.Equal(0, rig.Domain.Fq.FinishCount);

        rig.Port.Answer();
        Assert.True(unmap.IsCompleted);
        unmap.ThrowIfFaulted();
        Assert.Single(rig.Port.Calls);
        Assert.Equal(1, rig.Domain.Fq.FinishCount);
        // The three flushed entries were reaped; the fourth unmap's entry is the ring's only one.
        Assert.Equal(1, rig.Domain.Queues[0].Count);
        Assert.Equal([fourth.Iova >> 12], rig.Domain.Queues[0].PendingPfns());
    }

    [Fact]
    public void The_flush_queue_timer_flushes_once_and_reaps_every_entry_but_not_after_the_timers_stopped()
    {
        var rig = new DriverEngineRig(DmaMode.Lazy);
        var d = rig.Map();
        rig.Dma.CompleteAsync(d.Id).ThrowIfFaulted();
        Assert.Equal((DriverEngineRig.DomainId, 1), (rig.Port.TimersArmed[0].Domain, rig.Port.TimersArmed.Count));
        var fire = rig.Dma.FlushQueueTimerFiredAsync(DriverEngineRig.DomainId);
        Assert.IsType<FlushDeviceDomainInput>(Assert.Single(rig.Port.Calls));
        rig.Port.Answer();
        Assert.True(fire.IsCompleted);
        Assert.Equal(0, rig.Domain.Queues[0].Count);

        rig.Cpu.StopTimers();
        Assert.True(rig.Dma.FlushQueueTimerFiredAsync(DriverEngineRig.DomainId).IsCompleted);
        Assert.Single(rig.Port.Calls);
        rig.Dma.CompleteAsync(rig.Map().Id).ThrowIfFaulted();
        Assert.Single(rig.Port.TimersArmed);
    }

    [Fact]
    public void H6_maps_one_table_level_per_preemption_point_and_programs_the_device_after_the_last()
    {
        var rig = new DriverEngineRig(DmaMode.Strict, DriverHazards.None with { RacyTableInstall = true });
        Assert.True(rig.Dma.StartOperation().IsCompleted);
        var steps = 0;
        while (rig.Port.Programmed.Count == 0)
        {
            var posted = rig.Port.Posted[^1];
            Assert.StartsWith("continue-map ", posted);
            Assert.True(rig.Dma.ContinueMap(long.Parse(posted["continue-map ".Length..])).IsCompleted);
            Assert.True(++steps < 10, "the stepwise map never finished");
        }
        // A 4-level walk of an empty table: the first call and three continuations (one per level).
        Assert.Equal(3, steps);
        Assert.Equal(1, rig.Telemetry.Counts[SimCounter.MapCalls]);
    }

    [Fact]
    public void The_workload_ends_idle_once_the_budget_is_spent_and_nothing_is_outstanding()
    {
        var rig = new DriverEngineRig(DmaMode.Strict, ops: 1);
        rig.Dma.StartWorkload();
        Assert.Equal(["start-next-operation"], rig.Port.Posted);
        var d = rig.Map();
        Assert.True(rig.Dma.StartOperation().IsCompleted);
        Assert.Equal(0, rig.Port.IdleReports);
        var unmap = rig.Dma.CompleteAsync(d.Id);
        rig.Port.AnswerAll();
        Assert.True(unmap.IsCompleted);
        Assert.True(rig.Dma.StartOperation().IsCompleted);
        Assert.Equal(1, rig.Port.IdleReports);
    }
}
