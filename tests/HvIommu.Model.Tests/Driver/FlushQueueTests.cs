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
        var queue = new FlushQueue(_domain, 2);
        Assert.True(Enqueue(queue, 1));
        Assert.True(Enqueue(queue, 2));
        Assert.False(Enqueue(queue, 3));
        Assert.Equal(2, queue.Count);

        Flush(_domain);
        var released = new List<FlushQueueEntry>();
        Assert.True(Enqueue(queue, 3, released));

        Assert.Equal([1UL, 2UL], released.Select(e => e.IovaPfn));
        Assert.Equal(1, queue.Count);
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
