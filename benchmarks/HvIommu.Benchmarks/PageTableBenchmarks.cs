using BenchmarkDotNet.Attributes;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Benchmarks;

/// <summary>Costs of the stage-1 table (brief §3.1) and of a cold nested walk (brief §4, §7).</summary>
[MemoryDiagnoser]
public class PageTableBenchmarks
{
    private const ulong Iova = 0x8000_2000;
    private GuestMemory _memory = null!;
    private Stage2 _stage2 = null!;
    private StageOnePageTable _table = null!;
    private readonly IotlbGather _gather = new();

    [GlobalSetup]
    public void Setup()
    {
        _memory = new GuestMemory(64UL << 20);
        _stage2 = new Stage2(64UL << 20);
        _table = new StageOnePageTable(_memory, new FrameAllocator(_memory, 32UL << 20, 4096), 4, 1, 48);
        // A neighbour keeps the PDPT, PD and PT in place, so the benchmark maps under existing tables.
        _table.Map(Iova - 0x1000, 0x5000, PageSize.Size4K, true);
    }

    /// <summary>Map one 4 KiB page under an existing table, then unmap it (leaf store, plain store, gather).</summary>
    [Benchmark]
    public ulong MapUnmap4K()
    {
        _table.Map(Iova, 0x6000, PageSize.Size4K, true);
        var bytes = _table.Unmap(Iova, 0x1000, _gather);
        _gather.Reset();
        return bytes;
    }

    /// <summary>A cold 4-level walk: 4 stage-1 reads and 5 stage-2 lookups, nothing cached.</summary>
    [Benchmark]
    public ulong ColdWalk4Level()
        => NestedWalker.Walk(_memory, _stage2, _table.RootGpa, 4, _table.MaxIova, Iova - 0x1000 + 0x10, AccessKind.Write).Hpa;
}
