namespace HvIommu.Model.Caches;

/// <summary>Hash of a cache tag (domain, small discriminator, page number or prefix); allocation-free.</summary>
internal static class CacheKeyHash
{
    public static int Mix(uint domain, int discriminator, ulong number)
    {
        var h = (number * 0x9E3779B97F4A7C15UL) ^ (((ulong)domain << 32) | (uint)discriminator) * 0xC2B2AE3D27D4EB4FUL;
        return (int)(h ^ (h >> 32));
    }
}
