using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;

namespace HvIommu.Model.Iommu;

/// <summary>What the hypervisor does with one pvIOMMU hypercall: answer <see cref="Status"/> (with
/// <see cref="Output"/> on success), or, for a valid flush, hand domain <see cref="FlushDomain"/> (the
/// <see cref="Blocks"/> of a list flush; all, when null) to the flush handler, which answers.</summary>
public readonly record struct HypercallOutcome(HvStatus Status, object? Output = null, uint? FlushDomain = null, ImmutableArray<FlushVa>? Blocks = null);

/// <summary>
/// The Hyper-V hypervisor's pvIOMMU hypercall handlers (brief §2) over the host IOMMU model: each decoded input is
/// serviced against <see cref="HostIommu"/> and answered with an HV_STATUS; a flush whose target is valid goes to
/// the flush handler (§2.4). Configured failures are injected first (H8, H16). Not thread-safe: one hypervisor actor
/// calls it; the host is shared and thread-safe.
/// </summary>
/// <param name="failInit">lifecycle.fail-init-step: the n-th call of one code fails with the status given (H16).</param>
/// <param name="faults">The configured hypercall faults (faults[]: call, probability, status), drawn from
/// <paramref name="choices"/> (a strategy's in deterministic mode).</param>
public sealed class HypercallService(HostIommu host, (HypercallCode Call, int Occurrence, HvStatus Status)? failInit,
    ImmutableArray<FaultSpec> faults, EnvironmentChoices choices)
{
    private readonly Dictionary<HypercallCode, int> _occurrences = new();

    /// <summary>The failure injected into this call of <paramref name="code"/>, or null: the configured init failure
    /// at its occurrence, else the first configured fault of the code whose chance comes up.</summary>
    public HvStatus? InjectedFault(HypercallCode code)
    {
        if (failInit is { } point && point.Call == code)
        {
            var seen = _occurrences[code] = _occurrences.GetValueOrDefault(code) + 1;
            if (seen == point.Occurrence)
                return point.Status;
        }
        foreach (var fault in faults)
            if (fault.Call == code && choices.Chance(fault.Probability))
                return fault.Status;
        return null;
    }

    /// <summary>Services <paramref name="input"/> (the input the host read; null or an unknown kind is an invalid
    /// call code, §2.1). A list flush with an invalid entry is HV_STATUS_INVALID_PARAMETER.</summary>
    public HypercallOutcome Execute(IHypercallInput? input)
    {
        switch (input)
        {
            case GetIommuCapabilitiesInput i:
                return new(host.GetCapabilities(i, out var caps), caps);
            case GetLogicalDevicePropertyInput i:
                return new(host.GetLogicalDeviceProperty(i, out var prop), prop);
            case CreateDeviceDomainInput i:
                return new(host.CreateDomain(i));
            case ConfigureDeviceDomainInput i:
                return new(host.ConfigureDomain(i));
            case AttachDeviceDomainInput i:
                return new(host.Attach(i));
            case DetachDeviceDomainInput i:
                return new(host.Detach(i));
            case DeleteDeviceDomainInput i:
                return new(host.DeleteDomain(i));
            case FlushDeviceDomainInput i:
                return Flush(i.Domain, null);
            case FlushDeviceDomainListInput i:
                foreach (var entry in i.IovaList)
                    if (!entry.IsValid(out _))
                        return new(HvStatus.InvalidParameter);
                return Flush(i.Domain, i.IovaList);
            default:
                return new(HvStatus.InvalidHypercallCode);
        }
    }

    private HypercallOutcome Flush(HvInputDeviceDomain domain, ImmutableArray<FlushVa>? blocks)
    {
        var status = host.CheckFlushTarget(domain);
        return status == HvStatus.Success ? new(status, FlushDomain: domain.DomainId.Id, Blocks: blocks) : new(status);
    }
}
