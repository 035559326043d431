namespace HvIommu.Model.Hypercalls;

/// <summary>Insert/extract of a bit field in a 64-bit ABI word, rejecting values that do not fit.</summary>
internal static class BitField
{
    public static ulong Get(ulong word, int shift, int width) => (word >> shift) & Mask(width);

    public static ulong Put(ulong value, int shift, int width, string name)
    {
        if (value > Mask(width))
            throw new ArgumentOutOfRangeException(name, value, $"does not fit in {width} bits");
        return value << shift;
    }

    public static ulong Put(int value, int shift, int width, string name) =>
        value < 0
            ? throw new ArgumentOutOfRangeException(name, value, "must not be negative")
            : Put((ulong)value, shift, width, name);

    private static ulong Mask(int width) => width >= 64 ? ulong.MaxValue : (1UL << width) - 1;
}
