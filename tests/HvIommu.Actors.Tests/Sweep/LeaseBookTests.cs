using HvIommu.Actors.Sweep;

namespace HvIommu.Actors.Tests.Sweep;

[Trait("Category", "Actors")]
public sealed class LeaseBookTests
{
    private static LeaseBook Book(int cells, long seeds) => new(cells, 10, seeds, null, () => TimeSpan.Zero);

    [Fact]
    public void Every_seed_of_every_cell_is_leased_once_in_order()
    {
        var book = Book(2, 25);
        var seen = new List<(int, ulong)>();
        while (book.Take("w", 7) is { } lease)
        {
            for (var s = lease.First; s < lease.End; s++)
                seen.Add((lease.Cell, s));
            Assert.True(book.Record(lease.Id, lease.First, lease.Count));
        }
        Assert.True(book.Done);
        Assert.Equal(Enumerable.Range(0, 2).SelectMany(c => Enumerable.Range(10, 25).Select(s => (c, (ulong)s))), seen);
    }

    [Fact]
    public void A_lost_holders_unfinished_seeds_go_to_the_next_taker_and_its_late_reports_are_refused()
    {
        var book = Book(1, 100);
        var dead = book.Take("dead", 40)!;
        var alive = book.Take("alive", 40)!;
        Assert.True(book.Record(dead.Id, dead.First, 15));
        Assert.Equal([(0, 25UL, 25L)], book.Revoke("dead"));
        Assert.False(book.Record(dead.Id, dead.First + 15, 5)); // the dead holder's late report
        var again = book.Take("alive", 100)!;
        Assert.Equal((25UL, 25L), (again.First, again.Count));
        Assert.True(book.Record(again.Id, again.First, again.Count));
        Assert.True(book.Record(alive.Id, alive.First, alive.Count));
        var rest = book.Take("alive", 100)!;
        Assert.Equal((90UL, 20L), (rest.First, rest.Count));
        Assert.True(book.Record(rest.Id, rest.First, rest.Count));
        Assert.True(book.Done);
    }

    [Fact]
    public void Reports_out_of_order_twice_or_past_the_lease_are_refused()
    {
        var book = Book(1, 10);
        var lease = book.Take("w", 10)!;
        Assert.False(book.Record(lease.Id, lease.First + 1, 2));
        Assert.True(book.Record(lease.Id, lease.First, 4));
        Assert.False(book.Record(lease.Id, lease.First, 4));
        Assert.False(book.Record(lease.Id, lease.First + 4, 7));
        Assert.True(book.Record(lease.Id, lease.First + 4, 6));
        Assert.False(book.Done && book.Outstanding > 0);
        Assert.True(book.Done);
    }

    [Fact]
    public void A_timed_cell_stays_open_until_its_time_is_up_then_the_next_cell_opens()
    {
        var now = TimeSpan.Zero;
        var book = new LeaseBook(2, 1, null, 5, () => now);
        var a = book.Take("w", 3)!;
        Assert.Equal((0, 1UL), (a.Cell, a.First));
        var b = book.Take("w", 3)!;
        Assert.Equal((0, 4UL), (b.Cell, b.First));
        now = TimeSpan.FromSeconds(6);
        var c = book.Take("w", 3)!;
        Assert.Equal((1, 1UL), (c.Cell, c.First));
        Assert.Equal(7UL, book.OpenEnd(0));
        foreach (var l in new[] { a, b, c })
            book.Record(l.Id, l.First, l.Count);
        Assert.False(book.Done);
        now = TimeSpan.FromSeconds(12);
        Assert.True(book.Done);
    }
}
