using HvIommu.Model.Randomness;

namespace HvIommu.Model.Workload;

/// <summary>
/// One entry of the synthetic workload's buffer-size mix (<c>hviommu.workload.buffer-sizes</c>): a size
/// (<c>"2M"</c>) or a range (<c>"8K-60K"</c>, uniform in 4 KiB pages), both ends inclusive, in 4 KiB pages.
/// </summary>
public readonly record struct BufferSizeRange(int MinPages, int MaxPages)
{
    /// <summary>The largest buffer the workload maps: 1 GiB.</summary>
    public const int MaxBufferPages = 1 << 18;

    /// <summary>Parses <c>SIZE</c> or <c>SIZE-SIZE</c>, a size being a number of bytes with an optional K, M or G
    /// suffix (powers of 1024), a multiple of 4 KiB from 4K to 1G.</summary>
    /// <returns>Null, with <paramref name="error"/> saying why, when the text is not such a size or range.</returns>
    public static BufferSizeRange? Parse(string text, out string error)
    {
        var parts = text.Split('-');
        if (parts.Length > 2)
        {
            error = "a size (4K, 2M) or a range of two sizes (8K-60K)";
            return null;
        }
        if (!TryPages(parts[0], out var min, out error))
            return null;
        var max = min;
        if (parts.Length == 2 && !TryPages(parts[1], out max, out error))
            return null;
        if (max < min)
        {
            error = "a range whose upper end is not below its lower end (8K-60K, not 60K-8K)";
            return null;
        }
        error = "";
        return new BufferSizeRange(min, max);
    }

    /// <summary>Draws a buffer's pages: the entry's single size, or uniformly in its range.</summary>
    public int Pick(SeededRandom random) => MinPages == MaxPages ? MinPages : (int)random.NextInRange(MinPages, MaxPages + 1L);

    public override string ToString() => MinPages == MaxPages ? Format(MinPages) : $"{Format(MinPages)}-{Format(MaxPages)}";

    /// <summary>A size in pages as the config writes it: 4K, 60K, 2M, 1G.</summary>
    public static string Format(int pages)
    {
        var kib = (long)pages * 4;
        return kib % (1 << 20) == 0 ? $"{kib >> 20}G" : kib % 1024 == 0 ? $"{kib >> 10}M" : $"{kib}K";
    }

    private static bool TryPages(string text, out int pages, out string error)
    {
        pages = 0;
        var t = text.Trim();
        var shift = t.Length > 0 ? char.ToUpperInvariant(t[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 } : 0;
        if (shift > 0)
            t = t[..^1];
        if (!ulong.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n > (1UL << 30))
        {
            error = "a size like 4K, 64K, 2M or 1G";
            return false;
        }
        var bytes = n << shift;
        if (bytes == 0 || bytes % 4096 != 0 || bytes > (ulong)MaxBufferPages << 12)
        {
            error = "sizes are multiples of 4K from 4K to 1G";
            return false;
        }
        pages = (int)(bytes >> 12);
        error = "";
        return true;
    }
}

/// <summary>
/// How the synthetic workload's buffers are backed: a buffer of 2 MiB or more takes physically contiguous 2 MiB (and,
/// from 1 GiB, 1 GiB) pages from the guest's hugetlb pools for as much of it as they cover, the rest 4 KiB frames, so
/// iommu_map can use large leaves for it; a smaller buffer is 4 KiB frames. The pools hold twice what the buffers kept
/// outstanding at once can take.
/// </summary>
public static class BufferBacking
{
    public const int Pages2M = 512;
    public const int Pages1G = 1 << 18;

    /// <summary>The 1 GiB pages, 2 MiB pages and 4 KiB frames a buffer of <paramref name="pages"/> is made of.</summary>
    public static (int OneG, int TwoM, int Small) Split(int pages)
    {
        var oneG = pages / Pages1G;
        var rest = pages % Pages1G;
        return (oneG, rest / Pages2M, rest % Pages2M);
    }

    /// <summary>The hugetlb pools a mix needs for <paramref name="outstanding"/> buffers at once (none without a mix).</summary>
    public static (int TwoM, int OneG) Pools(IReadOnlyList<BufferSizeRange> mix, int outstanding)
    {
        if (mix.Count == 0)
            return (0, 0);
        var largest = mix.Max(r => r.MaxPages);
        var (oneG, _, _) = Split(largest);
        // Within one 1 GiB multiple the 2 MiB part grows with the size; a range across one can end just below it.
        var twoM = mix.Max(r => r.MaxPages / Pages1G > r.MinPages / Pages1G ? Pages1G / Pages2M - 1 : Split(r.MaxPages).TwoM);
        return (2 * outstanding * twoM, 2 * outstanding * oneG);
    }

    /// <summary>The 4 KiB frames a buffer of the mix can take at most.</summary>
    public static int MaxSmallFrames(IReadOnlyList<BufferSizeRange> mix) =>
        mix.Count == 0 ? 0 : mix.Max(r => r.MaxPages / Pages2M > r.MinPages / Pages2M ? Pages2M - 1 : Split(r.MaxPages).Small);
}
