using HvIommu.Model.Mappings;
using HvIommu.Model.Metrics;

namespace HvIommu.Model.Driver;

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
    /// <summary>Adds <paramref name="amount"/> to one of the run's counters (the driver adds to Maps, Unmaps, MapCalls,
    /// UnmapCalls, TablesReplacedByLeaves, FlushQueueInitFailures, DomainsSwitchedToLazy, DevicesNotManaged).</summary>
    void Count(SimCounter counter, long amount);

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
