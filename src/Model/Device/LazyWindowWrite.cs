using HvIommu.Model.Mappings;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Device;

/// <summary>
/// The one device write the simulator leaves out, decided from the translation and guest memory alone (the device
/// does not ask the oracle): a write through a translation of a mapping whose unmap is still in a flush queue (lazy
/// mode, brief §5.3: the accepted H3 window) that lands on a frame the guest has since reused for its own structures
/// (an I/O page-table page, a kernel page). The buffer was freed at dma_unmap (§5.2 step 5) and the page allocator
/// may hand it straight to iommu_alloc_pages_node; on real hardware such a write corrupts the tables — the reason
/// Linux keeps untrusted devices strict. The oracle counts the access (with the frame's new owner in its text) but
/// an accepted, counted window must not rewrite the page tables behind its back, where every later walk would report
/// the damage as a lost mapping or a leak of its own. Every other write, a violation's included, is performed.
/// </summary>
public static class LazyWindowWrite
{
    /// <summary>True when the write of an access through <paramref name="t"/> by <paramref name="ctx"/> (the device's
    /// context when it translated) is left out: the device is neither blocked nor detached, the translation is not
    /// the identity map, its HPA still backs a guest frame (<paramref name="stage2"/>), the generation of the page's
    /// head frame has moved on since the translation was made, its mapping is unmapped and queued in a flush queue,
    /// and the 4 KiB frame written is now a page-table or kernel page (<paramref name="frames"/>).</summary>
    public static bool IsSuppressed(in DmaTranslation t, in AccessContext ctx, Stage2 stage2, FrameAllocator frames)
    {
        if (ctx.DeviceBlocked || ctx.DeviceDetached || t.Source == TranslationSource.Identity)
            return false;
        if (t.Mapping is not { Queued: true, State: MappingState.Unmapped })
            return false;
        if (!stage2.TryReverse(t.Hpa, out var gpa))
            return false;
        // A translation captures the generation of its page's head frame (a large buffer is registered by its head).
        var head = gpa & ~(t.Size.Bytes() - 1);
        if (frames.GetInfo(head).Generation == t.FrameGeneration)
            return false;
        return frames.GetInfo(gpa & ~GuestMemory.PageMask).Owner is FrameOwner.PageTable or FrameOwner.Kernel;
    }
}
