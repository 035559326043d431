using HvIommu.Model.Randomness;

namespace HvIommu.Model.Tests.Randomness;

[Trait("Category", "Model")]
public class SeededRandomTests
{
    [Fact]
    public void Same_seed_gives_the_same_sequence()
    {
        var a = new SeededRandom(123);
        var b = new SeededRandom(123);
        for (var i = 0; i < 1000; i++)
            Assert.Equal(a.NextUInt64(), b.NextUInt64());
    }

    [Fact]
    public void First_values_for_seed_42_are_pinned()
    {
        // xoshiro256** seeded through SplitMix64, computed by an independent reference implementation.
        // A change here means every recorded seed replays differently.
        var random = new SeededRandom(42);
        Assert.Equal(0x15780b2e0c2ec716UL, random.NextUInt64());
        Assert.Equal(0x6104d9866d113a7eUL, random.NextUInt64());
        Assert.Equal(0xae17533239e499a1UL, random.NextUInt64());
        Assert.Equal(0xecb8ad4703b360a1UL, random.NextUInt64());
    }

    [Fact]
    public void Derive_by_name_does_not_depend_on_derivation_order_or_draws()
    {
        var first = new SeededRandom(42);
        var iotlbFirst = first.Derive("iotlb").NextUInt64();
        var walkFirst = first.Derive("walk").NextUInt64();

        var second = new SeededRandom(42);
        second.NextUInt64();
        var walkSecond = second.Derive("walk").NextUInt64();
        var iotlbSecond = second.Derive("iotlb").NextUInt64();

        Assert.Equal(iotlbFirst, iotlbSecond);
        Assert.Equal(walkFirst, walkSecond);
        Assert.NotEqual(iotlbFirst, walkFirst);
        Assert.Equal(SeededRandom.DeriveSeed(42, "iotlb"), first.Derive("iotlb").Seed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void Next_stays_within_bounds(int maxExclusive)
    {
        var random = new SeededRandom(1);
        for (var i = 0; i < 10_000; i++)
        {
            var value = random.Next(maxExclusive);
            Assert.InRange(value, 0, maxExclusive - 1);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Next_refuses_an_empty_range(int maxExclusive) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SeededRandom(1).Next(maxExclusive));

    [Fact]
    public void Draws_are_roughly_uniform()
    {
        // Chi-square over 100k draws into 20 bins: 19 degrees of freedom, mean 19, p(>50) ≈ 1e-4.
        // Deterministic because seeded; the bound only guards against a broken generator.
        const int bins = 20, draws = 100_000;
        var counts = new int[bins];
        var random = new SeededRandom(42);
        for (var i = 0; i < draws; i++)
            counts[random.Next(bins)]++;
        const double expected = (double)draws / bins;
        var chiSquare = counts.Sum(c => (c - expected) * (c - expected) / expected);
        Assert.InRange(chiSquare, 0, 50);
    }
}
