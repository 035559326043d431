using HvIommu.Actors.Metrics;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Tests.Metrics;

[Trait("Category", "Model")]
public sealed class LatencyRecorderSpec
{
    // 3 significant digits: a reported percentile is within 0.1 % of the true value (0.2 % allowed here).
    private static void AssertNear(long expected, long actual) =>
        Assert.InRange(actual, expected - expected / 500 - 1, expected + expected / 500 + 1);

    [Fact]
    public void Summarizes_known_values_within_the_histogram_precision()
    {
        var recorder = new LatencyRecorder();
        for (var ns = 1; ns <= 10_000; ns++)
            recorder.Record(ns);

        var s = recorder.Summarize();

        Assert.Equal(10_000, s.Count);
        Assert.Equal(1, s.MinNs);
        Assert.Equal(10_000, s.MaxNs);
        AssertNear(5_000, s.P50Ns);
        AssertNear(9_000, s.P90Ns);
        AssertNear(9_900, s.P99Ns);
        AssertNear(9_990, s.P999Ns);
        AssertNear(5_000, (long)s.MeanNs);
    }

    [Fact]
    public void Keeps_everything_recorded_across_summaries()
    {
        var recorder = new LatencyRecorder();
        recorder.Record(100);
        Assert.Equal(1, recorder.Summarize().Count);

        recorder.Record(300);
        var s = recorder.Summarize();

        Assert.Equal(2, s.Count);
        Assert.Equal(100, s.MinNs);
        Assert.Equal(300, s.MaxNs);
    }

    [Fact]
    public void Clamps_values_outside_one_nanosecond_to_one_hour()
    {
        var recorder = new LatencyRecorder();
        recorder.Record(0);
        recorder.Record(long.MaxValue);

        var s = recorder.Summarize();

        Assert.Equal(1, s.MinNs);
        Assert.Equal(LatencyRecorder.HighestTrackableNs, s.MaxNs);
    }

    [Fact]
    public void An_unused_recorder_summarizes_as_empty() =>
        Assert.Equal(LatencySummary.Empty, new LatencyRecorder().Summarize());

    [Fact]
    public void Counts_every_value_recorded_from_many_threads()
    {
        var recorder = new LatencyRecorder();

        Parallel.For(0, 4, t =>
        {
            for (var i = 1; i <= 25_000; i++)
                recorder.Record(i * (t + 1));
        });

        var s = recorder.Summarize();
        Assert.Equal(100_000, s.Count);
        Assert.Equal(1, s.MinNs);
        Assert.Equal(100_000, s.MaxNs);
    }
}
