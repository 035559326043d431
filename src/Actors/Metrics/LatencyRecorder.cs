using HdrHistogram;

namespace HvIommu.Actors.Metrics;

/// <summary>
/// A latency histogram in nanoseconds (1 ns to 1 hour, 3 significant digits) for one operation —
/// a map, an unmap, a FLUSH_DEVICE_DOMAIN hypercall, a DMA transaction — recorded from many actor
/// threads at once. Recording goes through HdrHistogram's <see cref="Recorder"/> over concurrent
/// histograms (a plain LongHistogram loses counts when writers race); <see cref="Summarize"/> folds
/// what was recorded since the last call into a running total.
/// </summary>
public sealed class LatencyRecorder
{
    /// <summary>The largest latency tracked: one hour. Larger values are clamped to it.</summary>
    public const long HighestTrackableNs = 3_600_000_000_000;

    /// <summary>The <c>dma</c> latency samples one DMA transaction in this many (transaction id a multiple of it), so its
    /// count is about stats.dmaTransactions / 8, not every transaction.</summary>
    public const int DmaSampleEvery = 8;

    private const int SignificantDigits = 3;

    private readonly Recorder? _recorder;
    private readonly LongHistogram? _total;
    private readonly Lock _gate = new();
    private HistogramBase? _spare;
    private long _min = long.MaxValue;
    private long _max = long.MinValue;

    /// <param name="enabled">False makes a recorder that keeps nothing and allocates nothing: an explorer running
    /// thousands of short schedules does not want three histograms of several hundred KiB per operation.</param>
    public LatencyRecorder(bool enabled = true)
    {
        if (!enabled)
            return;
        _recorder = new Recorder(1, HighestTrackableNs, SignificantDigits,
            (id, lowest, highest, digits) => new LongConcurrentHistogram(id, lowest, highest, digits));
        _total = new LongHistogram(1, HighestTrackableNs, SignificantDigits);
    }

    /// <summary>Records one latency; values below 1 ns count as 1 ns, above an hour as an hour.</summary>
    public void Record(long ns)
    {
        if (_recorder is null)
            return;
        var value = Math.Clamp(ns, 1, HighestTrackableNs);
        _recorder.RecordValue(value);
        // Exact extremes (the histogram only knows them to 3 digits); the write is rare once warmed up.
        Extend(ref _min, value, downwards: true);
        Extend(ref _max, value, downwards: false);
    }

    /// <summary>Count, exact min and max, percentiles (to 3 significant digits) and mean of everything recorded so far.</summary>
    public LatencySummary Summarize()
    {
        if (_recorder is null || _total is null)
            return LatencySummary.Empty;
        lock (_gate)
        {
            var interval = _recorder.GetIntervalHistogram(_spare);
            _total.Add(interval);
            _spare = interval;
            if (_total.TotalCount == 0)
                return LatencySummary.Empty;
            var min = Volatile.Read(ref _min);
            var max = Volatile.Read(ref _max);
            // A percentile is reported as the top of its bucket, which can lie above the exact maximum.
            long At(double percentile) => Math.Clamp(_total.GetValueAtPercentile(percentile), min, max);
            return new LatencySummary(_total.TotalCount, min, At(50), At(90), At(99), At(99.9), max, _total.GetMean());
        }
    }

    /// <summary>The cumulative distribution of everything recorded: each distinct recorded value (to 3 significant
    /// digits) with the fraction of samples at or below it, ascending; empty when nothing was recorded.</summary>
    public IReadOnlyList<CdfPoint> Cdf()
    {
        if (_recorder is null || _total is null)
            return [];
        Summarize();
        lock (_gate)
        {
            var total = (double)_total.TotalCount;
            var points = new List<CdfPoint>();
            long seen = 0;
            foreach (var v in _total.RecordedValues())
            {
                seen += v.CountAddedInThisIterationStep;
                points.Add(new CdfPoint(_total.HighestEquivalentValue(v.ValueIteratedTo), seen / total));
            }
            return points;
        }
    }

    /// <summary>Moves <paramref name="slot"/> to <paramref name="value"/> while that extends it (down for the minimum, up for the maximum).</summary>
    private static void Extend(ref long slot, long value, bool downwards)
    {
        var seen = Volatile.Read(ref slot);
        while (downwards ? value < seen : value > seen)
        {
            var previous = Interlocked.CompareExchange(ref slot, value, seen);
            if (previous == seen)
                return;
            seen = previous;
        }
    }
}
