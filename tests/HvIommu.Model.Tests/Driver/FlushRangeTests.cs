using HvIommu.Model.Driver;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Tests.Driver;

/// <summary>The list-flush block per <see cref="FlushRangeMode"/> (hazard H7, brief §1.10, §2.2).</summary>
[Trait("Category", "Model")]
public sealed class FlushRangeTests
{
    private const ulong Aperture48 = (1UL << 48) - 1;
    private const ulong Aperture32 = (1UL << 32) - 1;
    private const ulong Page = 0x1000;

    private static bool Covers(IEnumerable<FlushVa> blocks, ulong start, ulong endInclusive) =>
        blocks.Any(b => b.StartIova <= start && endInclusive <= b.EndIovaInclusive);

    private static bool Touches(IEnumerable<FlushVa> blocks, ulong start, ulong endInclusive) =>
        blocks.Any(b => b.OverlapsPages(start >> 12, endInclusive >> 12));

    [Theory]
    [InlineData(0x1234_5000UL, 1)]
    [InlineData(0x1234_6000UL, 2)]
    [InlineData(0x1240_0000UL, 512)]
    [InlineData(0xFFFF_F000UL, 1)]
    public void Exact_covers_the_gather_with_one_valid_block(ulong start, int pages)
    {
        var end = start + (ulong)pages * Page - 1;
        var blocks = FlushRange.Blocks(FlushRangeMode.Exact, start, end, Aperture48)!.Value;

        var block = Assert.Single(blocks);
        Assert.True(block.IsValid(out _));
        Assert.True(Covers(blocks, start, end));
        Assert.Equal(FlushVa.FromRange(start, end), block);
    }

    [Theory]
    [InlineData(FlushRangeMode.Exact)]
    [InlineData(FlushRangeMode.Empty)]
    [InlineData(FlushRangeMode.OffByOne)]
    [InlineData(FlushRangeMode.Overflow)]
    public void An_empty_gather_falls_back_to_the_domain_flush(FlushRangeMode mode) =>
        Assert.Null(FlushRange.Blocks(mode, ulong.MaxValue, 0, Aperture48));

    [Fact]
    public void Empty_builds_the_top_page_of_the_64_bit_space_and_flushes_nothing_mapped()
    {
        var blocks = FlushRange.Blocks(FlushRangeMode.Empty, 0x1234_5000, 0x1234_5FFF, Aperture48)!.Value;

        var block = Assert.Single(blocks);
        Assert.True(block.IsValid(out _));
        Assert.Equal(new FlushVa((1UL << 52) - 1, 0), block);
        Assert.False(Touches(blocks, 0, Aperture48));
        Assert.Equal(block, FlushRange.FromSize(ulong.MaxValue, 0));
    }

    [Fact]
    public void Off_by_one_misses_the_second_page_of_a_two_page_unmap()
    {
        const ulong start = 0x1234_6000;
        var blocks = FlushRange.Blocks(FlushRangeMode.OffByOne, start, start + 2 * Page - 1, Aperture48)!.Value;

        Assert.True(Covers(blocks, start, start + Page - 1));
        Assert.False(Touches(blocks, start + Page, start + 2 * Page - 1));
    }

    [Fact]
    public void Off_by_one_is_hidden_by_the_power_of_two_block_for_four_pages()
    {
        const ulong start = 0x1234_4000;
        var blocks = FlushRange.Blocks(FlushRangeMode.OffByOne, start, start + 4 * Page - 1, Aperture48)!.Value;

        Assert.True(Covers(blocks, start, start + 4 * Page - 1));
    }

    [Fact]
    public void Off_by_one_on_a_single_page_looks_empty_and_falls_back_to_the_domain_flush() =>
        Assert.Null(FlushRange.Blocks(FlushRangeMode.OffByOne, 0x1234_5000, 0x1234_5FFF, Aperture48));

    [Fact]
    public void Overflow_flushes_nothing_for_an_unmap_ending_at_the_aperture_top()
    {
        var blocks = FlushRange.Blocks(FlushRangeMode.Overflow, 0xFFFF_F000, Aperture32, Aperture32)!.Value;

        Assert.Empty(blocks);
    }

    [Fact]
    public void Overflow_is_exact_below_the_aperture_top()
    {
        const ulong start = 0xFFFF_E000;
        var blocks = FlushRange.Blocks(FlushRangeMode.Overflow, start, start + Page - 1, Aperture32)!.Value;

        Assert.Equal(FlushVa.FromRange(start, start + Page - 1), Assert.Single(blocks));
    }
}
