using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Workload;

namespace HvIommu.Model.Tests.Workload;

/// <summary>The synthetic workload's device choice and buffer sizing, and the order of their draws.</summary>
[Trait("Category", "Model")]
public sealed class SyntheticWorkloadTests
{
    [Fact]
    public void It_runs_only_with_a_managed_device_other_than_the_replayed_traces()
    {
        Assert.True(SyntheticWorkload.Runs([true, false], traceDevice: -1));
        Assert.False(SyntheticWorkload.Runs([false, false], traceDevice: -1));
        Assert.False(SyntheticWorkload.Runs([true, false], traceDevice: 0)); // only the trace's device is managed
        Assert.Throws<InvalidOperationException>(() => SyntheticWorkload.PickDevice(new SeededRandom(1), [true, false], 0));
    }

    [Fact]
    public void A_device_is_redrawn_until_it_is_managed_and_not_the_traces()
    {
        bool[] managed = [true, false, true, true];
        var random = new SeededRandom(5);
        var picks = Enumerable.Range(0, 200).Select(_ => SyntheticWorkload.PickDevice(random, managed, traceDevice: 3)).ToHashSet();
        Assert.Equal([0, 2], picks.Order());
        // Each pick is the first eligible draw of the same generator.
        var again = new SeededRandom(5);
        var expected = -1;
        while (expected < 0)
        {
            var i = again.Next(4);
            if (managed[i] && i != 3)
                expected = i;
        }
        Assert.Equal(expected, SyntheticWorkload.PickDevice(new SeededRandom(5), managed, 3));
    }

    [Fact]
    public void A_fixed_size_draws_nothing_and_a_mix_draws_an_entry_then_a_size_in_it()
    {
        var fixedSize = new WorkloadSettings(BufferPages: 4, DmaPerOp: 1, DmaBytes: 64, WriteFraction: 0.5, OutstandingPerVcpu: 1);
        var random = new SeededRandom(9);
        Assert.Equal(4, SyntheticWorkload.BufferPages(fixedSize.BufferPages, fixedSize.BufferSizes, random));
        Assert.Equal(new SeededRandom(9).Next(1000), random.Next(1000)); // untouched

        var mix = fixedSize with { BufferPages = 0, BufferSizes = [new BufferSizeRange(1, 1), new BufferSizeRange(8, 16)] };
        var r = new SeededRandom(3);
        var sizes = Enumerable.Range(0, 200).Select(_ => SyntheticWorkload.BufferPages(mix.BufferPages, mix.BufferSizes, r)).ToList();
        Assert.All(sizes, s => Assert.True(s == 1 || s is >= 8 and <= 16));
        Assert.Contains(1, sizes);
        Assert.Contains(sizes, s => s >= 8);
        var check = new SeededRandom(3);
        var entry = mix.BufferSizes[check.Next(2)];
        Assert.Equal(entry.Pick(check), SyntheticWorkload.BufferPages(mix.BufferPages, mix.BufferSizes, new SeededRandom(3)));
    }
}
