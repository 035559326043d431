using HvIommu.Model.Device;
using HvIommu.Model.Memory;
using HvIommu.Model.Settings;
using HvIommu.Model.Tests.Iommu;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Device;

/// <summary>
/// The device's path to memory (<see cref="DeviceDataPath"/>): what a data phase writes follows from the translation
/// and guest memory alone — the one write left out is a lazy-window write onto a frame reused as a page table (H3),
/// whatever the oracle says of it — and each translation is costed by where it came from.
/// </summary>
[Trait("Category", "Model")]
public sealed class DeviceDataPathTests
{
    private const ulong Iova = 0x5000_0000;
    private static readonly LatencySettings Latency = new(VmExitNs: 1, FlushDomainNs: 1, FlushListNs: 1, AtcInvalidateNs: 1,
        IotlbHitNs: 10, WalkReferenceNs: 100, DmaTransferNs: 1000);

    private readonly IommuRig _rig = new IommuRig().WithPagingDomain();
    private readonly DeviceDataPath _path;

    public DeviceDataPathTests() =>
        _path = new DeviceDataPath(_rig.Translator, _rig.Host, _rig.Memory, _rig.Frames, _rig.Nic, Latency);

    private DmaTransaction Translated(ulong iova, AccessKind access, out AccessContext ctx)
    {
        var tx = new DmaTransaction(null, iova, access, replay: false, mapping: null, bytes: 64);
        tx.Translation = _path.Translate(iova, access, replay: false, step: 1, out var view, out ctx, out _);
        tx.View = view;
        return tx;
    }

    private ulong FirstWord(ulong gpa)
    {
        var bytes = new byte[8];
        _rig.Memory.Read(gpa, bytes);
        return BitConverter.ToUInt64(bytes);
    }

    [Fact]
    public void A_lazy_window_write_onto_a_frame_reused_as_a_page_table_is_not_performed_and_a_strict_one_is()
    {
        var lazy = _rig.MapBuffer(Iova);
        var window = Translated(Iova, AccessKind.Write, out var windowCtx);
        _rig.Unmap(lazy, queued: true);
        _rig.Frames.Free(lazy.Gpa);
        Assert.Equal(lazy.Gpa, _rig.Frames.Allocate(FrameOwner.PageTable, (int)IommuRig.DomainId, zero: true));

        Assert.Equal(-1, _path.Transfer(window, windowCtx, out var suppressed));
        Assert.True(suppressed);
        Assert.Equal(0UL, FirstWord(lazy.Gpa));

        const ulong other = Iova + 0x1000;
        var strict = _rig.MapBuffer(other);
        var late = Translated(other, AccessKind.Write, out var lateCtx);
        _rig.Unmap(strict, queued: false);
        _rig.Frames.Free(strict.Gpa);
        Assert.Equal(strict.Gpa, _rig.Frames.Allocate(FrameOwner.PageTable, (int)IommuRig.DomainId, zero: true));

        Assert.Equal(64, _path.Transfer(late, lateCtx, out suppressed));
        Assert.False(suppressed);
        Assert.Equal(0xA5A5_A5A5_A5A5_A5A5UL, FirstWord(strict.Gpa));
        Assert.Equal(2, _path.Transfers);
    }

    [Fact]
    public void A_walk_costs_its_references_and_an_iotlb_hit_its_lookup()
    {
        _rig.MapBuffer(Iova);
        var walk = _path.Translate(Iova, AccessKind.Read, replay: false, step: 1, out _, out _, out var walkNs);
        var hit = _path.Translate(Iova, AccessKind.Read, replay: false, step: 2, out _, out var ctx, out var hitNs);

        Assert.Equal((TranslationSource.Walk, TranslationSource.Iotlb), (walk.Source, hit.Source));
        Assert.Equal(10 + 100 * walk.WalkReferences, walkNs);
        Assert.Equal(10, hitNs);
        Assert.Equal((CacheOutcome.IotlbMiss, CacheOutcome.IotlbHit), (_path.Outcome(walk.Source), _path.Outcome(hit.Source)));
        Assert.Equal((1L, walk.WalkReferences, walkNs + hitNs), (_path.IotlbHits, _path.WalkReferences, _path.ModelledNs));
        Assert.Equal(("nic", IommuRig.DomainId, 2L), (ctx.Device, ctx.DeviceDomain, ctx.Step));
    }
}
