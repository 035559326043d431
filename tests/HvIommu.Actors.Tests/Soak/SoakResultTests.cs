using HvIommu.Actors.Bench;

namespace HvIommu.Actors.Tests.Soak;

/// <summary>The soak verdict from samples alone (no run): a slope under the target, or growth that stays within what
/// operations in flight hold, is bounded; a per-operation leak is not, however short the run.</summary>
[Trait("Category", "Actors")]
public sealed class SoakResultTests
{
    private static SoakResult Of(params (long Ops, long Heap)[] samples) =>
        new(60_000, samples.Select(s => new SoakSample(s.Ops, s.Heap, 0)).ToArray());

    [Fact]
    public void A_short_run_whose_heap_moves_by_in_flight_noise_is_bounded_with_its_resolution_reported()
    {
        // Two samples 96 k operations apart, 650 KB apart: a slope of ~6.7 bytes/operation, but noise.
        var soak = Of((60_000, 6_926_824), (156_556, 7_575_832));
        Assert.True(soak.BytesPerOperation > 1);
        Assert.True(soak.Bounded);
        Assert.Equal(649_008, soak.Growth);
        Assert.True(soak.ResolutionBytesPerOperation > 40);
    }

    [Fact]
    public void A_leak_of_a_hundred_bytes_per_operation_is_not_bounded()
    {
        var soak = Of((60_000, 7_000_000), (120_000, 13_000_000), (180_000, 19_000_000), (240_000, 25_000_000));
        Assert.Equal(100, soak.BytesPerOperation!.Value, 3);
        Assert.False(soak.Bounded);
    }

    [Fact]
    public void A_long_flat_run_meets_the_target_by_its_slope_and_one_sample_is_not_measured()
    {
        var flat = Of((400_000, 8_000_000), (1_000_000, 8_300_000), (1_600_000, 8_100_000), (2_000_000, 8_200_000));
        Assert.True(flat.BytesPerOperation < 1);
        Assert.True(flat.Bounded);
        Assert.Null(Of((400_000, 8_000_000)).Bounded);
    }
}
