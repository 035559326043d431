using System.Collections.Concurrent;
using System.Collections.Immutable;
using HvIommu.Model.Costs;
using HvIommu.Model.Events;
using HvIommu.Model.Iommu;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.Settings;
using HvIommu.Model.Time;
using HvIommu.Model.Workload;
using HvIommu.Model.Ledger;

namespace HvIommu.Model.Driver;

/// <summary>
/// The part of one simulated VM the guest driver engines read and write (brief §1, §5): the guest's memory and frame
/// allocator, its paging domains and assigned devices, the host IOMMU it asks about attachments, the event stream it
/// tells of the mappings it makes and of lifecycle findings, the hazard knobs that are on, the clock, the cost ledger
/// and the operation budget. Built once per run by the composition root (the actors' world); shared by every vCPU's engines.
/// </summary>
public sealed class DriverWorld
{
    /// <summary>Ids of the static domains: the driver's IDA starts at HV_DEVICE_DOMAIN_ID_DEFAULT + 1 (brief §1.3).</summary>
    public const uint IdentityDomainId = 1;
    public const uint BlockingDomainId = 2;

    public required SimSettings Settings { get; init; }
    public required ISimClock Clock { get; init; }
    public required GuestMemory Memory { get; init; }
    public required FrameAllocator Frames { get; init; }
    public required HostIommu Host { get; init; }
    /// <summary>The run's registry of mappings: the driver registers each mapping here before it writes the leaf.</summary>
    public required MappingLedger Mappings { get; init; }
    /// <summary>The hazard knobs that are on: the driver names a hazard in a cause it reports only when its knob is on.</summary>
    public required HazardCauses Causes { get; init; }

    /// <summary>The run's one event stream: mapping lifecycle, flushes, and the lifecycle's findings (the oracle judges them).</summary>
    public required SimEventStream Events { get; init; }
    public required CostLedger Costs { get; init; }
    public required OperationBudget Budget { get; init; }
    public required ImmutableArray<GuestDomain> Domains { get; init; }
    public required ImmutableDictionary<string, GuestDomain> DomainByName { get; init; }

    /// <summary>The assigned devices, in topology order; <see cref="DomainOfDevice"/> is parallel to it.</summary>
    public required ImmutableArray<DeviceSlot> Devices { get; init; }
    public required ImmutableArray<GuestDomain> DomainOfDevice { get; init; }

    /// <summary>Devices the pvIOMMU manages (HV_DEVICE_IOMMU_ENABLED, brief §1.6), set by the driver's probe.</summary>
    public required bool[] Managed { get; init; }

    /// <summary>Per device, dev->iommu->pci_32bit_workaround (dma-iommu.c iommu_dma_alloc_iova).</summary>
    public required bool[] Pci32BitWorkaround { get; init; }

    /// <summary>IOVAs (domain, first PFN) the synthetic workload allocated and has neither freed nor queued yet.</summary>
    public required ConcurrentDictionary<(uint Domain, ulong Pfn), byte> LiveIovas { get; init; }

    /// <summary>IOVA width the driver uses (bits): the capability, clamped to 48 for 4-level tables (brief §1.3 step 4).</summary>
    public required int IovaWidth { get; init; }

    /// <summary>Levels of every paging domain's stage-1 table (3 only with driver.table-depth = from-width, H15).</summary>
    public required int TableLevels { get; init; }

    /// <summary>GPA of vCPU 0's hypercall input page; vCPU n's is n pages above (guest memory outside the frame allocator).</summary>
    public required ulong HypercallInputPageBase { get; init; }

    /// <summary>GPA of <paramref name="vcpu"/>'s hypercall input page (hyperv_pcpu_input_arg).</summary>
    public ulong HypercallInputPage(int vcpu) => HypercallInputPageBase + ((ulong)vcpu << GuestMemory.PageShift);

    /// <summary>The trace workload's replay state, or null when the run replays no trace.</summary>
    public TraceReplay? TraceReplay { get; init; }

    /// <summary>The device the trace drives (-1 without a trace).</summary>
    public int TraceDeviceIndex { get; init; } = -1;

    /// <summary>True when the traced device's domain holds no other device.</summary>
    public bool TraceOwnsDomain { get; init; }

    /// <summary>The configuration word of an init step (lifecycle.fail-init-step), for the oracle's reports.</summary>
    public Func<InitStep, string> InitStepName { get; init; } = step => step.ToString();

    /// <summary>The synthetic devices' DMA limit: a 64-bit DMA mask clamped to the domain aperture's last byte.</summary>
    public ulong DmaLimit => (1UL << IovaWidth) - 1;
}
