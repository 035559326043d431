using HvIommu.Actors.Reporting;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Bench;

/// <summary>One soak sample: operations completed and the memory right after a full, blocking collection.</summary>
/// <param name="Operations">Guest operations completed (map → DMA → unmap) when the sample was taken.</param>
/// <param name="HeapBytes">Managed bytes still reachable after <see cref="GC.GetTotalMemory(bool)"/> forced a full collection.</param>
/// <param name="RssBytes">Resident set size at the same moment.</param>
public readonly record struct SoakSample(long Operations, long HeapBytes, long RssBytes);

/// <summary>
/// Measures what a stress run keeps per operation once warmed up: on every progress update after
/// <paramref name="warmUpOperations"/> and before the workload drains (operations below the target), it forces a
/// full collection and samples the reachable managed heap against the operations completed. Figures come from
/// the runtime's collector, not from timing; wall time only paces the samples. Passes every update on to
/// <paramref name="inner"/>. Called from the runner's thread only.
/// </summary>
public sealed class SoakProbe(long warmUpOperations, IRunProgress? inner = null) : IRunProgress
{
    private readonly List<SoakSample> _samples = new();

    public long WarmUpOperations { get; } = warmUpOperations;

    public IReadOnlyList<SoakSample> Samples => _samples;

    public void Start(string title) => inner?.Start(title);

    public void Update(ProgressSnapshot snapshot)
    {
        inner?.Update(snapshot);
        var draining = snapshot.TargetOperations is { } target && snapshot.Operations >= target;
        if (snapshot.Operations < WarmUpOperations || draining || (_samples.Count > 0 && _samples[^1].Operations == snapshot.Operations))
            return;
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        _samples.Add(new SoakSample(snapshot.Operations, heap, Environment.WorkingSet));
    }

    public void Stop() => inner?.Stop();

    /// <summary>The figures of the samples taken so far (fewer than two samples: null figures).</summary>
    public SoakResult Result() => new(WarmUpOperations, _samples.ToArray());
}

/// <summary>What a soak measured: the samples after warm-up and the bytes retained per operation between them.</summary>
public sealed record SoakResult(long WarmUpOperations, IReadOnlyList<SoakSample> Samples)
{
    /// <summary>The target of a bounded run: less than one byte kept per operation after warm-up.</summary>
    public const double TargetBytesPerOperation = 1.0;

    public SoakSample? First => Samples.Count > 0 ? Samples[0] : null;
    public SoakSample? Last => Samples.Count > 0 ? Samples[^1] : null;

    /// <summary>Operations between the first and the last sample.</summary>
    public long MeasuredOperations => Samples.Count > 1 ? Samples[^1].Operations - Samples[0].Operations : 0;

    /// <summary>Managed bytes retained per operation: the least-squares slope of the reachable heap over operations
    /// completed (robust to the few hundred KiB that operations in flight add or remove at any one sample); null
    /// with fewer than two samples.</summary>
    public double? BytesPerOperation => Slope(s => s.HeapBytes);

    /// <summary>Resident bytes gained per operation, the same way (the OS's view; the runtime returns memory lazily).</summary>
    public double? RssBytesPerOperation => Slope(s => s.RssBytes);

    /// <summary>
    /// Managed bytes that operations in flight (mailboxes, outstanding buffers, cache entries, the oracle's bounded
    /// window) may add to or remove from any one sample: 4 MiB. Below it, one sample's heap says nothing about
    /// retention, so a short run's slope is noise (e.g. ±650 KiB over 100 k operations reads as ±6.5 bytes/operation).
    /// </summary>
    public const long InFlightSlackBytes = 4L << 20;

    /// <summary>The most the reachable heap rose above the first sample (bytes); 0 when it never rose.</summary>
    public long Growth => Samples.Count > 1 ? Math.Max(0, Samples.Max(s => s.HeapBytes) - Samples[0].HeapBytes) : 0;

    /// <summary>The smallest retention per operation this run can tell from in-flight noise:
    /// <see cref="InFlightSlackBytes"/> over <see cref="MeasuredOperations"/> (bytes/operation); null when not measured.</summary>
    public double? ResolutionBytesPerOperation => MeasuredOperations > 0 ? (double)InFlightSlackBytes / MeasuredOperations : null;

    /// <summary>
    /// Whether the run is bounded: the slope is below <see cref="TargetBytesPerOperation"/>, or the heap never rose
    /// more than <see cref="InFlightSlackBytes"/> above its first sample (too short a run to resolve one byte per
    /// operation, but no growth beyond what operations in flight hold; a leak of the kind a per-mapping record makes,
    /// ~100 bytes/operation, exceeds it after ~40 k operations). Null when not measured.
    /// </summary>
    public bool? Bounded => BytesPerOperation is { } b ? b < TargetBytesPerOperation || Growth <= InFlightSlackBytes : null;

    /// <summary>Which criterion decided <see cref="Bounded"/>, in words.</summary>
    private string Verdict => BytesPerOperation is not { } b ? "not measured"
        : b < TargetBytesPerOperation ? "met"
        : Growth <= InFlightSlackBytes ? $"met within in-flight noise (the heap rose at most {Growth:N0} bytes, under the {InFlightSlackBytes:N0}-byte slack; this run resolves {ResolutionBytesPerOperation:0.0} bytes/operation — raise --ops to resolve 1)"
        : "NOT MET";

    /// <summary>The figures in words, one per line, after the run's own counts.</summary>
    public string Describe(string configFile, RunReport report)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var w = new StringWriter(c);
        w.WriteLine($"soak of {configFile}: {report.Stats.PagesUnmapped:N0} pages unmapped, {report.Stats.DmaTransactions:N0} DMA in {report.Stats.WallSeconds:0.0} s, {Counted.Of(report.Violations.Count, "violation")}");
        if (First is not { } a || Last is not { } b || BytesPerOperation is not { } perOp)
        {
            w.WriteLine($"  not measured: fewer than two samples after the warm-up of {Counted.Of(WarmUpOperations, "operation")} (raise --ops)");
            return w.ToString().TrimEnd();
        }
        w.WriteLine($"  managed heap after full collections: {a.HeapBytes:N0} bytes at {Counted.Of(a.Operations, "operation")} → {b.HeapBytes:N0} bytes at {b.Operations:N0} ({Samples.Count} samples after a warm-up of {WarmUpOperations:N0})");
        w.WriteLine($"  RSS: {a.RssBytes:N0} → {b.RssBytes:N0} bytes ({RssBytesPerOperation:0.00} bytes/operation); peak {report.Stats.Memory?.PeakRssBytes ?? 0:N0} bytes");
        w.Write($"  retained: {perOp:0.000} bytes/operation (least squares over the samples); target < {TargetBytesPerOperation:0} byte/operation: {Verdict}");
        return w.ToString();
    }

    /// <summary>The figures as a JSON object (bytes, operations; null where not measured).</summary>
    public object ToJson(string configFile, RunReport report) => new
    {
        config = configFile,
        unmaps = report.Stats.PagesUnmapped,
        warmUpOperations = WarmUpOperations,
        samples = Samples.Count,
        measuredOperations = MeasuredOperations,
        heapBytesFirst = First?.HeapBytes,
        heapBytesLast = Last?.HeapBytes,
        bytesPerOperation = BytesPerOperation,
        growthBytes = Samples.Count > 1 ? Growth : (long?)null,
        resolutionBytesPerOperation = ResolutionBytesPerOperation,
        rssBytesPerOperation = RssBytesPerOperation,
        peakRssBytes = report.Stats.Memory?.PeakRssBytes,
        targetBytesPerOperation = TargetBytesPerOperation,
        bounded = Bounded,
    };

    private double? Slope(Func<SoakSample, long> y)
    {
        if (Samples.Count < 2 || MeasuredOperations <= 0)
            return null;
        double mx = Samples.Average(s => (double)s.Operations), my = Samples.Average(s => (double)y(s));
        double sxy = 0, sxx = 0;
        foreach (var s in Samples)
        {
            var dx = s.Operations - mx;
            sxy += dx * (y(s) - my);
            sxx += dx * dx;
        }
        return sxx == 0 ? null : sxy / sxx;
    }
}
