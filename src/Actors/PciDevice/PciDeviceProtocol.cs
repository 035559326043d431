using System.Collections.Immutable;
using Akka.Actor;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Device;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Text;

namespace HvIommu.Actors.PciDevice;

/// <summary>Messages of a PCI device's DMA engine, and its answers (to the driver, and to the IOMMU's flush handler).</summary>
public interface IPciDeviceMessage;

/// <summary>The driver programs the device; <see cref="DmaCompleted"/> goes to <paramref name="ReplyTo"/>.</summary>
public sealed record ProgramDma(DmaDescriptor Descriptor, IActorRef ReplyTo) : IPciDeviceMessage, ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() =>
        ("ProgramDma", $"descriptor {Descriptor.Id}, IOVA 0x{Descriptor.Iova:x}, {Counted.Of(Descriptor.Pages, "page")}");
}

/// <summary>The device completed a descriptor (its completion interrupt).</summary>
public sealed record DmaCompleted(long DescriptorId, int Faults) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("DmaCompleted", $"descriptor {DescriptorId}, {Faults} faults");
}

/// <summary>ATS invalidation request from the IOMMU: drop these blocks (all, when null) and answer with a completion.</summary>
public sealed record InvalidateAtc(long FlushId, ImmutableArray<FlushVa>? Blocks, IActorRef ReplyTo) : IPciDeviceMessage, ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("InvalidateAtc", $"flush {FlushId}");
}

/// <summary>The device finished an ATS invalidation request (the invalidation completion message).</summary>
public sealed record AtcInvalidationCompleted(long FlushId, string Device) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("AtcInvalidationCompleted", $"flush {FlushId}");
}

/// <summary>Finish every DMA translated so far, then answer <see cref="DmaDrained"/>.</summary>
public sealed record DrainDma(long FlushId, IActorRef ReplyTo) : IPciDeviceMessage, ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("DrainDma", $"flush {FlushId}");
}

/// <summary>The device finished every DMA it had translated before the drain request.</summary>
public sealed record DmaDrained(long FlushId, string Device) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("DmaDrained", $"flush {FlushId}");
}

/// <summary>A request of flush <paramref name="FlushId"/> (an ATS invalidation, or with <paramref name="Drain"/> a drain)
/// reached a surprise-removed device and will never be answered; sent on the device's behalf, standing for what the host
/// learns from the bus (the device is absent).</summary>
public sealed record RequestUnanswered(long FlushId, string Device, bool Drain);

/// <summary>Stop starting replays; answer <see cref="DeviceQuiesced"/> once nothing is pending or in flight.</summary>
public sealed record Quiesce(IActorRef ReplyTo) : IPciDeviceMessage;

/// <summary>The device is quiet: no replay pending, no transaction in flight.</summary>
public sealed record DeviceQuiesced(string Device) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("DeviceQuiesced", Device);
}

/// <summary>Self-message: the data phase of an in-flight transaction is due (translation happened earlier).</summary>
internal sealed record TransferDue(long TransactionId) : ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() => ("TransferDue", $"transaction {TransactionId}");
}

/// <summary>The device's driver was bound before hv_iommu_init and gave it a ring at a raw GPA (dma-direct);
/// the device touches it with every descriptor from now on (H11, brief §1.9 init ordering).</summary>
public sealed record SetRawGpaRing(DmaDescriptor Ring) : IPciDeviceMessage;

/// <summary>The fault driver's prod: a stale-replay device re-issues its recent descriptors now (one write
/// each); <see cref="DmaCompleted"/> goes to <paramref name="ReplyTo"/> once they are done. A well-behaved
/// device answers at once. Used at teardown to put DMA where a wrong order leaves a window (H10).</summary>
public sealed record ReplayRecent(IActorRef ReplyTo) : IPciDeviceMessage;

/// <summary>Device → its replay engine: hand <paramref name="Ticket"/> back when you run.</summary>
internal sealed record ReplayLater(long Ticket, ReplayKind Kind);

/// <summary>Replay engine → device: the replay or prefetch with <paramref name="Ticket"/> goes now.</summary>
internal sealed record ReplayNow(long Ticket, ReplayKind Kind);
