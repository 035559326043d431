using HvIommu.Model.Caches;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

/// <summary>
/// Device actors look up and fill while the flush handler invalidates (stress mode). The checks are on what
/// must hold whatever the interleaving: no torn or foreign entries, the bound, and nothing left after a flush
/// once writers stop.
/// </summary>
[Trait("Category", "Model")]
public class ConcurrencyTests
{
    private const int Pages = 2048;
    private const int Rounds = 20_000;

    // Every entry is a function of (domain, page): a hit that is not is corrupt.
    private static IotlbEntry EntryFor(uint domain, ulong page) =>
        new((page << 12) + ((ulong)domain << 40), page << 12, PageSize.Size4K, (page & 1) == 0, domain);

    [Fact]
    public void Iotlb_survives_concurrent_fill_lookup_and_invalidation()
    {
        var iotlb = new Iotlb(1024, new SeededRandom(9).Derive("iotlb"));
        var corrupt = 0;
        Action Filler(uint domain, ulong seed) => () =>
        {
            var random = new SeededRandom(seed);
            for (var i = 0; i < Rounds; i++)
            {
                var page = (ulong)random.Next(Pages);
                iotlb.Fill(domain, page << 12, EntryFor(domain, page));
            }
        };
        Action Reader(ulong seed) => () =>
        {
            var random = new SeededRandom(seed);
            for (var i = 0; i < Rounds; i++)
            {
                var domain = (uint)random.Next(2) + 1;
                var page = (ulong)random.Next(Pages);
                if (iotlb.TryLookup(domain, page << 12, out var e) && e with { FillSerial = 0 } != EntryFor(domain, page))
                    Interlocked.Increment(ref corrupt);
            }
        };
        void Flusher()
        {
            var random = new SeededRandom(4);
            for (var i = 0; i < Rounds / 100; i++)
            {
                iotlb.InvalidateDomain(1);
                var block = (ulong)random.Next(Pages / 64) * 64;
                iotlb.InvalidatePages(2, [new FlushVa(block, 6)]);
            }
        }

        Concurrently.Run(Filler(1, 1), Filler(2, 2), Reader(3), Flusher);

        Assert.Equal(0, corrupt);
        Assert.True(iotlb.Count <= iotlb.Capacity);
        iotlb.InvalidateDomain(1);
        for (ulong page = 0; page < Pages; page++)
            Assert.False(iotlb.TryLookup(1, page << 12, out _));
        var stats = iotlb.Stats;
        Assert.Equal(2L * Rounds, stats.Fills);
        Assert.Equal(Rounds, stats.Hits + stats.Misses - Pages);
        Assert.True(iotlb.Count <= stats.Fills - stats.Evictions - stats.Invalidated); // equality but for refills of a live tag
    }

    [Fact]
    public void Walk_cache_survives_concurrent_fill_lookup_and_invalidation()
    {
        var walk = new PagingStructureCache(512, new SeededRandom(9).Derive("walk"));
        var corrupt = 0;
        Action Worker(uint domain) => () =>
        {
            for (var i = 0; i < Rounds; i++)
            {
                var iova = (ulong)(i % Pages) << 21;
                walk.Fill(domain, 1, iova, (ulong)(i % Pages) << 12);
                if (walk.TryLookupDeepest(domain, iova, 3, out var level, out var table) && (level != 1 || table != iova >> 9))
                    Interlocked.Increment(ref corrupt);
            }
        };
        void Flusher()
        {
            for (var i = 0; i < Rounds / 100; i++)
                walk.InvalidateDomain(1);
        }

        Concurrently.Run(Worker(1), Worker(2), Flusher);

        Assert.Equal(0, corrupt);
        walk.InvalidateDomain(1);
        for (ulong i = 0; i < Pages; i++)
            Assert.False(walk.TryLookupDeepest(1, i << 21, 3, out _, out _));
    }
}
