using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The guest DMA API's unmap and map-finish orderings and its flush decisions (brief §5.2, §5.3; H1, H2, H7,
/// H8, H19), as typed plans, without an actor system.</summary>
[Trait("Category", "Model")]
public sealed class DmaApiTests
{
    private static readonly HvInputDeviceDomain Domain = HvInputDeviceDomain.Self(DeviceDomainId.S1(5));
    private const ulong IovaLast = (1UL << 48) - 1;

    [Fact]
    public void Strict_unmap_flushes_then_frees_tables_then_the_iova_then_the_buffer() =>
        Same([DmaStep.Sync, DmaStep.FreeTables, DmaStep.FreeIova, DmaStep.FreeBuffer], DmaApi.UnmapPlan(lazy: false, DriverHazards.None));

    [Fact]
    public void H1_frees_the_table_pages_before_the_flush() =>
        Same([DmaStep.FreeTables, DmaStep.Sync, DmaStep.FreeIova, DmaStep.FreeBuffer],
            DmaApi.UnmapPlan(lazy: false, DriverHazards.None with { FreeTablesBeforeFlush = true }));

    [Fact]
    public void H2_frees_the_iova_and_the_buffer_before_the_flush()
    {
        Same([DmaStep.FreeIova, DmaStep.FreeBuffer, DmaStep.Sync, DmaStep.FreeTables],
            DmaApi.UnmapPlan(lazy: false, DriverHazards.None with { FreeIovaBeforeFlush = true }));
        Same([DmaStep.FreeIova, DmaStep.FreeBuffer, DmaStep.FreeTables, DmaStep.Sync],
            DmaApi.UnmapPlan(lazy: false, DriverHazards.None with { FreeIovaBeforeFlush = true, FreeTablesBeforeFlush = true }));
    }

    [Fact]
    public void Every_strict_plan_frees_each_thing_once_and_flushes_once()
    {
        foreach (var tables in new[] { false, true })
        foreach (var iova in new[] { false, true })
        {
            var plan = DmaApi.UnmapPlan(lazy: false, DriverHazards.None with { FreeTablesBeforeFlush = tables, FreeIovaBeforeFlush = iova });
            Same([DmaStep.FreeIova, DmaStep.FreeTables, DmaStep.FreeBuffer, DmaStep.Sync], plan.Sort());
            // The buffer goes back only after the IOVA: dma_unmap returns before its caller frees the buffer.
            Assert.True(plan.IndexOf(DmaStep.FreeIova) < plan.IndexOf(DmaStep.FreeBuffer));
            Assert.Equal(tables, plan.IndexOf(DmaStep.FreeTables) < plan.IndexOf(DmaStep.Sync));
            Assert.Equal(iova, plan.IndexOf(DmaStep.FreeIova) < plan.IndexOf(DmaStep.Sync));
        }
    }

    [Fact]
    public void Lazy_unmap_returns_the_buffer_at_once_and_queues_the_iova_and_tables_whatever_the_strict_hazards()
    {
        Same([DmaStep.FreeBuffer, DmaStep.Enqueue], DmaApi.UnmapPlan(lazy: true, DriverHazards.None));
        Same([DmaStep.FreeBuffer, DmaStep.Enqueue],
            DmaApi.UnmapPlan(lazy: true, DriverHazards.None with { FreeIovaBeforeFlush = true, FreeTablesBeforeFlush = true }));
    }

    [Fact]
    public void A_map_that_replaced_a_table_flushes_before_freeing_it_unless_H19_skips_the_flush()
    {
        Assert.Empty(DmaApi.MapFinishPlan(replacedTables: false, DriverHazards.None));
        Assert.Empty(DmaApi.MapFinishPlan(replacedTables: false, DriverHazards.None with { SkipMapFlush = true }));
        Same([DmaStep.Sync, DmaStep.FreeTables], DmaApi.MapFinishPlan(replacedTables: true, DriverHazards.None));
        Same([DmaStep.FreeTables], DmaApi.MapFinishPlan(replacedTables: true, DriverHazards.None with { SkipMapFlush = true }));
    }

    [Fact]
    public void Sync_is_a_domain_flush_unless_the_driver_uses_list_flushes()
    {
        var domainFlush = Assert.IsType<FlushDeviceDomainInput>(DmaApi.SyncInput(Driver(FlushKind.Domain, FlushRangeMode.Exact), Domain, 0x40_0000, 0x40_1fff, IovaLast));
        Assert.Equal(Domain, domainFlush.Domain);
    }

    [Fact]
    public void H7_the_list_flush_carries_the_block_of_the_range_mode_in_iommu_format()
    {
        var exact = Assert.IsType<FlushDeviceDomainListInput>(DmaApi.SyncInput(Driver(FlushKind.List, FlushRangeMode.Exact), Domain, 0x40_0000, 0x40_1fff, IovaLast));
        Assert.Equal(FlushRange.Blocks(FlushRangeMode.Exact, 0x40_0000, 0x40_1fff, IovaLast)!.Value.ToArray(), exact.IovaList.ToArray());
        Assert.Equal(FlushDeviceDomainListFlags.IommuFormat, exact.Flags);
        var shortOne = Assert.IsType<FlushDeviceDomainListInput>(DmaApi.SyncInput(Driver(FlushKind.List, FlushRangeMode.OffByOne), Domain, 0x40_0000, 0x40_1fff, IovaLast));
        Assert.NotEqual(exact.IovaList.ToArray(), shortOne.IovaList.ToArray());
    }

    [Fact]
    public void An_empty_gather_falls_back_to_the_domain_flush_even_with_list_flushes() =>
        // IotlbGather's empty state: start = ULONG_MAX, end = 0.
        Assert.IsType<FlushDeviceDomainInput>(DmaApi.SyncInput(Driver(FlushKind.List, FlushRangeMode.Exact), Domain, ulong.MaxValue, 0, IovaLast));

    [Fact]
    public void H8_a_failed_flush_is_only_logged_by_the_rfc_and_retried_as_a_domain_flush_later()
    {
        Assert.Equal(FlushFailureAction.Log, DmaApi.OnFlushFailed(FlushFailurePolicy.Log));
        Assert.Equal(FlushFailureAction.FallBackToDomainFlush, DmaApi.OnFlushFailed(FlushFailurePolicy.Fallback));
    }

    private static DriverSettings Driver(FlushKind flush, FlushRangeMode range) =>
        new(DmaMode.Strict, TableDepthRule.TopLevel, flush, 256, TimeSpan.FromMilliseconds(10), FlushFailurePolicy.Log, DriverHazards.None with { FlushRange = range });

    private static void Same(DmaStep[] expected, System.Collections.Immutable.ImmutableArray<DmaStep> actual) => Assert.Equal(expected, actual.ToArray());
}
