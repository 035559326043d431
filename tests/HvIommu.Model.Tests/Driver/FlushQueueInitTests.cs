using HvIommu.Model.Driver;

namespace HvIommu.Model.Tests.Driver;

/// <summary>
/// iommu_dma_init_fq (drivers/iommu/dma-iommu.c) on a live strict domain, step by step (<see cref="FlushQueueInit"/>):
/// Linux publishes fq_domain last, so an unmap (which reads it once, __iommu_dma_unmap's gather.queued) never queues
/// into a ring iommu_dma_init_one_fq has not initialised; published first (H2) the init wipes what unmaps queued.
/// </summary>
[Trait("Category", "Model")]
public sealed class FlushQueueInitTests
{
    private static GuestDomain Strict(int vcpus = 3) => new("dom", 1, vcpus, flushQueueEntries: 8) { Lazy = false };

    /// <summary>An unmap as __iommu_dma_unmap does it: read fq_domain once; queue only when it was set.</summary>
    private static bool Unmap(GuestDomain domain, int cpu, ulong pfn, int pages, params ulong[] tables)
    {
        if (!domain.Lazy)
            return false;
        Assert.True(domain.Queues[cpu].TryEnqueue(pfn, pages, tables, null, []));
        return true;
    }

    [Fact]
    public void Linux_order_resets_counters_initialises_every_ring_sets_up_the_timer_and_publishes_last()
    {
        var init = new FlushQueueInit(Strict(), publishEarly: false);
        Assert.Equal(
            [(FlushQueueInitStep.ResetCounters, -1), (FlushQueueInitStep.InitQueue, 0), (FlushQueueInitStep.InitQueue, 1), (FlushQueueInitStep.InitQueue, 2),
             (FlushQueueInitStep.SetupTimer, -1), (FlushQueueInitStep.Publish, -1)],
            init.Plan);
    }

    [Fact]
    public void Published_last_an_unmap_between_any_two_steps_takes_the_strict_path_and_nothing_is_lost()
    {
        var domain = Strict();
        var init = new FlushQueueInit(domain, publishEarly: false);
        ulong pfn = 100;
        while (!init.Done)
        {
            for (var cpu = 0; cpu < 3; cpu++)
                Assert.False(Unmap(domain, cpu, pfn++, 1, 0xAA000));
            init.Step();
        }
        Assert.True(domain.Lazy);
        Assert.Equal((0L, 0L, 0L), (init.EntriesLost, init.PagesLost, init.TablePagesLost));
        Assert.True(Unmap(domain, 1, 500, 4));
        Assert.Equal([500UL], domain.Queues[1].PendingPfns());
    }

    [Fact]
    public void Published_first_an_unmap_queues_into_a_ring_the_init_then_wipes()
    {
        var domain = Strict();
        domain.Fq.FlushStarting();
        var init = new FlushQueueInit(domain, publishEarly: true);
        Assert.Equal((FlushQueueInitStep.Publish, -1), init.Step());
        Assert.True(domain.Lazy);
        // CPU 2 unmaps before its ring is initialised (queue_iova: counter = fq_flush_start_cnt, freelist spliced on).
        Assert.True(Unmap(domain, 2, 300, 16, 0xAA000, 0xAB000));
        Assert.Equal((FlushQueueInitStep.ResetCounters, -1), init.Step());
        Assert.Equal((0L, 0L), (domain.Fq.StartCount, domain.Fq.FinishCount));
        Assert.Equal((FlushQueueInitStep.InitQueue, 0), init.Step());
        // CPU 0's ring is ready now: its entry survives the rest of the init.
        Assert.True(Unmap(domain, 0, 400, 2));
        while (!init.Done)
            init.Step();
        Assert.Empty(domain.Queues[2].PendingPfns());
        Assert.Equal([400UL], domain.Queues[0].PendingPfns());
        Assert.Equal((1L, 16L, 2L), (init.EntriesLost, init.PagesLost, init.TablePagesLost));
    }

    [Fact]
    public void A_domain_already_lazy_is_left_alone()
    {
        var domain = new GuestDomain("dom", 1, 2, 8) { Lazy = true };
        Assert.True(domain.Queues[0].TryEnqueue(7, 1, [], null, []));
        var init = new FlushQueueInit(domain, publishEarly: true);
        Assert.True(init.Done);
        Assert.Empty(init.Plan);
        Assert.Throws<InvalidOperationException>(() => init.Step());
        Assert.Equal([7UL], domain.Queues[0].PendingPfns());
    }

    [Fact]
    public void Setting_up_the_timer_clears_fq_timer_on()
    {
        var domain = Strict(1);
        var init = new FlushQueueInit(domain, publishEarly: true);
        init.Step();
        Assert.True(domain.Fq.TryArmTimer());
        while (!init.Done)
            init.Step();
        Assert.True(domain.Fq.TryArmTimer());
    }

    [Fact]
    public void Published_first_a_flush_that_straddles_the_counter_reset_lets_entries_go_a_flush_early()
    {
        var domain = Strict(2);
        var init = new FlushQueueInit(domain, publishEarly: true);
        init.Step(); // fq_domain published
        // Another CPU's fq_flush_iotlb: start++ ... (the counters are reset here) ... finish++.
        domain.Fq.FlushStarting();
        Assert.Equal((FlushQueueInitStep.ResetCounters, -1), init.Step());
        domain.Fq.FlushFinished();
        while (!init.Done)
            init.Step();
        Assert.Equal((0L, 1L), (domain.Fq.StartCount, domain.Fq.FinishCount));
        // An unmap now queues with counter = start = 0 < finish: the next reap releases it with no flush at all.
        Assert.True(Unmap(domain, 1, 900, 1));
        var released = new List<FlushQueueEntry>();
        domain.Queues[1].Reap(released);
        Assert.Equal([900UL], released.Select(e => e.IovaPfn));
    }

    [Fact]
    public void Published_last_no_flush_can_run_before_the_counters_are_reset()
    {
        var domain = Strict(2);
        var init = new FlushQueueInit(domain, publishEarly: false);
        while (!init.Done)
        {
            // Nothing is queued while fq_domain is NULL, so no fq_flush_iotlb can be in flight across the reset.
            Assert.False(Unmap(domain, 0, 1, 1));
            init.Step();
        }
        Assert.True(Unmap(domain, 1, 900, 1));
        var released = new List<FlushQueueEntry>();
        domain.Queues[1].Reap(released);
        Assert.Empty(released);
    }
}
