using System.Collections.Immutable;
using Akka.Actor;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Protocol;

/// <summary>Messages of the IOMMU flush handler (brief §2.4, §5.5).</summary>
public interface IFlushHandlerMessage;

/// <summary>Execute HVCALL_FLUSH_DEVICE_DOMAIN (<paramref name="Blocks"/> null) or _LIST (the blocks), then
/// complete the hypercall to <paramref name="ReplyTo"/>, the ask of vCPU <paramref name="Vcpu"/> (−1: unknown).</summary>
public sealed record ExecuteFlush(uint Domain, ImmutableArray<FlushVa>? Blocks, HypercallCode Code, IActorRef ReplyTo, int Vcpu = -1) : IFlushHandlerMessage;

/// <summary>A device finished an ATS invalidation request (the invalidation completion message).</summary>
public sealed record AtcInvalidationCompleted(long FlushId, string Device) : IFlushHandlerMessage;

/// <summary>A device finished every DMA it had translated before the drain request.</summary>
public sealed record DmaDrained(long FlushId, string Device) : IFlushHandlerMessage;

/// <summary>A request of flush <paramref name="FlushId"/> (an ATS invalidation, or with <paramref name="Drain"/> a drain)
/// reached a surprise-removed device and will never be answered; sent on the device's behalf, standing for what the host
/// learns from the bus (the device is absent).</summary>
public sealed record RequestUnanswered(long FlushId, string Device, bool Drain) : IFlushHandlerMessage;
