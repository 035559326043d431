using HvIommu.Model.Events;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Tests.Iommu;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Events;

/// <summary>
/// DMA accesses, DMA faults and hung hypercalls reach the oracle only as events of the run's stream: after the
/// mapping is registered, every step below is an event (mapping written, cleared, flush started and completed,
/// DMA accessed or faulted, hypercall hung), never a call into the oracle.
/// </summary>
[Trait("Category", "Model")]
public sealed class DmaEventTests
{
    private const ulong Iova = 0x7000_0000;
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();
    private readonly FlushSequence _flushes = new();

    /// <summary>dma_map as the driver emits it: the leaf is written, then MappingWritten.</summary>
    private MappingRecord Map(ulong iova)
    {
        var buffer = _rig.Frames.Allocate(FrameOwner.DmaBuffer, ownerId: 0);
        var record = _rig.Mappings.Register(IommuRig.DomainId, iova, buffer, PageSize.Size4K, writable: true, vcpu: 0, nowNs: 0);
        Assert.Equal(MapStatus.Mapped, _rig.Table.Map(iova, buffer, PageSize.Size4K, true));
        _rig.Events.On(SimEvent.MappingWritten(record, "vcpu0", 1));
        return record;
    }

    /// <summary>dma_unmap as the driver emits it: clearing, the leaf cleared, cleared.</summary>
    private void Unmap(MappingRecord record, bool queued = false)
    {
        _rig.Events.On(SimEvent.MappingClearing(record, queued, "vcpu0", 10));
        _rig.Table.Unmap(record.Iova, 0x1000, new IotlbGather());
        _rig.Events.On(SimEvent.MappingCleared(record, "vcpu0", 11));
    }

    /// <summary>A flush of the domain that completes without invalidating anything (the H8 shape): only events.</summary>
    private void FlushThatInvalidatesNothing()
    {
        var seq = _flushes.Next(IommuRig.DomainId);
        _rig.Events.On(SimEvent.FlushStarted(IommuRig.DomainId, seq, null, seq, "flush-handler", 20));
        _rig.Events.On(SimEvent.FlushCompleted(IommuRig.DomainId, seq, null, "flush-handler", 30));
    }

    private void Access(in DmaTranslation t, MappingRecord? programmedFor, bool replay = false) =>
        _rig.Events.On(SimEvent.DmaAccessed(t, IommuRig.Context(_rig.Nic, replay), programmedFor));

    [Fact]
    public void The_oracle_fed_only_events_flags_a_dma_through_a_stale_translation()
    {
        var record = Map(Iova);
        _rig.Translate(_rig.Nic, Iova);
        var cached = _rig.Translate(_rig.Nic, Iova);
        Assert.Equal(TranslationSource.Iotlb, cached.Source);
        Access(cached, record);
        Assert.Equal(0, _rig.Log.Findings);

        Unmap(record);
        FlushThatInvalidatesNothing();
        Access(_rig.Translate(_rig.Nic, Iova), record);

        Assert.Equal(MappingState.Flushed, record.State);
        Assert.Equal(1, _rig.Log.Count(ViolationKind.StaleTranslationAfterFlush));
        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal((ViolationKind.StaleTranslationAfterFlush, record.Serial, "nic"), (v.Kind, v.MappingSerial, v.Device));
    }

    [Fact]
    public void A_dma_event_through_a_freed_mapping_is_reported_once()
    {
        var record = Map(Iova);
        var inFlight = _rig.Translate(_rig.Nic, Iova, AccessKind.Write);
        Unmap(record);
        _rig.FreeAndReuse(record);

        Access(inFlight, record);

        Assert.Equal(1, _rig.Log.Findings);
        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal((ViolationKind.DmaToFreedFrame, record.Serial, record.Gpa), (v.Kind, v.MappingSerial, v.Frame));
    }

    [Fact]
    public void A_programmed_dma_fault_on_a_live_mapping_is_a_lost_mapping_and_a_replayed_one_is_nothing()
    {
        var record = Map(Iova);
        // The leaf vanishes without an unmap (a racing install overwrote its table, H6): the mapping is still live.
        _rig.Table.Unmap(Iova, 0x1000, new IotlbGather());
        var fault = _rig.Translate(_rig.Nic, Iova);
        Assert.False(fault.Ok);

        _rig.Events.On(SimEvent.DmaFaulted(fault, IommuRig.Context(_rig.Nic, replay: true), record));
        Assert.Equal(0, _rig.Log.Findings);
        _rig.Events.On(SimEvent.DmaFaulted(fault, IommuRig.Context(_rig.Nic), record));

        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal((ViolationKind.LostMapping, record.Serial), (v.Kind, v.MappingSerial));
    }

    [Fact]
    public void A_hung_hypercall_event_is_reported_against_its_vcpu_and_domain()
    {
        _rig.Events.On(SimEvent.HypercallHung("vcpu3", HypercallCode.FlushDeviceDomain, IommuRig.DomainId, 500));

        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal((ViolationKind.HypercallHung, "vcpu3", IommuRig.DomainId, 500L), (v.Kind, v.Vcpu, v.Domain, v.SimTimeNs));
        Assert.Contains(HypercallCode.FlushDeviceDomain.LinuxName(), v.Description);
    }

    /// <summary>The DMA data phase is the hottest event of a run: emitting a clean access to the oracle allocates nothing.</summary>
    [Fact]
    public void Emitting_a_clean_dma_access_allocates_nothing()
    {
        var record = Map(Iova);
        var t = _rig.Translate(_rig.Nic, Iova);
        var ctx = IommuRig.Context(_rig.Nic);
        ISimEventSink stream = _rig.Events;
        for (var i = 0; i < 200; i++)
            stream.On(SimEvent.DmaAccessed(t, ctx, record));

        var bytes = SteadyAllocation.Bytes(() =>
        {
            for (var i = 0; i < 5_000; i++)
                stream.On(SimEvent.DmaAccessed(t, ctx, record));
        });

        Assert.Equal(0, bytes);
        Assert.Equal(0, _rig.Log.Findings);
    }
}
