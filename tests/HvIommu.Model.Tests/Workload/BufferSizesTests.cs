using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;
using HvIommu.Model.Workload;

namespace HvIommu.Model.Tests.Workload;

/// <summary>The synthetic workload's buffer-size mix and its backing: sizes and ranges parsed in 4 KiB pages, draws inside
/// the range, buffers of 2 MiB and more split into hugetlb pages, and the pools' contiguous, aligned pages.</summary>
[Trait("Category", "Model")]
public sealed class BufferSizesTests
{
    [Theory]
    [InlineData("4K", 1, 1)]
    [InlineData("64K", 16, 16)]
    [InlineData("8K-60K", 2, 15)]
    [InlineData("2M", 512, 512)]
    [InlineData("3M", 768, 768)]
    [InlineData("1G", 1 << 18, 1 << 18)]
    [InlineData("8192", 2, 2)]
    public void Sizes_and_ranges_parse_to_pages(string text, int min, int max)
    {
        Assert.Equal(new BufferSizeRange(min, max), BufferSizeRange.Parse(text, out var error));
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("", "a size like")]
    [InlineData("2K", "multiples of 4K")]
    [InlineData("2G", "from 4K to 1G")]
    [InlineData("0", "multiples of 4K")]
    [InlineData("64K-8K", "upper end is not below its lower end")]
    [InlineData("4K-8K-16K", "a range of two sizes")]
    [InlineData("lots", "a size like")]
    public void Bad_sizes_say_what_is_allowed(string text, string allowed)
    {
        Assert.Null(BufferSizeRange.Parse(text, out var error));
        Assert.Contains(allowed, error);
    }

    [Fact]
    public void Draws_stay_in_the_range_and_reach_both_ends()
    {
        var random = new SeededRandom(7);
        var range = new BufferSizeRange(2, 5);
        var drawn = Enumerable.Range(0, 400).Select(_ => range.Pick(random)).ToHashSet();
        Assert.Equal([2, 3, 4, 5], drawn.Order());
        Assert.Equal("8K-20K", range.ToString());
    }

    [Theory]
    [InlineData(1, 0, 0, 1)]
    [InlineData(511, 0, 0, 511)]
    [InlineData(512, 0, 1, 0)]
    [InlineData(768, 0, 1, 256)]
    [InlineData((1 << 18) + 513, 1, 1, 1)]
    public void A_buffer_is_1G_pages_then_2M_pages_then_4K_frames(int pages, int oneG, int twoM, int small) =>
        Assert.Equal((oneG, twoM, small), BufferBacking.Split(pages));

    [Fact]
    public void Pools_hold_twice_what_the_outstanding_buffers_can_take()
    {
        Assert.Equal((0, 0), BufferBacking.Pools([], 8));
        Assert.Equal((16, 0), BufferBacking.Pools([new(1, 1), new(512, 512)], 8));
        Assert.Equal((4, 0), BufferBacking.Pools([new(1, 1), new(512, 1023)], 2));               // up to one 2M page each
        Assert.Equal((1022, 2), BufferBacking.Pools([new(1, 1), new(1024, (1 << 18) + 512)], 1)); // 1G - 4K takes 511 2M pages
        Assert.Equal(16, BufferBacking.MaxSmallFrames([new(1, 16), new(512, 512), new(1024, 1024)])); // 2M, 4M: whole 2M pages
        Assert.Equal(511, BufferBacking.MaxSmallFrames([new(512, 2048)]));                           // 2M..8M: 2M + 2044K too
        Assert.Equal(511, BufferBacking.MaxSmallFrames([new(1, 16), new(300, 600)]));  // 1.2M..2.4M: up to 511 small
        Assert.Equal(256, BufferBacking.MaxSmallFrames([new(768, 768)]));               // 3M: one 2M page and 1M of 4K
    }

    [Fact]
    public void Hugetlb_pages_are_contiguous_aligned_and_return_to_the_pool_when_their_last_frame_is_freed()
    {
        var memory = new GuestMemory(64UL << 20);
        var frames = new FrameAllocator(memory, 0x10_0000, ((64UL << 20) - 0x10_0000) >> 12, hugePages2M: 3);
        var smallBefore = frames.FreeCount - 3 * 512;

        Assert.True(frames.TryAllocateHuge(PageSize.Size2M.Bytes(), FrameOwner.DmaBuffer, 1, out var a));
        Assert.True(frames.TryAllocateHuge(PageSize.Size2M.Bytes(), FrameOwner.DmaBuffer, 1, out var b));
        Assert.Equal(0UL, a & ((1UL << 21) - 1));
        Assert.NotEqual(a, b);
        Assert.Equal(1, frames.HugePagesFree(PageSize.Size2M.Bytes()));
        var generation = frames.GenerationOf(a);
        Assert.All(Enumerable.Range(0, 512), i => Assert.Equal(new FrameInfo(FrameOwner.DmaBuffer, 1, generation), frames.GetInfo(a + ((ulong)i << 12))));

        for (var i = 0; i < 511; i++)
            frames.Free(a + ((ulong)i << 12));
        Assert.Equal(1, frames.HugePagesFree(PageSize.Size2M.Bytes())); // one frame still allocated
        frames.Free(a + (511UL << 12));
        Assert.Equal(2, frames.HugePagesFree(PageSize.Size2M.Bytes()));
        Assert.True(frames.TryAllocateHuge(PageSize.Size2M.Bytes(), FrameOwner.DmaBuffer, 2, out var again));
        Assert.Equal(a, again);                                  // most recently freed first
        Assert.True(frames.GenerationOf(a) > generation);        // the oracle can tell the reuse
        // The small frames never come from the pool.
        for (var i = 0; i < smallBefore; i++)
        {
            var f = frames.Allocate(FrameOwner.Kernel, 0);
            Assert.True(f < a && f < b);
        }
        Assert.False(frames.TryAllocate(FrameOwner.Kernel, 0, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => frames.TryAllocateHuge(PageSize.Size4K.Bytes(), FrameOwner.DmaBuffer, 0, out _));
    }

    [Fact]
    public void Pools_that_do_not_fit_are_refused()
    {
        var memory = new GuestMemory(8UL << 20);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FrameAllocator(memory, 0x10_0000, ((8UL << 20) - 0x10_0000) >> 12, hugePages2M: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FrameAllocator(memory, 0x10_0000, ((8UL << 20) - 0x10_0000) >> 12, hugePages1G: 1));
    }
}
