using HvIommu.Model.Caches;
using HvIommu.Model.Events;
using HvIommu.Model.Iommu;
using HvIommu.Model.Ledger;
using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.Oracle;
using HvIommu.Model.PageTables;
using HvIommu.Model.Tests.Iommu;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Oracle;

/// <summary>
/// A device descriptor carries its pages' mapping facts (<see cref="MappingFact"/>), not the ledger's records: whether
/// the mapping a DMA was programmed for is still live is the ledger's answer, found by domain, IOVA and size and
/// compared by serial, so a mapping unmapped and replaced at the same IOVA is never taken for its successor.
/// </summary>
[Trait("Category", "Model")]
public sealed class ProgrammedMappingTests
{
    private const ulong Iova = 0x5000_0000;
    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    private static DmaTranslation FaultAt(ulong iova) =>
        DmaTranslation.Faulted(WalkFault.NotPresent, TranslationSource.Walk, IommuRig.DomainId, iova);

    [Fact]
    public void A_fault_for_a_descriptor_of_a_mapping_unmapped_and_remapped_at_its_iova_is_not_a_lost_mapping_and_one_for_the_new_mapping_is()
    {
        var old = _rig.MapBuffer(Iova);
        _rig.Unmap(old);
        _rig.FlushDomain();
        var again = _rig.MapBuffer(Iova);
        Assert.NotEqual(old.Serial, again.Serial);
        // The new leaf disappears behind the driver's back (a racy table install, H6).
        _rig.Table.Unmap(Iova, 0x1000, new IotlbGather());

        MappingFact programmedForOld = old, programmedForNew = again;
        Assert.Null(_rig.Mappings.Live(programmedForOld));
        Assert.Same(again, _rig.Mappings.Live(programmedForNew));

        _rig.Events.On(SimEvent.DmaFaulted(FaultAt(Iova), IommuRig.Context(_rig.Nic), programmedForOld));
        Assert.Equal(0, _rig.Log.Total);
        _rig.Events.On(SimEvent.DmaFaulted(FaultAt(Iova), IommuRig.Context(_rig.Nic), programmedForNew));
        var lost = Assert.Single(_rig.Log.Kept);
        Assert.Equal((ViolationKind.LostMapping, again.Serial), (lost.Kind, lost.MappingSerial));
    }

    [Fact]
    public void A_dma_for_the_new_mapping_through_the_old_mappings_stale_entry_is_still_flagged()
    {
        var old = _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        // The IOTLB keeps the old mapping: its flush completes without invalidating anything (H8's shape).
        _rig.Unmap(old);
        _rig.Mappings.FlushCompleted(IommuRig.DomainId, _rig.Mappings.FlushStarted(IommuRig.DomainId), null, 20);
        var again = _rig.MapBuffer(Iova);

        var stale = _rig.Translate(_rig.Nic, Iova);
        Assert.Equal((TranslationSource.Iotlb, old.Serial), (stale.Source, stale.Mapping!.Serial));
        _rig.Events.On(SimEvent.DmaAccessed(stale, IommuRig.Context(_rig.Nic), again));

        var v = Assert.Single(_rig.Log.Kept);
        Assert.Equal((ViolationKind.StaleTranslationAfterFlush, old.Serial), (v.Kind, v.MappingSerial));
    }

    [Fact]
    public void Two_live_mappings_at_one_iova_are_each_live_until_their_own_unmap()
    {
        var first = _rig.MapBuffer(Iova);
        // A second registration at the same IOVA and size before the first is unmapped (a driver that maps an IOVA
        // it still holds): the registry keeps both live.
        var second = _rig.Mappings.Register(IommuRig.DomainId, Iova, _rig.Frames.Allocate(FrameOwner.DmaBuffer, ownerId: 0),
            PageSize.Size4K, writable: true, vcpu: 0, nowNs: 0);

        Assert.Same(first, _rig.Mappings.Live(first));
        Assert.Same(second, _rig.Mappings.Live(second));
        Assert.Equal(2, _rig.Mappings.Retention.Live);

        _rig.Unmap(first);
        Assert.Null(_rig.Mappings.Live(first));
        Assert.Same(second, _rig.Mappings.Live(second));
        Assert.Equal(1, _rig.Mappings.Retention.Live);

        // After its own unmap a fault for the displaced one is not a lost mapping.
        _rig.Events.On(SimEvent.DmaFaulted(FaultAt(Iova), IommuRig.Context(_rig.Nic), first));
        Assert.Equal(0, _rig.Log.Total);
    }

    [Fact]
    public void Over_many_map_unmap_flush_cycles_through_descriptors_the_ledger_stays_flat()
    {
        const int cycles = 5_000;
        MappingFact? previous = null;
        for (var i = 0; i < cycles; i++)
        {
            var record = _rig.MapBuffer(Iova);
            if (previous is not null)
                Assert.Null(_rig.Mappings.Live(previous));
            Assert.Same(record, _rig.Mappings.Live(record));
            _rig.Unmap(record);
            _rig.FlushDomain();
            _rig.Frames.Free(record.Gpa);
            previous = record;
        }

        Assert.Equal(new MappingRetention(Live: 0, RecentlyUnmapped: 1, AwaitingFlush: 0, AwaitingFlushWeak: 0), _rig.Mappings.Retention);
    }
}
