using CsCheck;
using HvIommu.Model.Driver;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The guest's IOVA allocator (alloc_iova_fast shape, brief §5.2): power-of-two sizes, natural
/// alignment, top-down from 4 GiB, most-recently-freed reuse per size (what makes H2 bite).</summary>
[Trait("Category", "Model")]
public sealed class IovaAllocatorTests
{
    private const ulong FourGiB = 1UL << 32;

    [Theory]
    [InlineData(1, 0x1000UL)]
    [InlineData(2, 0x2000UL)]
    [InlineData(3, 0x4000UL)]
    [InlineData(512, 0x20_0000UL)]
    [InlineData(513, 0x40_0000UL)]
    public void Sizes_round_up_to_a_power_of_two_and_ranges_are_naturally_aligned(int pages, ulong rangeBytes)
    {
        var allocator = new IovaAllocator();
        Assert.True(allocator.TryAllocate(1, out _)); // knock the top off alignment for larger sizes

        Assert.True(allocator.TryAllocate(pages, out var iova));

        Assert.Equal(rangeBytes, IovaAllocator.RangeBytes(pages));
        Assert.Equal(0UL, iova % rangeBytes);
        Assert.True(iova + rangeBytes <= FourGiB - 0x1000);
    }

    [Fact]
    public void Allocation_grows_down_from_the_top_of_the_window()
    {
        var allocator = new IovaAllocator();
        var got = new List<ulong>();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(allocator.TryAllocate(1, out var iova));
            got.Add(iova);
        }
        Assert.True(allocator.TryAllocate(512, out var large));

        Assert.Equal([FourGiB - 0x1000, FourGiB - 0x2000, FourGiB - 0x3000], got);
        Assert.Equal(FourGiB - 0x40_0000, large);
        Assert.Equal(4, allocator.Allocated);
    }

    [Fact]
    public void Freed_range_comes_back_first_for_the_same_size_most_recent_first()
    {
        var allocator = new IovaAllocator();
        Assert.True(allocator.TryAllocate(1, out var a));
        Assert.True(allocator.TryAllocate(1, out var b));
        Assert.True(allocator.TryAllocate(4, out var big));
        allocator.Free(a, 1);
        allocator.Free(b, 1);
        allocator.Free(big, 3);

        Assert.True(allocator.TryAllocate(1, out var first));
        Assert.True(allocator.TryAllocate(1, out var second));
        Assert.True(allocator.TryAllocate(1, out var fresh));
        Assert.True(allocator.TryAllocate(3, out var sameOrder));

        Assert.Equal((b, a, big), (first, second, sameOrder));
        Assert.NotEqual(big, fresh);
        Assert.True(fresh < big);
    }

    [Fact]
    public void Exhausted_window_refuses_and_freeing_makes_room_again()
    {
        var allocator = new IovaAllocator(limit: 0x5000, floor: 0x1000);
        for (var i = 0; i < 4; i++)
            Assert.True(allocator.TryAllocate(1, out _));

        Assert.False(allocator.TryAllocate(1, out var none));
        Assert.Equal(0UL, none);
        Assert.False(allocator.TryAllocate(8, out _));
        allocator.Free(0x3000, 1);
        Assert.True(allocator.TryAllocate(1, out var again));
        Assert.Equal(0x3000UL, again);
    }

    [Fact]
    public void Range_that_would_fall_below_the_floor_is_refused()
    {
        var allocator = new IovaAllocator(limit: 0x10_0000, floor: 0x1000);
        Assert.False(allocator.TryAllocate(256, out _)); // the only 1 MiB-aligned slot is at 0, below the floor
        Assert.True(allocator.TryAllocate(128, out var half));
        Assert.Equal(0x8_0000UL, half);
    }

    [Theory]
    [InlineData(0x1800UL, 1)]
    [InlineData(0x3000UL, 2)]
    [InlineData(0x1_0000UL, 32)]
    public void Misaligned_free_throws(ulong iova, int pages)
    {
        var allocator = new IovaAllocator();
        Assert.Throws<ArgumentException>(() => allocator.Free(iova, pages));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData((1 << 30) + 1)]
    [InlineData(int.MaxValue)]
    public void Sizes_outside_one_to_two_to_the_thirty_pages_are_refused(int pages)
    {
        var allocator = new IovaAllocator(limit: 1UL << 50);
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.TryAllocate(pages, out _));
    }

    [Fact]
    public void Largest_range_is_two_to_the_thirty_pages()
    {
        var allocator = new IovaAllocator(limit: 1UL << 50);
        Assert.True(allocator.TryAllocate(1 << 30, out var iova));
        Assert.Equal((1UL << 50) - (1UL << 42), iova);
    }

    [Fact]
    public void Empty_window_is_refused_at_construction()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new IovaAllocator(limit: 0x1000, floor: 0x1000));
    }

    /// <summary>Any sequence of allocations and frees keeps live ranges aligned, inside the window and disjoint.</summary>
    [Fact]
    public void Live_ranges_never_overlap()
    {
        Gen.Select(Gen.Int[1, 40], Gen.Bool).Array[1, 80].Sample(ops =>
        {
            var allocator = new IovaAllocator(limit: 1UL << 24);
            var live = new List<(ulong Iova, int Pages)>();
            foreach (var (pages, free) in ops)
            {
                if (free && live.Count > 0)
                {
                    var victim = live[pages % live.Count];
                    live.Remove(victim);
                    allocator.Free(victim.Iova, victim.Pages);
                    continue;
                }
                if (!allocator.TryAllocate(pages, out var iova))
                    continue;
                var bytes = IovaAllocator.RangeBytes(pages);
                Assert.Equal(0UL, iova % bytes);
                Assert.InRange(iova, 0x1000UL, (1UL << 24) - bytes);
                Assert.DoesNotContain(live, r => iova < r.Iova + IovaAllocator.RangeBytes(r.Pages) && r.Iova < iova + bytes);
                live.Add((iova, pages));
            }
            Assert.Equal(live.Count, allocator.Allocated);
        }, iter: 200);
    }
}
