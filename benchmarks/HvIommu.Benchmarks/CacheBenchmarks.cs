using BenchmarkDotNet.Attributes;
using HvIommu.Model.Caches;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;

namespace HvIommu.Benchmarks;

/// <summary>IOTLB lookup cost on the DMA path (brief §4, §7): a hit, and a miss that probes all three page sizes.</summary>
[MemoryDiagnoser]
public class IotlbLookupBenchmarks
{
    private const int Pages = 1024;
    private readonly ulong[] _iovas = new ulong[Pages];
    private Iotlb _iotlb = null!;

    [GlobalSetup]
    public void Setup()
    {
        _iotlb = new Iotlb(4096, new SeededRandom(1).Derive("iotlb"));
        for (var i = 0; i < Pages; i++)
        {
            // Scattered pages so consecutive lookups hit different shards and buckets.
            var page = (ulong)i * 0x9E37 & 0xF_FFFF;
            _iovas[i] = page << 12;
            _iotlb.Fill(1, _iovas[i], new IotlbEntry(page << 12, page << 12, PageSize.Size4K, true, 0));
        }
    }

    [Benchmark(OperationsPerInvoke = Pages)]
    public int IotlbHit() => LookUpAll(domain: 1);

    /// <summary>Domain 2 holds nothing: each lookup probes the 4 KiB, 2 MiB and 1 GiB tags.</summary>
    [Benchmark(OperationsPerInvoke = Pages)]
    public int IotlbMiss() => LookUpAll(domain: 2);

    private int LookUpAll(uint domain)
    {
        var found = 0;
        foreach (var iova in _iovas)
            found += _iotlb.TryLookup(domain, iova, out _) ? 1 : 0;
        return found;
    }
}

/// <summary>Domain-selective invalidation (<c>HVCALL_FLUSH_DEVICE_DOMAIN</c>, brief §2.4) of N entries among 2N.</summary>
public class IotlbInvalidationBenchmarks
{
    private Iotlb _iotlb = null!;

    [Params(1024, 16384)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup() => _iotlb = new Iotlb(4 * Entries, new SeededRandom(1).Derive("iotlb"));

    // Refill before each iteration: the measured call empties the domain it flushes.
    [IterationSetup]
    public void Refill()
    {
        for (ulong page = 0; page < (ulong)Entries; page++)
        {
            var entry = new IotlbEntry(page << 12, page << 12, PageSize.Size4K, true, 0);
            _iotlb.Fill(1, page << 12, entry);
            _iotlb.Fill(2, page << 12, entry);
        }
    }

    [Benchmark]
    public int InvalidateDomain() => _iotlb.InvalidateDomain(1);
}
