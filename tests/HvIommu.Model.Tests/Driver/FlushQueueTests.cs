using CsCheck;
using HvIommu.Model.Driver;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The dma-iommu flush queue (brief §5.3): start/finish counters, FIFO reaping, a bounded ring,
/// the shared timer flag, and the H2 knob that breaks the counter rule.</summary>
[Trait("Category", "Model")]
public sealed class FlushQueueTests
{
    private readonly FlushQueueDomain _domain = new();

    private static void Flush(FlushQueueDomain domain)
    {
        domain.FlushStarting();
        domain.FlushFinished();
    }

    private static bool Enqueue(FlushQueue queue, ulong pfn, List<FlushQueueEntry>? released = null) =>
        queue.TryEnqueue(pfn, 1, [], payload: pfn, released ?? []);

    private static List<FlushQueueEntry> Reap(FlushQueue queue)
    {
        var released = new List<FlushQueueEntry>();
        queue.Reap(released);
        return released;
    }

    [Fact]
    public void Entry_is_released_only_after_a_flush_that_started_after_it_completes()
    {
        var queue = new FlushQueue(_domain, 8);
        Assert.True(Enqueue(queue, 1));
        Assert.Empty(Reap(queue));

        Flush(_domain);

        var entry = Assert.Single(Reap(queue));
        Assert.Equal((1UL, 0L, (object?)1UL), (entry.IovaPfn, entry.Counter, entry.Payload));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Entry_queued_while_a_flush_is_in_flight_waits_for_the_next_flush()
    {
        var queue = new FlushQueue(_domain, 8);
        _domain.FlushStarting();
        Assert.True(Enqueue(queue, 1));
        _domain.FlushFinished();

        Assert.Empty(Reap(queue));
        Flush(_domain);
        Assert.Equal(1L, Assert.Single(Reap(queue)).Counter);
    }

    [Fact]
    public void Reaping_is_fifo_and_stops_at_the_first_entry_not_yet_covered()
    {
        var queue = new FlushQueue(_domain, 8);
        Assert.True(Enqueue(queue, 1));
        Assert.True(Enqueue(queue, 2));
        _domain.FlushStarting();
        Assert.True(Enqueue(queue, 3));
        _domain.FlushFinished();

        Assert.Equal([1UL, 2UL], Reap(queue).Select(e => e.IovaPfn));
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void Full_queue_refuses_until_a_flush_lets_the_enqueue_reap()
    {
        var queue = new FlushQueue(_domain, 4);
        Assert.True(Enqueue(queue, 1));
        Assert.True(Enqueue(queue, 2));
        Assert.True(Enqueue(queue, 3));
        Assert.False(Enqueue(queue, 4));
        Assert.Equal(3, queue.Count);

        Flush(_domain);
        var released = new List<FlushQueueEntry>();
        Assert.True(Enqueue(queue, 4, released));

        Assert.Equal([1UL, 2UL, 3UL], released.Select(e => e.IovaPfn));
        Assert.Equal(1, queue.Count);
    }

    /// <summary>dma-iommu.c fq_full: (tail + 1) &amp; mod_mask == head, so a 256-slot ring holds 255 entries.</summary>
    [Fact]
    public void Fq_full_keeps_one_slot_empty_so_256_slots_hold_255_entries()
    {
        var queue = new FlushQueue(_domain, 256);
        for (ulong pfn = 1; pfn <= 255; pfn++)
            Assert.True(Enqueue(queue, pfn));
        Assert.False(Enqueue(queue, 256));
        Assert.Equal((255, 255), (queue.Count, queue.UsableEntries));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    public void Ring_size_must_be_a_power_of_two_of_at_least_2(int size)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new FlushQueue(_domain, size));

    /// <summary>
    /// dma-iommu.c queue_iova: a full ring is flushed once (fq_flush_iotlb) and reaped, then fq_ring_add runs
    /// regardless. When another CPU's earlier flush is still in flight, our flush's finish does not pass the
    /// entries' counters, the ring stays full and the add wraps tail onto head: the ring reads as empty and
    /// every entry in it, the new one too, is lost (H18).
    /// </summary>
    [Fact]
    public void Linux_adds_after_one_inline_flush_and_a_still_full_ring_wraps_and_loses_its_entries()
    {
        var queue = new FlushQueue(_domain, 4);
        _domain.FlushStarting();                        // another CPU's flush, in flight
        for (ulong pfn = 1; pfn <= 3; pfn++)
            Assert.True(queue.TryEnqueue(pfn, 2, [0x1000 * pfn], payload: null, []));
        Assert.False(queue.TryEnqueue(4, 2, [0x4000UL], payload: null, []));
        Assert.Equal([1UL, 2, 3], queue.PendingPfns());
        _domain.FlushStarting();                        // our inline flush, which finishes first
        _domain.FlushFinished();
        var released = new List<FlushQueueEntry>();
        Assert.True(queue.AddAfterFlush(4, 2, [0x4000UL], payload: null, released, overrun: true));

        Assert.Empty(released);
        Assert.Equal(0, queue.Count);
        Assert.Empty(queue.PendingPfns());              // the lost IOVAs are held by nothing (LeakedIova at teardown)
        Assert.Equal((4L, 8L), (queue.OverrunEntriesLost, queue.OverrunPagesLost));
        // iommu_dma_free_fq only walks head..tail: the lost entries' table pages are not reached.
        Assert.Empty(queue.FreeAll());
    }

    [Fact]
    public void Without_the_overrun_the_still_full_ring_asks_for_another_flush()
    {
        var queue = new FlushQueue(_domain, 2);
        _domain.FlushStarting();
        Assert.True(Enqueue(queue, 1));
        Assert.False(Enqueue(queue, 2));
        _domain.FlushStarting();
        _domain.FlushFinished();
        Assert.False(queue.AddAfterFlush(2, 1, [], null, [], overrun: false));
        _domain.FlushFinished();                        // the other CPU's flush completes
        var released = new List<FlushQueueEntry>();
        Assert.True(queue.AddAfterFlush(2, 1, [], null, released, overrun: false));
        Assert.Equal([1UL], released.Select(e => e.IovaPfn));
        Assert.Equal(0L, queue.OverrunEntriesLost);
    }

    /// <summary>queue_iova splices the new entry's table pages onto its slot's list: pages an overrun stranded
    /// in a slot go out with the next entry that reuses it.</summary>
    [Fact]
    public void Pages_stranded_by_an_overrun_go_out_with_the_next_entry_in_their_slot()
    {
        var queue = new FlushQueue(_domain, 2);
        _domain.FlushStarting();
        Assert.True(queue.TryEnqueue(1, 1, [0xA000UL], null, []));     // slot 0
        _domain.FlushStarting();
        _domain.FlushFinished();
        Assert.True(queue.AddAfterFlush(2, 1, [0xB000UL], null, [], overrun: true)); // slot 1, ring wraps to empty
        Assert.True(queue.TryEnqueue(3, 1, [0xC000UL], null, []));     // slot 0 again
        Flush(_domain);
        Flush(_domain);
        var released = new List<FlushQueueEntry>();
        queue.Reap(released);
        Assert.Equal([0xA000UL, 0xC000UL], Assert.Single(released).FreeList);
    }

    /// <summary>iommu_dma_free_fq: the ring's entries' table pages are freed, with no flush, and the ring empties.</summary>
    [Fact]
    public void Free_all_returns_the_parked_table_pages_without_a_flush()
    {
        var queue = new FlushQueue(_domain, 8);
        Assert.True(queue.TryEnqueue(1, 512, [0x1000UL], null, []));
        Assert.True(queue.TryEnqueue(2, 1, [], null, []));
        Assert.Equal([0x1000UL], queue.FreeAll());
        Assert.Equal(0, queue.Count);
        Assert.Empty(queue.FreeAll());
    }

    [Fact]
    public void Broken_counter_rule_releases_an_entry_one_flush_early()
    {
        var correct = new FlushQueue(_domain, 8);
        var broken = new FlushQueue(_domain, 8, brokenCounterRule: true);
        _domain.FlushStarting();
        Assert.True(Enqueue(correct, 1));
        Assert.True(Enqueue(broken, 1));
        _domain.FlushFinished();

        // The only flush that finished began before the unmap was queued: releasing now is H2.
        Assert.Empty(Reap(correct));
        Assert.Single(Reap(broken));
        Assert.True(broken.BrokenCounterRule);
    }

    [Fact]
    public void Broken_counter_rule_releases_an_entry_queued_after_the_last_flush_with_no_flush_at_all()
    {
        var broken = new FlushQueue(_domain, 8, brokenCounterRule: true);
        Assert.True(Enqueue(broken, 1));
        Assert.Single(Reap(broken));
    }

    [Fact]
    public void Free_list_travels_with_its_entry()
    {
        var queue = new FlushQueue(_domain, 8);
        Assert.True(queue.TryEnqueue(5, 4, [0x1000UL, 0x2000UL], payload: null, []));
        Flush(_domain);
        var entry = Assert.Single(Reap(queue));
        Assert.Equal((5UL, 4), (entry.IovaPfn, entry.Pages));
        Assert.Equal([0x1000UL, 0x2000UL], entry.FreeList);
    }

    [Fact]
    public void Timer_is_armed_once_until_it_fires()
    {
        Assert.True(_domain.TryArmTimer());
        Assert.False(_domain.TryArmTimer());
        _domain.TimerFired();
        Assert.True(_domain.TryArmTimer());
        Assert.False(_domain.TryArmTimer());
    }

    [Fact]
    public void Counters_count_starts_and_finishes()
    {
        _domain.FlushStarting();
        _domain.FlushStarting();
        _domain.FlushFinished();
        Assert.Equal((2L, 1L), (_domain.StartCount, _domain.FinishCount));
    }

    /// <summary>
    /// Against any interleaving of enqueues, flush starts, flush finishes and reaps across two CPUs' queues:
    /// every released entry was covered by a flush that started after it was queued and has finished, and
    /// each queue releases in FIFO order.
    /// </summary>
    [Fact]
    public void Released_entries_were_always_covered_by_a_later_flush()
    {
        Gen.Int[0, 4].Array[1, 60].Sample(ops =>
        {
            var domain = new FlushQueueDomain();
            var queues = new[] { new FlushQueue(domain, 4), new FlushQueue(domain, 4) };
            var finishedStarts = new List<long>(); // the start number of each finished flush
            var inFlight = new Queue<long>();
            var queuedAt = new Dictionary<ulong, long>();
            var lastReleased = new ulong[2];
            ulong next = 0;
            var released = new List<FlushQueueEntry>();
            for (var i = 0; i < ops.Length; i++)
            {
                var cpu = i % 2;
                released.Clear();
                switch (ops[i])
                {
                    case 0 or 1:
                        var pfn = (++next << 1) + (cpu == 1 ? 1UL : 0UL);
                        if (queues[cpu].TryEnqueue(pfn, 1, [], null, released))
                            queuedAt[pfn] = domain.StartCount;
                        break;
                    case 2:
                        domain.FlushStarting();
                        inFlight.Enqueue(domain.StartCount);
                        break;
                    case 3 when inFlight.Count > 0:
                        finishedStarts.Add(inFlight.Dequeue());
                        domain.FlushFinished();
                        break;
                    default:
                        queues[cpu].Reap(released);
                        break;
                }
                foreach (var e in released)
                {
                    Assert.Contains(finishedStarts, s => s > queuedAt[e.IovaPfn]);
                    Assert.True(e.IovaPfn > lastReleased[cpu]);
                    lastReleased[cpu] = e.IovaPfn;
                }
            }
        }, iter: 300);
    }
}
