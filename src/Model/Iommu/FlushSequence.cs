using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using HvIommu.Model.Events;

namespace HvIommu.Model.Iommu;

/// <summary>
/// Numbers the flushes of each domain as they start in the IOMMU (1, 2, … per domain) and emits
/// <see cref="SimEventKind.FlushStarted"/> for each before the flush invalidates anything, so that an observer
/// (the oracle) can tell which unmaps a flush covers: those cleared before it started. Thread-safe.
/// </summary>
public sealed class FlushSequence(ISimEventSink events)
{
    private readonly ConcurrentDictionary<uint, StrongBox<long>> _started = new();

    /// <summary>A flush of <paramref name="domain"/> begins on <paramref name="source"/> at <paramref name="nowNs"/>;
    /// returns its number within the domain.</summary>
    public long Start(uint domain, string source, long nowNs)
    {
        var seq = Interlocked.Increment(ref _started.GetOrAdd(domain, static _ => new StrongBox<long>()).Value);
        events.On(SimEvent.FlushStarted(domain, seq, source, nowNs));
        return seq;
    }
}
