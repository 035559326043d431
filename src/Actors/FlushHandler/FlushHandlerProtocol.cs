using System.Collections.Immutable;
using Akka.Actor;
using HvIommu.Actors.Tracing;
using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.FlushHandler;

/// <summary>Messages of the IOMMU flush handler (brief §2.4, §5.5). The devices' answers to its requests are the
/// device's protocol (<see cref="PciDevice.AtcInvalidationCompleted"/>, <see cref="PciDevice.DmaDrained"/>).</summary>
public interface IFlushHandlerMessage;

/// <summary>Execute HVCALL_FLUSH_DEVICE_DOMAIN (<paramref name="Blocks"/> null) or _LIST (the blocks), then
/// complete the hypercall to <paramref name="ReplyTo"/>, the ask of vCPU <paramref name="Vcpu"/> (−1: unknown).</summary>
public sealed record ExecuteFlush(uint Domain, ImmutableArray<FlushVa>? Blocks, HypercallCode Code, IActorRef ReplyTo, int Vcpu = -1)
    : IFlushHandlerMessage, ITracedMessage
{
    /// <inheritdoc/>
    public (string Name, string Detail) DescribeForTrace() =>
        ("ExecuteFlush", $"domain {Domain}, {(Blocks is { } b ? $"{b.Length} blocks" : "whole domain")}");
}
