using CsCheck;
using HvIommu.Model.Caches;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Caches;

/// <summary>
/// The per-domain chains behind InvalidateDomain: after any mix of fills (with evictions), page
/// invalidations and domain invalidations, invalidating a domain removes exactly that domain's entries — also when
/// domains share a shard's domain bit (1, 65 and 129 do), which lets an invalidation skip a shard without its lock.
/// </summary>
[Trait("Category", "Model")]
public sealed class DomainIndexTests
{
    private static readonly uint[] Domains = [1, 2, 65, 129];

    [Fact]
    public void Domain_invalidation_removes_exactly_that_domains_entries_after_any_history()
    {
        Gen.Select(Gen.Int[1, 64], Gen.Select(Gen.Int[0, 3], Gen.Int[0, 3], Gen.ULong[0, 200]).Array[1, 400])
            .Sample((capacity, ops) =>
            {
                var iotlb = new Iotlb(capacity, new SeededRandom(9));
                foreach (var (op, which, page) in ops)
                {
                    var domain = Domains[which];
                    switch (op)
                    {
                        case 0 or 1:
                            iotlb.Fill(domain, page << 12, new IotlbEntry(page << 12, page << 12, PageSize.Size4K, true, 1));
                            break;
                        case 2:
                            iotlb.InvalidatePages(domain, [new HvIommu.Model.Hypercalls.FlushVa(page, 0)]);
                            break;
                        default:
                            iotlb.InvalidateDomain(domain);
                            Assert.All(Enumerable.Range(0, 201), p => Assert.False(iotlb.TryLookup(domain, (ulong)p << 12, out _)));
                            break;
                    }
                }
                var before = Domains.ToDictionary(d => d, d => Enumerable.Range(0, 201).Count(p => iotlb.TryLookup(d, (ulong)p << 12, out _)));
                Assert.Equal(before[65], iotlb.InvalidateDomain(65));
                Assert.Equal(before.Values.Sum() - before[65], iotlb.Count);
                foreach (var d in new uint[] { 1, 2, 129 })
                    Assert.Equal(before[d], Enumerable.Range(0, 201).Count(p => iotlb.TryLookup(d, (ulong)p << 12, out _)));
            }, iter: 200);
    }
}
