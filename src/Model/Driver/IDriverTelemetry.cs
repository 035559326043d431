using HvIommu.Model.Mappings;

namespace HvIommu.Model.Driver;

/// <summary>The run's counters the guest driver engines add to.</summary>
public enum DriverCounter
{
    /// <summary>4 KiB pages mapped.</summary>
    Maps,
    /// <summary>4 KiB pages unmapped.</summary>
    Unmaps,
    /// <summary>dma_map calls (a trace's iommu:map events).</summary>
    MapCalls,
    /// <summary>dma_unmap calls (a trace's iommu:unmap events).</summary>
    UnmapCalls,
    /// <summary>Page-table pages a map's large leaf replaced (H19).</summary>
    TablesReplacedByLeaves,
    /// <summary>Lazy domains whose flush queue could not be set up and that fell back to strict.</summary>
    FlushQueueInitFailures,
    /// <summary>Strict domains switched to DMA-FQ in place by the sysfs write.</summary>
    DomainsSwitchedToLazy,
    /// <summary>Devices whose probe_device returned -ENODEV.</summary>
    DevicesNotManaged,
}

/// <summary>The latencies the guest driver engines record (simulated ns from a start time to now).</summary>
public enum DriverLatency { Map, Unmap, Flush }

/// <summary>What a causal-trace event of the driver is: a page-table write, or a free back to an allocator.</summary>
public enum DriverTraceKind { PteWrite, Free }

public enum DriverLogLevel { Debug, Info, Warning, Error }

/// <summary>
/// Where the guest driver engines report what they did besides the event stream: the run's counters and latencies,
/// the causal trace (when the run records one), and the log. The vCPU actor forwards to the run's; a unit test may
/// record or ignore them. Nothing here decides anything.
/// </summary>
public interface IDriverTelemetry
{
    void Count(DriverCounter counter, long amount);

    /// <summary>Records how long an operation begun at <paramref name="startNs"/> (the run's clock) took.</summary>
    void RecordLatency(DriverLatency latency, long startNs);

    /// <summary>True when the run records a causal trace: the engines build a trace event's text only then.</summary>
    bool Traces { get; }

    /// <summary>A trace event named <paramref name="name"/>; <paramref name="mappings"/>, when given, are the oracle
    /// records it touched, listed after <paramref name="detail"/>.</summary>
    void Trace(DriverTraceKind kind, string name, string detail, IEnumerable<MappingRecord>? mappings = null);

    /// <summary>A log event with a message template and its named properties.</summary>
    void Log(DriverLogLevel level, string template, params object?[] args);
}
