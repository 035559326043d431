namespace HvIommu.Model.Driver;

/// <summary>One step of <see cref="FlushQueueInit"/>.</summary>
public enum FlushQueueInitStep
{
    /// <summary><c>atomic64_set</c> of fq_flush_start_cnt and fq_flush_finish_cnt to 0.</summary>
    ResetCounters,
    /// <summary>iommu_dma_init_one_fq for one CPU: head = tail = 0, every entry's freelist emptied.</summary>
    InitQueue,
    /// <summary><c>timer_setup(&amp;fq_timer, fq_flush_timeout)</c> and <c>fq_timer_on = 0</c>.</summary>
    SetupTimer,
    /// <summary><c>WRITE_ONCE(cookie-&gt;fq_domain, domain)</c>: from now on an unmap that reads it queues its IOVA.</summary>
    Publish,
}

/// <summary>
/// iommu_dma_init_fq (drivers/iommu/dma-iommu.c) run step by step on a live strict domain, as the sysfs write
/// <c>DMA-FQ</c> to <c>/sys/kernel/iommu_groups/N/type</c> does (drivers/iommu/iommu.c iommu_group_store_type: "We can
/// bring up a flush queue without tearing down the domain", then <c>default_domain-&gt;type = IOMMU_DOMAIN_DMA_FQ</c>)
/// while the device's driver keeps unmapping on other CPUs. The caller runs one <see cref="Step"/> per preemption point.
/// <para>
/// Linux's order: reset the flush counters, initialise every possible CPU's ring (iommu_dma_init_fq_percpu →
/// iommu_dma_init_one_fq), set up the timer, then <c>smp_wmb()</c> and publish <c>fq_domain</c> last ("Prevent incomplete
/// fq state being observable. Pairs with path from __iommu_dma_unmap() through iommu_dma_free_iova() to queue_iova()").
/// __iommu_dma_unmap reads <c>fq_domain</c> once (<c>gather.queued</c>), so an unmap sees either no queue (strict: sync,
/// then free_iova_fast) or a complete one.
/// </para>
/// <para>
/// With <c>publishEarly</c> (hazard H2, brief §6: "partially initialised FQ visible to unmap") <c>fq_domain</c> is
/// published first, as the pre-5.15 iommu_dma_init_domain did (<c>cookie-&gt;fq_domain = domain</c> before
/// init_iova_flush_queue) when it could only run before any DMA. An unmap in the window queues into a ring whose
/// iommu_dma_init_one_fq has not run yet; that step then sets head = tail = 0 and re-initialises every entry's
/// freelist, so the entry drops out: its IOVA is never freed while the domain lives and its table pages are never
/// released. And an fq_flush_iotlb an early unmap started (a full ring, or its timer) can straddle the counter reset:
/// its finish++ after the reset leaves fq_flush_finish_cnt one ahead of fq_flush_start_cnt for good, so every later
/// entry is reaped one flush early — the IOVA reused before the flush that covers it. (In Linux the unmap may instead oops: before <c>percpu_fq</c> is assigned the per-CPU pointer is NULL, and
/// list_splice of a non-empty freelist onto a zeroed list head dereferences NULL. The model keeps the rings' memory
/// valid and shows the loss.)
/// </para>
/// </summary>
public sealed class FlushQueueInit
{
    private readonly List<(FlushQueueInitStep Step, int Cpu)> _plan;
    private int _next;

    /// <param name="domain">A strict domain (fq_domain NULL); a domain already lazy gets an empty plan, as
    /// iommu_dma_init_fq returns 0 at once when fq_domain is set.</param>
    /// <param name="publishEarly">H2: publish fq_domain before the counters, rings and timer are initialised.</param>
    public FlushQueueInit(GuestDomain domain, bool publishEarly)
    {
        Domain = domain;
        List<(FlushQueueInitStep, int)> body = [(FlushQueueInitStep.ResetCounters, -1)];
        body.AddRange(Enumerable.Range(0, domain.Queues.Length).Select(cpu => (FlushQueueInitStep.InitQueue, cpu)));
        body.Add((FlushQueueInitStep.SetupTimer, -1));
        _plan = domain.Lazy ? [] : publishEarly ? [(FlushQueueInitStep.Publish, -1), .. body] : [.. body, (FlushQueueInitStep.Publish, -1)];
    }

    public GuestDomain Domain { get; }

    /// <summary>
    /// Time one <see cref="FlushQueueInitStep.InitQueue"/> step takes on the writing CPU, in ns: its share of
    /// __alloc_percpu (which may sleep to populate a chunk) plus iommu_dma_init_one_fq's 256 INIT_LIST_HEADs (8 KiB of
    /// stores). An estimate, like the latency settings; the other steps are a few stores each and take no modelled time.
    /// </summary>
    public const long RingInitNs = 2_000;

    /// <summary>The time the next step takes before its effect is visible, in ns (0 when done).</summary>
    public long NextStepNs => !Done && _plan[_next].Step == FlushQueueInitStep.InitQueue ? RingInitNs : 0;

    /// <summary>The steps in the order they run; <c>Cpu</c> is the ring's CPU for <see cref="FlushQueueInitStep.InitQueue"/>, else -1.</summary>
    public IReadOnlyList<(FlushQueueInitStep Step, int Cpu)> Plan => _plan;

    public bool Done => _next == _plan.Count;

    /// <summary>Queue entries an <see cref="FlushQueueInitStep.InitQueue"/> step wiped (only when published early).</summary>
    public long EntriesLost { get; private set; }

    /// <summary>IOVA pages those entries held.</summary>
    public long PagesLost { get; private set; }

    /// <summary>Table pages on the wiped entries' freelists: never released.</summary>
    public long TablePagesLost { get; private set; }

    /// <summary>Runs the next step.</summary>
    /// <exception cref="InvalidOperationException">Every step has run.</exception>
    public (FlushQueueInitStep Step, int Cpu) Step()
    {
        if (Done)
            throw new InvalidOperationException("iommu_dma_init_fq has already run every step");
        var (step, cpu) = _plan[_next++];
        switch (step)
        {
            case FlushQueueInitStep.ResetCounters:
                Domain.Fq.ResetCounters();
                break;
            case FlushQueueInitStep.InitQueue:
                var (entries, pages, tables) = Domain.Queues[cpu].Initialise();
                EntriesLost += entries;
                PagesLost += pages;
                TablePagesLost += tables;
                break;
            case FlushQueueInitStep.SetupTimer:
                Domain.Fq.SetupTimer();
                break;
            case FlushQueueInitStep.Publish:
                Domain.Lazy = true;
                break;
        }
        return (step, cpu);
    }
}
