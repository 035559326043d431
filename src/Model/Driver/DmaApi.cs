using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Driver;

/// <summary>One step of the guest's dma_map or dma_unmap after its PTEs are written or cleared (brief §5.2, §5.3).</summary>
public enum DmaStep
{
    /// <summary>iommu_dma_free_iova → free_iova_fast: the IOVA range goes back to the domain's allocator.</summary>
    FreeIova,
    /// <summary>iommu_put_pages_list: the gather's freed table pages go back to the page allocator.</summary>
    FreeTables,
    /// <summary>dma_unmap returned: the caller's buffer goes back to its owner.</summary>
    FreeBuffer,
    /// <summary>iommu_iotlb_sync: the flush hypercall (<see cref="DmaApi.SyncInput"/>), waited for.</summary>
    Sync,
    /// <summary>queue_iova: the IOVA and the table pages wait in the per-CPU flush queue (lazy mode, §5.3).</summary>
    Enqueue,
}

/// <summary>What the driver does when a flush hypercall fails (H8, brief §1.10).</summary>
public enum FlushFailureAction
{
    /// <summary>Log the error and go on as if flushed (the RFC).</summary>
    Log,
    /// <summary>WARN and retry once with a full HVCALL_FLUSH_DEVICE_DOMAIN (later revisions).</summary>
    FallBackToDomainFlush,
}

/// <summary>
/// The guest DMA API's decisions as pure functions, so the vCPU actor only performs them: the order of the unmap's
/// frees around its flush (Linux drivers/iommu/dma-iommu.c <c>__iommu_dma_unmap</c> → <c>iommu_unmap_fast</c> →
/// <c>iommu_iotlb_sync</c> → <c>iommu_put_pages_list</c> → <c>iommu_dma_free_iova</c>; lazy: <c>queue_iova</c>), the
/// map path's flush of a replaced table (generic_pt <c>map_pages</c>, H19), which flush hypercall iotlb_sync issues
/// (domain or list, H7's range) and the reaction to a failed flush (H8). The driver hazards that move a free before
/// the flush (H1: tables, H2: IOVA and buffer) are applied here. Every plan is a cached array: nothing is allocated.
/// </summary>
public static class DmaApi
{
    private static readonly ImmutableArray<DmaStep>[] UnmapPlans = BuildUnmapPlans();
    private static readonly ImmutableArray<DmaStep> MapFlushThenFree = [DmaStep.Sync, DmaStep.FreeTables];
    private static readonly ImmutableArray<DmaStep> MapFreeUnflushed = [DmaStep.FreeTables];

    /// <summary>
    /// The steps of dma_unmap after the PTEs are cleared. Strict (§5.2 step 3): flush, then free the table pages,
    /// then the IOVA, then the caller frees its buffer; <see cref="DriverHazards.FreeTablesBeforeFlush"/> (H1) and
    /// <see cref="DriverHazards.FreeIovaBeforeFlush"/> (H2) move those frees before the flush. Lazy (§5.3, a domain
    /// whose flush queue is up): the buffer goes back at once, the IOVA and the tables wait in the flush queue,
    /// whatever the strict hazards say.
    /// </summary>
    /// <param name="lazy">The domain unmaps through its flush queue (DMA_FQ), not the configured mode: a failed
    /// flush-queue init leaves a lazy domain strict.</param>
    public static ImmutableArray<DmaStep> UnmapPlan(bool lazy, DriverHazards hazards) =>
        UnmapPlans[(lazy ? 4 : 0) | (hazards.FreeTablesBeforeFlush ? 2 : 0) | (hazards.FreeIovaBeforeFlush ? 1 : 0)];

    /// <summary>
    /// The end of iommu_map when a large leaf replaced an emptied table (clear_contig put it on the gather): flush,
    /// then free the table (generic_pt map_pages); <see cref="DriverHazards.SkipMapFlush"/> (H19) frees it with no
    /// flush. Empty when the map replaced no table.
    /// </summary>
    public static ImmutableArray<DmaStep> MapFinishPlan(bool replacedTables, DriverHazards hazards) =>
        !replacedTables ? [] : hazards.SkipMapFlush ? MapFreeUnflushed : MapFlushThenFree;

    /// <summary>
    /// iotlb_sync's hypercall for the gather [<paramref name="gatherStart"/>, <paramref name="gatherEnd"/>] (inclusive):
    /// the domain flush, or with <see cref="FlushKind.List"/> the list flush of the blocks <see cref="FlushRange"/>
    /// computes (exact, or wrong on purpose: H7), marked as IOMMU-format page numbers
    /// (HV_FLUSH_DEVICE_DOMAIN_LIST_IOMMU_FORMAT); a range that yields no block (an empty gather) falls back to the
    /// domain flush. <paramref name="iovaLast"/> is the last IOVA of the domain's space.
    /// </summary>
    public static IHypercallInput SyncInput(DriverSettings driver, HvInputDeviceDomain domain, ulong gatherStart, ulong gatherEnd, ulong iovaLast)
    {
        if (driver.Flush == FlushKind.List && FlushRange.Blocks(driver.Hazards.FlushRange, gatherStart, gatherEnd, iovaLast) is { } blocks)
            return new FlushDeviceDomainListInput(domain, FlushDeviceDomainListFlags.IommuFormat, blocks);
        return new FlushDeviceDomainInput(domain);
    }

    /// <summary>The driver's reaction to a failed flush (H8): <see cref="FlushFailurePolicy.Log"/> logs only,
    /// <see cref="FlushFailurePolicy.Fallback"/> retries once with a domain flush.</summary>
    public static FlushFailureAction OnFlushFailed(FlushFailurePolicy policy) =>
        policy == FlushFailurePolicy.Fallback ? FlushFailureAction.FallBackToDomainFlush : FlushFailureAction.Log;

    private static ImmutableArray<DmaStep>[] BuildUnmapPlans()
    {
        var plans = new ImmutableArray<DmaStep>[8];
        for (var key = 0; key < 8; key++)
        {
            bool lazy = (key & 4) != 0, tablesEarly = (key & 2) != 0, iovaEarly = (key & 1) != 0;
            if (lazy)
            {
                plans[key] = [DmaStep.FreeBuffer, DmaStep.Enqueue];
                continue;
            }
            var steps = ImmutableArray.CreateBuilder<DmaStep>(4);
            if (iovaEarly)
                steps.AddRange(DmaStep.FreeIova, DmaStep.FreeBuffer);
            if (tablesEarly)
                steps.Add(DmaStep.FreeTables);
            steps.Add(DmaStep.Sync);
            if (!tablesEarly)
                steps.Add(DmaStep.FreeTables);
            if (!iovaEarly)
                steps.AddRange(DmaStep.FreeIova, DmaStep.FreeBuffer);
            plans[key] = steps.MoveToImmutable();
        }
        return plans;
    }
}
