using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Iommu;

/// <summary>The IOMMU's lookup order (brief §4): ATC → IOTLB → walk cache → nested walk, and its faults.</summary>
[Trait("Category", "Model")]
public sealed class IommuTranslatorTests
{
    private const ulong Iova = 0xFFFF_F000;

    /// <summary>A cold 4-level nested walk: 4 stage-1 reads and 5 stage-2 walks of 4 references.</summary>
    private const int ColdWalkReferences = 24;

    /// <summary>A walk resumed at the PTE table: 1 stage-1 read and 2 stage-2 walks.</summary>
    private const int PteOnlyWalkReferences = 9;

    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();

    [Fact]
    public void Device_without_ats_walks_first_then_hits_the_iotlb()
    {
        var record = _rig.MapBuffer(Iova);

        var first = _rig.Translate(_rig.Nic, Iova + 0x123);
        var second = _rig.Translate(_rig.Nic, Iova + 0x456);

        Assert.Equal((TranslationSource.Walk, TranslationSource.Iotlb), (first.Source, second.Source));
        Assert.Equal(record.Gpa + 0x456, second.Gpa);
        Assert.Equal(record.Gpa + 0x456 + Stage2.DefaultHostOffset, second.Hpa);
        Assert.Equal((record.Serial, record.FrameGeneration), (second.MappingSerial, second.FrameGeneration));
        Assert.Equal((1L, (long)ColdWalkReferences), (_rig.Translator.Walks, _rig.Translator.WalkReferences));
    }

    [Fact]
    public void Ats_device_walks_first_then_hits_its_atc_then_the_iotlb_once_the_atc_is_invalidated()
    {
        _rig.MapBuffer(Iova);

        var walk = _rig.Translate(_rig.AtsDevice, Iova);
        var atc = _rig.Translate(_rig.AtsDevice, Iova);
        _rig.AtsDevice.Atc!.InvalidateAll();
        var iotlb = _rig.Translate(_rig.AtsDevice, Iova);

        Assert.Equal(
            [TranslationSource.Walk, TranslationSource.Atc, TranslationSource.Iotlb],
            new[] { walk.Source, atc.Source, iotlb.Source });
        // The ATC answered: the same translation, and no nested-walk memory references this time.
        Assert.Equal(walk with { Source = TranslationSource.Atc, WalkReferences = 0 }, atc);
        Assert.True(walk.WalkReferences > 0);
    }

    [Fact]
    public void Iotlb_invalidation_forces_a_walk_that_resumes_from_the_walk_cache()
    {
        _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        _rig.Host.Iotlb.InvalidateDomain(IommuRig.DomainId);

        var again = _rig.Translate(_rig.Nic, Iova);

        Assert.Equal(TranslationSource.Walk, again.Source);
        Assert.Equal(2, _rig.Translator.Walks);
        Assert.Equal(ColdWalkReferences + PteOnlyWalkReferences, _rig.Translator.WalkReferences);
    }

    [Fact]
    public void Walk_cache_invalidation_forces_a_walk_from_the_root()
    {
        _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        _rig.Host.Iotlb.InvalidateDomain(IommuRig.DomainId);
        _rig.Host.WalkCache.InvalidateDomain(IommuRig.DomainId);

        Assert.True(_rig.Translate(_rig.Nic, Iova).Ok);
        Assert.Equal(2 * ColdWalkReferences, _rig.Translator.WalkReferences);
    }

    [Fact]
    public void Write_to_a_read_only_mapping_faults_on_the_walk_the_iotlb_and_the_atc()
    {
        _rig.MapBuffer(Iova, writable: false);

        var walk = _rig.Translate(_rig.Nic, Iova, AccessKind.Write);
        Assert.True(_rig.Translate(_rig.Nic, Iova).Ok);
        var iotlb = _rig.Translate(_rig.Nic, Iova, AccessKind.Write);

        Assert.True(_rig.Translate(_rig.AtsDevice, Iova).Ok);
        var atc = _rig.Translate(_rig.AtsDevice, Iova, AccessKind.Write);

        Assert.Equal((WalkFault.WriteToReadOnly, TranslationSource.Walk), (walk.Fault, walk.Source));
        Assert.Equal((WalkFault.WriteToReadOnly, TranslationSource.Iotlb, false), (iotlb.Fault, iotlb.Source, iotlb.Ok));
        Assert.Equal((WalkFault.WriteToReadOnly, TranslationSource.Atc, false), (atc.Fault, atc.Source, atc.Ok));
    }

    [Fact]
    public void Unmapped_iova_faults_not_present_and_fills_nothing()
    {
        var t = _rig.Translate(_rig.Nic, Iova);
        Assert.Equal((false, WalkFault.NotPresent, TranslationSource.Walk), (t.Ok, t.Fault, t.Source));
        Assert.Equal(0, _rig.Host.Iotlb.Count);
        Assert.Equal(0, _rig.AtsDevice.Atc!.Count);
    }

    [Fact]
    public void Blocked_view_faults_even_with_a_warm_iotlb()
    {
        _rig.MapBuffer(Iova);
        _rig.Translate(_rig.Nic, Iova);
        Assert.Equal(HvStatus.Success, _rig.Host.ConfigureDomain(new ConfigureDeviceDomainInput(IommuRig.Domain(IommuRig.DomainId), DeviceDomainSettings.BlockAll)));

        var t = _rig.Translate(_rig.Nic, Iova);

        Assert.Equal((false, WalkFault.Blocked, TranslationSource.None), (t.Ok, t.Fault, t.Source));
    }

    [Fact]
    public void Detached_device_faults_blocked()
    {
        Assert.Equal(HvStatus.Success, _rig.Host.Detach(new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, IommuRig.NicId)));
        Assert.Equal(WalkFault.Blocked, _rig.Translate(_rig.Nic, Iova).Fault);
    }

    [Fact]
    public void Identity_view_translates_the_gpa_through_stage2_only()
    {
        _rig.MoveToNewDomain(_rig.AtsDevice, 1, DeviceDomainSettings.Identity);
        var buffer = _rig.Frames.Allocate(FrameOwner.DmaBuffer, 0);

        var t = _rig.Translate(_rig.AtsDevice, buffer + 0x88);
        var outside = _rig.Translate(_rig.AtsDevice, IommuRig.MemoryBytes);

        Assert.Equal((true, TranslationSource.Identity, buffer + 0x88, buffer + 0x88 + Stage2.DefaultHostOffset), (t.Ok, t.Source, t.Gpa, t.Hpa));
        Assert.Equal(_rig.Frames.GenerationOf(buffer), t.FrameGeneration);
        Assert.Equal((WalkFault.Stage2Fault, TranslationSource.Identity), (outside.Fault, outside.Source));
        Assert.Equal(0, _rig.Translator.Walks);
        Assert.Equal(0, _rig.AtsDevice.Atc!.Count);
    }

    [Fact]
    public void Walk_of_a_leaf_no_live_mapping_backs_carries_no_mapping_serial()
    {
        var buffer = _rig.Frames.Allocate(FrameOwner.DmaBuffer, 0);
        Assert.Equal(MapStatus.Mapped, _rig.Table.Map(Iova, buffer, PageSize.Size4K, true));

        var t = _rig.Translate(_rig.Nic, Iova);

        Assert.True(t.Ok);
        Assert.Equal((0L, _rig.Frames.GenerationOf(buffer)), (t.MappingSerial, t.FrameGeneration));
    }
}
