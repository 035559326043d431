namespace HvIommu.Model.Driver;

/// <summary>dma-iommu's use of the IOVA domain (drivers/iommu/dma-iommu.c iommu_dma_alloc_iova,
/// iommu_dma_free_iova).</summary>
public sealed partial class IovaDomain
{
    /// <summary>The last byte of the 32-bit DMA space (DMA_BIT_MASK(32)).</summary>
    public const ulong DmaBitMask32 = uint.MaxValue;

    /// <summary>
    /// iommu_dma_alloc_iova: <paramref name="pages"/> granules below <paramref name="dmaLimit"/> (the device's DMA
    /// mask clamped to the aperture, inclusive). A PCI device first tries the 32-bit space without flushing the
    /// range caches ("Try to use all the 32-bit PCI addresses first"); the first time that fails its
    /// <paramref name="pci32BitWorkaround"/> is cleared for good and the full limit is used, flushing the caches
    /// if the tree has no room.
    /// </summary>
    /// <returns>The IOVA in bytes, or 0 when the space is exhausted.</returns>
    public ulong DmaAllocIova(ulong pages, ulong dmaLimit, ref bool pci32BitWorkaround, int cpu, long nowNs)
    {
        if (dmaLimit > DmaBitMask32 && pci32BitWorkaround)
        {
            var low = AllocIovaFast(pages, DmaBitMask32 >> PageShift, flushRcache: false, cpu, nowNs);
            if (low != 0)
                return low << PageShift;
            pci32BitWorkaround = false;
        }
        return AllocIovaFast(pages, dmaLimit >> PageShift, flushRcache: true, cpu, nowNs) << PageShift;
    }

    /// <summary>iommu_dma_free_iova without a flush queue: free_iova_fast of the mapped size (not the rounded one:
    /// its size class is the same).</summary>
    public void DmaFreeIova(ulong iova, ulong pages, int cpu, long nowNs) =>
        FreeIovaFast(iova >> PageShift, pages, cpu, nowNs);
}
