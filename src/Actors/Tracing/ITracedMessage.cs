namespace HvIommu.Actors.Tracing;

/// <summary>
/// A message that names itself in the trace: its name and key fields (descriptor, domain, flush, transaction
/// ids). Each protocol's messages implement it beside their declaration, so the trace knows no actor's protocol;
/// a message that does not is named by its type with no detail (<see cref="TraceNames.Describe"/>).
/// </summary>
public interface ITracedMessage
{
    /// <summary>The trace event's name (<c>Hypercall FlushDeviceDomain</c>) and detail (<c>vcpu0, domain 3</c>);
    /// cheap: called for every send and delivery of a deterministic run.</summary>
    (string Name, string Detail) DescribeForTrace();
}
