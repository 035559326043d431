using CsCheck;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Tests.Hypercalls;

[Trait("Category", "Model")]
public class HypercallControlTests
{
    [Fact]
    public void Fields_land_in_their_bits()
    {
        var word = new HypercallControl(HypercallCode.FlushDeviceDomainList, Fast: true, VariableHeaderSize: 3, RepCount: 0x123, RepStart: 0x45).Encode();
        Assert.Equal(0x00D1UL | 1UL << 16 | 3UL << 17 | 0x123UL << 32 | 0x45UL << 48, word);
    }

    [Fact]
    public void Control_word_round_trips() =>
        Gen.Select(Gen.UShort, Gen.Bool, Gen.Int[0, 1023], Gen.Int[0, 4095], Gen.Int[0, 4095])
            .Sample(t =>
            {
                var control = new HypercallControl((HypercallCode)t.Item1, t.Item2, t.Item3, t.Item4, t.Item5);
                Assert.Equal(control, HypercallControl.Decode(control.Encode()));
            });

    [Theory]
    [InlineData(1 << 10, 0, 0)]
    [InlineData(0, 1 << 12, 0)]
    [InlineData(0, 0, 1 << 12)]
    [InlineData(-1, 0, 0)]
    public void Fields_that_do_not_fit_are_refused(int header, int count, int start) =>
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new HypercallControl(HypercallCode.FlushDeviceDomain, false, header, count, start).Encode());

    [Theory]
    [InlineData(1UL << 27)]
    [InlineData(1UL << 31)]
    [InlineData(1UL << 44)]
    [InlineData(1UL << 63)]
    public void Reserved_bits_are_refused(ulong bit)
    {
        Assert.False(HypercallControl.TryDecode(0xD0 | bit, out _));
        Assert.Throws<ArgumentException>(() => HypercallControl.Decode(0xD0 | bit));
    }

    [Fact]
    public void Result_word_round_trips_status_and_reps()
    {
        var result = new HypercallResult(HvStatus.InvalidParameter, RepsCompleted: 17);
        Assert.Equal(0x5UL | 17UL << 32, result.Encode());
        Assert.Equal(result, HypercallResult.Decode(result.Encode()));
        Assert.Equal(new HypercallResult(HvStatus.Success, 0xFFF), HypercallResult.Decode(0xFFFUL << 32));
    }
}
