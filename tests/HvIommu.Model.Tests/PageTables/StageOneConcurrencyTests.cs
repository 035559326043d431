using HvIommu.Model.PageTables;

namespace HvIommu.Model.Tests.PageTables;

/// <summary>Concurrent table install (brief §3.1, hazard H6).</summary>
[Trait("Category", "Model")]
public sealed class StageOneConcurrencyTests
{
    private const int Workers = 4;
    private const int PagesPerWorker = 8;
    private const int Rounds = 300;

    [Fact]
    public void Threads_mapping_disjoint_pages_under_the_same_empty_slots_lose_nothing()
    {
        var guest = new TestGuest();
        var table = guest.NewTable();
        var statuses = new MapStatus[Rounds, Workers * PagesPerWorker];
        using var barrier = new Barrier(Workers);
        var threads = Enumerable.Range(0, Workers).Select(w => new Thread(() =>
        {
            for (var round = 0; round < Rounds; round++)
            {
                barrier.SignalAndWait();
                for (var j = 0; j < PagesPerWorker; j++)
                {
                    var page = w * PagesPerWorker + j;
                    statuses[round, page] = table.Map(Iova(round, page), (ulong)page << 12, PageSize.Size4K, true);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        for (var round = 0; round < Rounds; round++)
            for (var page = 0; page < Workers * PagesPerWorker; page++)
            {
                Assert.Equal(MapStatus.Mapped, statuses[round, page]);
                Assert.True(table.TryIovaToPhys(Iova(round, page), out var gpa, out _, out _), $"round {round} page {page} lost");
                Assert.Equal((ulong)page << 12, gpa);
            }
        // Losers freed their tables: every page-table frame is reachable.
        Assert.Equal(guest.ReachableTables(table).Count, guest.PageTableFrames);
    }

    /// <summary>Each round starts under a fresh PDPTE slot, so the PD and PT slots are empty and raced for.</summary>
    private static ulong Iova(int round, int page) => ((ulong)round << 30) + ((ulong)page << 12);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Interleaving_two_mappers_under_an_empty_slot_loses_a_mapping_only_with_the_racy_install(bool racy)
    {
        var guest = new TestGuest();
        var table = guest.NewTable(racyInstall: racy);
        var a = table.BeginMap(0x1000, 0xA000, PageSize.Size4K, true);
        var b = table.BeginMap(0x2000, 0xB000, PageSize.Size4K, true);
        // Lock-step: both read the empty PML4 slot before either installs (racy) or both CAS it (atomic).
        while (!(a.IsFinished && b.IsFinished))
        {
            a.Step();
            b.Step();
        }

        Assert.Equal((MapStatus.Mapped, MapStatus.Mapped), (a.Status, b.Status));
        Assert.True(table.TryIovaToPhys(0x2000, out _, out _, out _));
        Assert.Equal(!racy, table.TryIovaToPhys(0x1000, out _, out _, out _));
        // The racy loser's three tables are leaked: allocated, counted, unreachable.
        Assert.Equal(racy ? 3 : 0, table.TablePageCount - guest.ReachableTables(table).Count);
    }

    [Fact]
    public void Each_step_does_one_level()
    {
        var table = new TestGuest().NewTable();
        var map = table.BeginMap(0x1000, 0xA000, PageSize.Size4K, true);
        var steps = 0;
        while (!map.Step())
            steps++;
        Assert.Equal(3, steps);
    }
}
