using HvIommu.Actors.Logging;
using HvIommu.Actors.Metrics;
using HvIommu.Actors.Simulation;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Driver;
using HvIommu.Model.Mappings;
using HvIommu.Model.Metrics;

namespace HvIommu.Actors.Vcpu;

/// <summary>A vCPU's driver engines' telemetry, forwarded to the run's counters, latency recorders, causal trace and log.</summary>
internal sealed class VcpuTelemetry(SimWorld world, string vcpu, SimLogger log) : IDriverTelemetry
{
    public void Count(SimCounter counter, long amount) => world.Counters.Add(counter, amount);

    public void RecordLatency(DriverLatency latency, long startNs) => world.RecordLatency(latency switch
    {
        DriverLatency.Map => world.MapLatency,
        DriverLatency.Unmap => world.UnmapLatency,
        _ => world.FlushLatency,
    }, startNs);

    public bool Traces => world.Trace is not null;

    public void Trace(DriverTraceKind kind, string name, string detail, IEnumerable<MappingRecord>? mappings = null) =>
        world.Trace?.Event(kind == DriverTraceKind.Free ? TraceEventKind.Free : TraceEventKind.PteWrite, vcpu, name,
            mappings is null ? detail : $"{detail}, {TraceNames.Mappings(mappings)}");

    public void Log(DriverLogLevel level, string template, params object?[] args)
    {
        switch (level)
        {
            case DriverLogLevel.Debug:
                log.Debug(template, args);
                break;
            case DriverLogLevel.Info:
                log.Info(template, args);
                break;
            case DriverLogLevel.Warning:
                log.Warning(template, args);
                break;
            default:
                log.Error(template, args);
                break;
        }
    }
}
