using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace HvIommu.Model.Iommu;

/// <summary>
/// Numbers the flushes of each domain as they start in the IOMMU (1, 2, … per domain). The flush handler emits
/// <see cref="Events.SimEventKind.FlushStarted"/> with the number before the flush invalidates anything, so that an
/// observer (the oracle) can tell which unmaps a flush covers: those cleared before it started. Thread-safe.
/// </summary>
public sealed class FlushSequence
{
    private readonly ConcurrentDictionary<uint, StrongBox<long>> _started = new();

    /// <summary>A flush of <paramref name="domain"/> begins; returns its number within the domain.</summary>
    public long Next(uint domain) => Interlocked.Increment(ref _started.GetOrAdd(domain, static _ => new StrongBox<long>()).Value);
}
