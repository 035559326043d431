using CsCheck;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Tests.Hypercalls;

[Trait("Category", "Model")]
public class FlushVaTests
{
    [Fact]
    public void Encodes_shift_in_low_12_bits_and_page_number_above()
    {
        var va = new FlushVa(0x200, 9);
        Assert.Equal(0x200UL << 12 | 9, va.Encode());
        Assert.Equal(va, FlushVa.Decode(va.Encode()));
    }

    [Theory]
    [InlineData(0x201UL, 9)]
    [InlineData(0x1UL, 1)]
    [InlineData(0UL, 53)]
    [InlineData(0UL, -1)]
    [InlineData(1UL << 52, 0)]
    public void Malformed_entries_are_refused(ulong pageNumber, int shift)
    {
        var va = new FlushVa(pageNumber, shift);
        Assert.False(va.IsValid(out var reason));
        Assert.NotEmpty(reason);
        Assert.Throws<ArgumentException>(va.Validate);
    }

    [Fact]
    public void Single_page_range_is_one_page_block()
    {
        Assert.Equal(new FlushVa(0x12345, 0), FlushVa.FromRange(0x1234_5000, 0x1234_5FFF));
        Assert.Equal(new FlushVa(0x12345, 0), FlushVa.FromRange(0x1234_5010, 0x1234_5010));
    }

    [Fact]
    public void Range_straddling_a_boundary_over_flushes_to_the_common_block()
    {
        // Pages 0x1FF and 0x200 differ at bit 9: the smallest aligned block holding both is 0..0x3FF.
        Assert.Equal(new FlushVa(0, 10), FlushVa.FromRange(0x1FF000, 0x200FFF));
    }

    [Fact]
    public void Range_ending_at_the_top_of_the_address_space_does_not_overflow()
    {
        var va = FlushVa.FromRange(ulong.MaxValue - 0xFFF, ulong.MaxValue);
        Assert.Equal(new FlushVa((1UL << 52) - 1, 0), va);
        Assert.Equal(ulong.MaxValue, va.EndIovaInclusive);
        Assert.True(va.IsValid(out _));
    }

    [Fact]
    public void Whole_address_space_is_the_largest_block()
    {
        var va = FlushVa.FromRange(0, ulong.MaxValue);
        Assert.Equal(new FlushVa(0, 52), va);
        Assert.Equal(ulong.MaxValue, va.EndIovaInclusive);
        Assert.Equal((1UL << 52) - 1, va.LastPageNumber);
    }

    [Fact]
    public void Empty_gather_is_rejected_not_turned_into_a_full_flush() =>
        Assert.Throws<ArgumentException>(() => FlushVa.FromRange(ulong.MaxValue, 0));

    [Fact]
    public void FromRange_always_covers_the_range_with_a_valid_aligned_block() =>
        Gen.Select(Gen.ULong, Gen.ULong).Where(t => t.Item1 <= t.Item2).Sample(t =>
        {
            var va = FlushVa.FromRange(t.Item1, t.Item2);
            Assert.True(va.IsValid(out var reason), reason);
            Assert.True(va.StartIova <= t.Item1 && t.Item2 <= va.EndIovaInclusive);
            // Minimal: the half-size block holding the start does not reach the end.
            if (va.PageMaskShift > 0)
            {
                var half = FlushVa.FromRange(t.Item1, t.Item1);
                Assert.True(half.PageMaskShift < va.PageMaskShift);
                Assert.True((t.Item1 >> 12 >> (va.PageMaskShift - 1)) != (t.Item2 >> 12 >> (va.PageMaskShift - 1)));
            }
        });

    [Fact]
    public void Overlap_is_by_4k_pages_inclusive()
    {
        var va = new FlushVa(0x200, 9); // pages 0x200..0x3FF
        Assert.True(va.OverlapsPages(0x3FF, 0x3FF));
        Assert.True(va.OverlapsPages(0, 0x200));
        Assert.False(va.OverlapsPages(0x400, 0x5FF));
        Assert.False(va.OverlapsPages(0, 0x1FF));
    }
}
