using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Mappings;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Events;

/// <summary>What happened (docs/design.md §2, "one event stream"): the facts the oracle, the causal trace and the
/// counters observe, each emitted once, where it happens.</summary>
public enum SimEventKind : byte
{
    /// <summary>dma_map wrote the leaf of <see cref="SimEvent.Mapping"/> (iommu_map → generic_pt's map_pages): the
    /// device may be programmed with it from now on.</summary>
    MappingWritten,

    /// <summary>dma_unmap is about to clear the leaf of <see cref="SimEvent.Mapping"/>; <see cref="SimEvent.Queued"/>
    /// when its IOVA goes to a flush queue (lazy mode, brief §5.3) rather than being flushed inline (§5.2).</summary>
    MappingClearing,

    /// <summary>The leaf of <see cref="SimEvent.Mapping"/> is cleared and the CPU has fenced (queue_iova's smp_mb,
    /// brief §5.3): only a flush that starts after this covers it.</summary>
    MappingCleared,

    /// <summary>fq_ring_free released the queued unmap of <see cref="SimEvent.Mapping"/> (its IOVA and table pages):
    /// its flush-queue window is over.</summary>
    MappingReleased,

    /// <summary>A flush of <see cref="SimEvent.Domain"/> (HVCALL_FLUSH_DEVICE_DOMAIN(_LIST)) began in the IOMMU,
    /// before it invalidated anything; <see cref="SimEvent.FlushSeq"/> numbers it within the domain.</summary>
    FlushStarted,

    /// <summary>Flush <see cref="SimEvent.FlushSeq"/> of <see cref="SimEvent.Domain"/> completed: it covered
    /// <see cref="SimEvent.Blocks"/> (the whole domain when null).</summary>
    FlushCompleted,

    /// <summary>A nested walk read the tables of <see cref="SimEvent.Chain"/> (outermost first) to translate
    /// <see cref="SimEvent.Translation"/>'s IOVA (its fault, domain) for <see cref="SimEvent.Context"/> (brief §4).</summary>
    Walked,

    /// <summary>The data phase of a DMA touched memory through <see cref="SimEvent.Translation"/> (made earlier, in
    /// the translate step) for <see cref="SimEvent.Context"/>; <see cref="SimEvent.ProgrammedFor"/> is the mapping the
    /// device's descriptor was built for at that page, if known (brief §2.4: the access the flush must have
    /// drained or made impossible).</summary>
    DmaAccessed,

    /// <summary>A device's DMA faulted in the IOMMU: <see cref="SimEvent.Translation"/> holds the fault;
    /// <see cref="SimEvent.ProgrammedFor"/> is the mapping its descriptor was built for at that page, if known.</summary>
    DmaFaulted,

    /// <summary>A vCPU trapped into the hypervisor with hypercall <see cref="SimEvent.Hypercall"/> (a VM exit, brief
    /// §2.1: any call code, the ABI's or not); <see cref="SimEvent.Id"/> is the vCPU's index. Its time is not read
    /// (0): the counters need none, and a hypercall is on the hot path of every strict unmap.</summary>
    HypercallTrapped,

    /// <summary>The hypercall <see cref="SimEvent.Hypercall"/> issued by <see cref="SimEvent.Source"/> (a vCPU) for
    /// <see cref="SimEvent.Domain"/> did not complete within the run's hang timeout (a VM exit that never returns).</summary>
    HypercallHung,

    /// <summary>Teardown finished; <see cref="SimEvent.Lifecycle"/> (a <see cref="TeardownAudit"/>) counts what it
    /// left behind (H10, H16).</summary>
    TeardownAudited,

    /// <summary>Teardown found IOVA ranges nothing holds (<see cref="SimEvent.Lifecycle"/>: an <see cref="IovaLeak"/>, H18).</summary>
    IovaLeaked,

    /// <summary>An init error path undid a step that never ran (<see cref="SimEvent.Lifecycle"/>: an
    /// <see cref="UnwindOfStepNeverDone"/>, H16).</summary>
    UnwoundStepNeverDone,

    /// <summary>The guest is freeing a domain's tables while the host still has a device attached to it
    /// (<see cref="SimEvent.Lifecycle"/>: a <see cref="TablesFreedUnderDevice"/>, H10).</summary>
    TablesFreedUnderAttachedDevice,
}

/// <summary>
/// One fact of the run, a value passed by reference (<c>in</c>) to every subscriber of a <see cref="SimEventStream"/>:
/// no event allocates. Only the fields its <see cref="Kind"/> names are set; the rest are default.
/// </summary>
/// <remarks>
/// A mapping is named by its <see cref="MappingRecord"/> (whose <see cref="MappingRecord.Serial"/> is the fact):
/// a record stays alive exactly while something can still use it (a cache entry, a DMA in flight), so the ledger
/// keeps no index by serial (see <c>Ledger/MappingRegistry.cs</c>).
/// </remarks>
public readonly struct SimEvent
{
    public SimEventKind Kind { get; init; }

    /// <summary>Simulated time of the event in ns (the run's clock).</summary>
    public long TimeNs { get; init; }

    /// <summary>The agent it happened on: a vCPU ("vcpu0"), a device, "flush-handler" (no allocation: the agent's own name).</summary>
    public string Source { get; init; }

    /// <summary>The mapping concerned (MappingWritten/Clearing/Cleared/Released).</summary>
    public MappingRecord? Mapping { get; init; }

    /// <summary>DmaAccessed/DmaFaulted: the mapping the device's descriptor was built for at that page, as the
    /// descriptor carried it (its facts; null: none known, e.g. an ATS prefetch).</summary>
    public MappingFact? ProgrammedFor { get; init; }

    /// <summary>MappingClearing: the unmap goes to a flush queue.</summary>
    public bool Queued { get; init; }

    /// <summary>The domain flushed (FlushStarted/FlushCompleted).</summary>
    public uint Domain { get; init; }

    /// <summary>The flush's number within its domain (FlushStarted/FlushCompleted), from 1.</summary>
    public long FlushSeq { get; init; }

    /// <summary>FlushCompleted: the HV_FLUSH_VA blocks flushed; null for the whole domain.</summary>
    public ImmutableArray<FlushVa>? Blocks { get; init; }

    /// <summary>FlushStarted: the flush handler's own number for the flush (its FLUSH_DEVICE_DOMAIN request);
    /// MappingWritten: the line of the replayed trace that mapped it (0 for the synthetic workload).</summary>
    public long Id { get; init; }

    /// <summary>FlushCompleted: when the flush started (simulated ns).</summary>
    public long StartNs { get; init; }

    /// <summary>FlushCompleted: the flush waited for the devices' DMA to drain (H5).</summary>
    public bool DrainedDma { get; init; }

    /// <summary>Walked: the table pages read, outermost first.</summary>
    public ImmutableArray<WalkStep> Chain { get; init; }

    /// <summary>Walked: the walk's outcome (fault, domain, IOVA, memory references); DmaAccessed: the translation the
    /// access used; DmaFaulted: the faulted translation.</summary>
    public DmaTranslation Translation { get; init; }

    /// <summary>Walked, DmaAccessed, DmaFaulted: who accessed, and when.</summary>
    public AccessContext Context { get; init; }

    /// <summary>TeardownAudited, IovaLeaked, UnwoundStepNeverDone, TablesFreedUnderAttachedDevice: what the lifecycle found.</summary>
    public LifecycleFact? Lifecycle { get; init; }

    /// <summary>HypercallTrapped: the call code; HypercallHung: the call that never completed.</summary>
    public HypercallCode Hypercall { get; init; }

    /// <param name="traceLine">The replayed trace's line that mapped it; 0 for the synthetic workload.</param>
    public static SimEvent MappingWritten(MappingRecord mapping, string source, long timeNs, long traceLine = 0) =>
        new() { Kind = SimEventKind.MappingWritten, Mapping = mapping, Source = source, TimeNs = timeNs, Domain = mapping.Domain, Id = traceLine };

    public static SimEvent MappingClearing(MappingRecord mapping, bool queued, string source, long timeNs) =>
        new() { Kind = SimEventKind.MappingClearing, Mapping = mapping, Queued = queued, Source = source, TimeNs = timeNs, Domain = mapping.Domain };

    public static SimEvent MappingCleared(MappingRecord mapping, string source, long timeNs) =>
        new() { Kind = SimEventKind.MappingCleared, Mapping = mapping, Source = source, TimeNs = timeNs, Domain = mapping.Domain };

    public static SimEvent MappingReleased(MappingRecord mapping, string source, long timeNs) =>
        new() { Kind = SimEventKind.MappingReleased, Mapping = mapping, Source = source, TimeNs = timeNs, Domain = mapping.Domain };

    /// <param name="handlerFlush">The flush handler's number for the request.</param>
    public static SimEvent FlushStarted(uint domain, long seq, ImmutableArray<FlushVa>? blocks, long handlerFlush, string source, long timeNs) =>
        new() { Kind = SimEventKind.FlushStarted, Domain = domain, FlushSeq = seq, Blocks = blocks, Id = handlerFlush, Source = source, TimeNs = timeNs };

    public static SimEvent FlushCompleted(uint domain, long seq, ImmutableArray<FlushVa>? blocks, string source, long timeNs, long startNs = 0, bool drainedDma = false) =>
        new() { Kind = SimEventKind.FlushCompleted, Domain = domain, FlushSeq = seq, Blocks = blocks, Source = source, TimeNs = timeNs, StartNs = startNs, DrainedDma = drainedDma };

    public static SimEvent Walked(ImmutableArray<WalkStep> chain, in DmaTranslation walk, in AccessContext ctx) =>
        new() { Kind = SimEventKind.Walked, Chain = chain, Translation = walk, Context = ctx, Domain = walk.Domain, Source = ctx.Device, TimeNs = ctx.SimTimeNs };

    /// <param name="programmedFor">The mapping the descriptor was built for at this page, if known.</param>
    public static SimEvent DmaAccessed(in DmaTranslation translation, in AccessContext ctx, MappingFact? programmedFor) =>
        new() { Kind = SimEventKind.DmaAccessed, Translation = translation, Context = ctx, ProgrammedFor = programmedFor, Domain = translation.Domain, Source = ctx.Device, TimeNs = ctx.SimTimeNs };

    /// <param name="programmedFor">The mapping the descriptor was built for at this page, if known.</param>
    public static SimEvent DmaFaulted(in DmaTranslation translation, in AccessContext ctx, MappingFact? programmedFor) =>
        new() { Kind = SimEventKind.DmaFaulted, Translation = translation, Context = ctx, ProgrammedFor = programmedFor, Domain = translation.Domain, Source = ctx.Device, TimeNs = ctx.SimTimeNs };

    /// <param name="vcpu">The index of the vCPU that trapped.</param>
    public static SimEvent HypercallTrapped(HypercallCode code, int vcpu, string source) =>
        new() { Kind = SimEventKind.HypercallTrapped, Hypercall = code, Id = vcpu, Source = source };

    /// <param name="vcpu">The vCPU that issued it ("vcpu3").</param>
    public static SimEvent HypercallHung(string vcpu, HypercallCode code, uint domain, long timeNs) =>
        new() { Kind = SimEventKind.HypercallHung, Source = vcpu, Hypercall = code, Domain = domain, TimeNs = timeNs };

    /// <summary>A lifecycle finding of <paramref name="vcpu"/> ("vcpu0") at <paramref name="timeNs"/>; its kind follows
    /// from the fact's type.</summary>
    public static SimEvent LifecycleFound(LifecycleFact fact, string vcpu, long timeNs) =>
        new()
        {
            Kind = fact switch
            {
                TeardownAudit => SimEventKind.TeardownAudited,
                IovaLeak => SimEventKind.IovaLeaked,
                UnwindOfStepNeverDone => SimEventKind.UnwoundStepNeverDone,
                TablesFreedUnderDevice => SimEventKind.TablesFreedUnderAttachedDevice,
                _ => throw new ArgumentOutOfRangeException(nameof(fact), fact, "not a lifecycle fact the stream knows"),
            },
            Lifecycle = fact, Source = vcpu, TimeNs = timeNs,
            Domain = fact switch { IovaLeak l => l.Domain, TablesFreedUnderDevice t => t.Domain, _ => 0 },
        };
}
