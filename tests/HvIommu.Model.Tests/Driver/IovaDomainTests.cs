using CsCheck;
using HvIommu.Model.Driver;

namespace HvIommu.Model.Tests.Driver;

/// <summary>
/// The IOVA allocator against drivers/iommu/iova.c: the tree walk of __alloc_and_insert_iova_range (top-down from the
/// cached node, size alignment, the retry above the cached node, max32_alloc_size), alloc_iova_fast's rounding and
/// rcache flush, free_iova_fast's size classes, __iova_rcache_insert/__iova_rcache_get's per-CPU magazines and depot,
/// iova_magazine_pop's limit, iova_depot_work_func's trim, and dma-iommu.c iommu_dma_alloc_iova's 32-bit-first rule.
/// </summary>
[Trait("Category", "Model")]
public sealed class IovaDomainTests
{
    private const ulong Limit32 = 0xF_FFFF; // DMA_BIT_MASK(32) >> 12: the last 32-bit PFN

    [Fact]
    public void Init_iova_domain_holds_only_the_anchor_and_both_cached_nodes_point_at_it()
    {
        var d = new IovaDomain(cpus: 2);

        Assert.Equal(0, d.TreeNodes);
        var (cached32, cached) = d.CachedNodes();
        Assert.Equal(IovaDomain.Anchor, cached32.PfnLo);
        Assert.Same(cached32, cached);
        Assert.Equal(1UL << 20, d.Dma32BitPfn);
        Assert.Equal(d.Dma32BitPfn, d.Max32AllocSize);
    }

    [Fact]
    public void Alloc_iova_walks_top_down_below_the_limit()
    {
        var d = new IovaDomain(cpus: 1);

        var got = Enumerable.Range(0, 3).Select(_ => d.AllocIova(1, Limit32, sizeAligned: true)!.PfnLo).ToArray();

        Assert.Equal([0xF_FFFFUL, 0xF_FFFEUL, 0xF_FFFDUL], got);
        Assert.Equal(0xF_FFFDUL, d.CachedNodes().Cached32.PfnLo); // __cached_rbnode_insert_update
    }

    [Theory]
    [InlineData(3UL, 4UL, 0xF_FFF8UL)]   // rounded to 4 by alloc_iova_fast, 4-aligned below the page at 0xFFFFF
    [InlineData(31UL, 32UL, 0xF_FFC0UL)] // below 32 pages: rounded up to 32
    [InlineData(32UL, 32UL, 0xF_FFC0UL)]
    [InlineData(33UL, 33UL, 0xF_FFC0UL)] // 32 pages and more are not rounded, but aligned to 64 (fls_long(32) = 6)
    [InlineData(512UL, 512UL, 0xF_FC00UL)]
    public void Alloc_iova_fast_rounds_below_32_pages_and_aligns_to_the_next_power_of_two(ulong pages, ulong rangePages, ulong pfn)
    {
        var d = new IovaDomain(cpus: 1);
        Assert.Equal(0xF_FFFFUL, d.AllocIovaFast(1, Limit32, flushRcache: true, cpu: 0, nowNs: 0));

        var got = d.AllocIovaFast(pages, Limit32, flushRcache: true, cpu: 0, nowNs: 0);

        Assert.Equal(pfn, got);
        Assert.Equal(rangePages, d.FindIova(got)!.Pages);
    }

    /// <summary>A limit below the cached node moves cached32_node down; the next walk with the full 32-bit limit starts
    /// there and keeps going down, and only when it falls below start_pfn does it retry between the cached node and the
    /// limit (iova_find_limit).</summary>
    [Fact]
    public void Walk_starts_at_the_cached_node_and_retries_above_it_only_when_the_bottom_is_full()
    {
        var d = new IovaDomain(cpus: 1);
        Assert.Equal(15UL, d.AllocIova(1, 15, true)!.PfnLo);
        Assert.Equal(4UL, d.AllocIova(1, 4, true)!.PfnLo);

        var below = Enumerable.Range(0, 3).Select(_ => d.AllocIova(1, 15, true)!.PfnLo).ToArray();
        var retried = d.AllocIova(1, 15, true)!.PfnLo;

        Assert.Equal([3UL, 2UL, 1UL], below);  // 14..5 are free, but the walk goes down from pfn 4
        Assert.Equal(14UL, retried);
    }

    [Fact]
    public void A_failed_walk_below_4GiB_records_max32_alloc_size_and_a_free_below_4GiB_resets_it()
    {
        var d = new IovaDomain(cpus: 1);
        var all = d.AllocIova(Limit32, Limit32, sizeAligned: false)!; // pfns 1..0xFFFFF: the whole 32-bit space

        Assert.Null(d.AllocIova(2, Limit32, true));
        Assert.Equal(2UL, d.Max32AllocSize);
        Assert.Null(d.AllocIova(8, Limit32, true)); // refused without a walk: size >= max32_alloc_size
        Assert.True(d.FreeIova(all.PfnLo + 5));
        Assert.Equal(d.Dma32BitPfn, d.Max32AllocSize);
        Assert.Equal(0xF_FFFEUL, d.AllocIova(2, Limit32, true)!.PfnLo);
    }

    [Fact]
    public void Free_iova_fast_parks_a_range_in_the_freeing_cpus_magazine_and_that_cpu_gets_it_back()
    {
        var d = new IovaDomain(cpus: 2);
        var a = d.AllocIovaFast(1, Limit32, true, cpu: 0, nowNs: 0);
        d.FreeIovaFast(a, 1, cpu: 0, nowNs: 0);

        var other = d.AllocIovaFast(1, Limit32, true, cpu: 1, nowNs: 0);
        var same = d.AllocIovaFast(1, Limit32, true, cpu: 0, nowNs: 0);

        Assert.NotEqual(a, other);        // CPU 1's magazines are empty: fresh range from the tree
        Assert.Equal(a, same);            // CPU 0's loaded magazine
        Assert.NotNull(d.FindIova(a));    // a cached range stays in the tree all along
        Assert.Equal(new IovaCacheStats(CacheHits: 1, TreeAllocations: 2, CacheFlushes: 0, DepotTrims: 0), d.Stats);
    }

    [Fact]
    public void Size_classes_follow_order_base_2_of_the_unrounded_size_and_ranges_above_32_pages_go_back_to_the_tree()
    {
        var d = new IovaDomain(cpus: 1);
        var three = d.AllocIovaFast(3, Limit32, true, 0, 0);   // a 4-page range
        var big = d.AllocIovaFast(33, Limit32, true, 0, 0);
        d.FreeIovaFast(three, 3, 0, 0);                         // order_base_2(3) = 2: the 4-page class
        d.FreeIovaFast(big, 33, 0, 0);                          // order 6: not cached

        Assert.Null(d.FindIova(big));
        Assert.Equal((1, 0), d.CpuMagazines(2, 0));
        Assert.Equal(three, d.AllocIovaFast(4, Limit32, true, 0, 0));
    }

    [Fact]
    public void Magazine_pop_takes_the_last_pfn_at_or_below_the_limit_and_swaps_the_top_into_its_place()
    {
        var d = new IovaDomain(cpus: 1);
        var pfns = Enumerable.Range(0, 3).Select(_ => d.AllocIovaFast(1, Limit32, true, 0, 0)).ToArray(); // FFFFF, FFFFE, FFFFD
        foreach (var p in new[] { pfns[2], pfns[0], pfns[1] })
            d.FreeIovaFast(p, 1, 0, 0);                                         // magazine: FFFFD, FFFFF, FFFFE

        // limit 0xFFFFD + 1 - 1 = 0xFFFFD: only the bottom entry fits; the top (FFFFE) moves into its slot.
        Assert.Equal(pfns[2], d.AllocIovaFast(1, pfns[2], true, 0, 0));
        Assert.Equal(pfns[0], d.AllocIovaFast(1, Limit32, true, 0, 0));        // magazine FFFFE, FFFFF: the top first
        Assert.Equal(pfns[1], d.AllocIovaFast(1, Limit32, true, 0, 0));
    }

    [Fact]
    public void Full_loaded_magazine_swaps_with_prev_then_goes_to_the_depot()
    {
        var d = new IovaDomain(cpus: 1);
        var pfns = AllocMany(d, 255);
        for (var i = 0; i < 254; i++)
            d.FreeIovaFast(pfns[i], 1, 0, 0);
        Assert.Equal((127, 127), d.CpuMagazines(0, 0));
        Assert.Equal(0, d.DepotSize(0));

        d.FreeIovaFast(pfns[254], 1, 0, 0);

        Assert.Equal((1, 127), d.CpuMagazines(0, 0));
        Assert.Equal(1, d.DepotSize(0));
        // Taking back: loaded (1), then prev swapped in (127), then the depot's magazine replaces the empty loaded one.
        var back = Enumerable.Range(0, 255).Select(_ => d.AllocIovaFast(1, Limit32, true, 0, 0)).ToHashSet();
        Assert.Equal(pfns.ToHashSet(), back);
        Assert.Equal(0, d.DepotSize(0));
        Assert.Equal(255, d.Stats.CacheHits);
    }

    [Fact]
    public void Cached_pfns_are_every_magazines_and_the_depots()
    {
        var d = new IovaDomain(cpus: 2);
        var pfns = AllocMany(d, 300);
        for (var i = 0; i < 290; i++)
            d.FreeIovaFast(pfns[i], 1, cpu: i % 2, nowNs: 0); // 145 per CPU: a full magazine swapped to prev and 18 in loaded
        d.FreeIovaFast(d.AllocIovaFast(64, Limit32, true, 0, 0), 64, 0, 0); // above 32 pages: back to the tree, not cached

        Assert.Equal(pfns.Take(290).ToHashSet(), d.CachedPfns());
        Assert.Equal(300, d.TreeNodes);
    }

    [Fact]
    public void Depot_work_trims_one_magazine_per_100ms_while_the_depot_holds_more_than_one_per_cpu()
    {
        var d = new IovaDomain(cpus: 1, hz: 250);
        var pfns = AllocMany(d, 127 * 4);
        for (var i = 0; i < pfns.Length; i++)
            d.FreeIovaFast(pfns[i], 1, 0, nowNs: 0);  // loaded full, prev full, two magazines in the depot
        Assert.Equal(2, d.DepotSize(0));
        var nodes = d.TreeNodes;

        d.RunDueWork(99_999_999);
        Assert.Equal(2, d.DepotSize(0));
        d.RunDueWork(100_000_000);                  // msecs_to_jiffies(100) = 25 ticks at 250 Hz
        Assert.Equal(1, d.DepotSize(0));
        Assert.Equal(nodes - 127, d.TreeNodes);    // its ranges went back to the tree
        d.RunDueWork(1_000_000_000);               // depot_size 1 is not above num_online_cpus(): no more trims
        Assert.Equal(1, d.DepotSize(0));
        Assert.Equal(1, d.Stats.DepotTrims);
    }

    [Fact]
    public void Alloc_iova_fast_flushes_every_cpus_cache_and_the_depot_when_the_tree_is_full()
    {
        var d = new IovaDomain(cpus: 2);
        var pfns = Enumerable.Range(0, 8).Select(i => d.AllocIovaFast(1, 8, true, i % 2, 0)).ToArray();
        Assert.Equal([8UL, 7, 6, 5, 4, 3, 2, 1], pfns);
        for (var i = 0; i < pfns.Length; i++)
            d.FreeIovaFast(pfns[i], 1, i % 2, 0);

        Assert.Equal(0UL, d.AllocIovaFast(2, 8, flushRcache: false, 0, 0));
        Assert.Equal(8, d.TreeNodes);
        var two = d.AllocIovaFast(2, 8, flushRcache: true, 0, 0);

        Assert.Equal(6UL, two); // [6, 7]: the highest 2-aligned pair ending at or below pfn 8
        Assert.Equal(1, d.TreeNodes);
        Assert.Equal(1, d.Stats.CacheFlushes);
        Assert.Equal((0, 0), d.CpuMagazines(0, 1));
    }

    [Fact]
    public void Dma_alloc_iova_tries_the_32bit_space_first_and_leaves_it_for_good_once_it_is_full()
    {
        var d = new IovaDomain(cpus: 1);
        var workaround = true;
        const ulong limit48 = (1UL << 48) - 1;
        Assert.Equal(0xFFFF_F000UL, d.DmaAllocIova(1, limit48, ref workaround, 0, 0));
        Assert.True(workaround);
        d.AllocIova(Limit32 - 1, Limit32, sizeAligned: false);    // the rest of the 32-bit space

        var high = d.DmaAllocIova(1, limit48, ref workaround, 0, 0);

        Assert.False(workaround);
        Assert.Equal(limit48 + 1 - 0x1000, high);
        d.DmaFreeIova(0xFFFF_F000UL, 1, 0, 0);
        // No longer tries below 4 GiB: a 2-aligned pair under the page just taken at the top.
        Assert.Equal(limit48 + 1 - 0x4000, d.DmaAllocIova(2, limit48, ref workaround, 0, 0));
    }

    [Fact]
    public void Arguments_outside_the_domain_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new IovaDomain(cpus: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IovaDomain(cpus: 1, startPfn: 0));
        var d = new IovaDomain(cpus: 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.AllocIovaFast(0, Limit32, true, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.AllocIovaFast(1, Limit32, true, 2, 0));
        Assert.False(d.FreeIova(0x1234));
    }

    /// <summary>Any mix of allocations and fast frees on several CPUs keeps the tree's ranges disjoint, size-aligned,
    /// inside [start_pfn, limit], and every live range in the tree; a live range is never handed out twice.</summary>
    [Fact]
    public void Live_ranges_never_overlap_and_stay_in_the_tree()
    {
        Gen.Select(Gen.Int[1, 70], Gen.Int[0, 2], Gen.Bool).Array[1, 150].Sample(ops =>
        {
            var d = new IovaDomain(cpus: 3);
            const ulong limit = (1UL << 14) - 1;
            var live = new List<(ulong Pfn, ulong Pages)>();
            var now = 0L;
            foreach (var (pages, cpu, free) in ops)
            {
                now += 7_000_000;
                if (free && live.Count > 0)
                {
                    var victim = live[pages % live.Count];
                    live.Remove(victim);
                    d.FreeIovaFast(victim.Pfn, victim.Pages, cpu, now);
                    continue;
                }
                var pfn = d.AllocIovaFast((ulong)pages, limit, true, cpu, now);
                if (pfn == 0)
                    continue;
                var range = d.FindIova(pfn)!;
                Assert.Equal(pfn, range.PfnLo);
                Assert.True(range.Pages >= (ulong)pages);
                Assert.Equal(0UL, pfn % System.Numerics.BitOperations.RoundUpToPowerOf2(range.Pages));
                Assert.InRange(range.PfnHi, 1UL, limit);
                Assert.DoesNotContain(live, r => r.Pfn == pfn);
                live.Add((pfn, (ulong)pages));
            }
            var ranges = d.Ranges();
            for (var i = 1; i < ranges.Count; i++)
                Assert.True(ranges[i - 1].PfnHi < ranges[i].PfnLo);
            Assert.All(live, r => Assert.NotNull(d.FindIova(r.Pfn)));
        }, iter: 300);
    }

    private static ulong[] AllocMany(IovaDomain d, int count) =>
        Enumerable.Range(0, count).Select(_ => d.AllocIovaFast(1, Limit32, true, 0, 0)).ToArray();
}
