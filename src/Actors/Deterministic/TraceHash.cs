namespace HvIommu.Actors.Deterministic;

/// <summary>
/// A 64-bit FNV-1a fingerprint of a run's delivery order: for every delivered user message it folds in the
/// FNV-1a hash of the receiver's path (without address) and of the message's type name. Both strings are
/// hashed over their UTF-16 code units by this code, never with <see cref="string.GetHashCode()"/>, so the
/// value is the same in every process and on every machine. Folding the two string hashes (16 bytes per
/// delivery) instead of the strings themselves keeps the per-message cost constant.
/// </summary>
public sealed class TraceHash
{
    public const ulong OffsetBasis = 0xcbf29ce484222325UL;
    private const ulong Prime = 0x100000001b3UL;

    public ulong Value { get; private set; } = OffsetBasis;

    /// <summary>Number of deliveries folded in.</summary>
    public long Count { get; private set; }

    public void Reset()
    {
        Value = OffsetBasis;
        Count = 0;
    }

    public void Add(ulong receiverPathHash, ulong messageTypeHash)
    {
        var h = Fold(Value, receiverPathHash);
        Value = Fold(h, messageTypeHash);
        Count++;
    }

    /// <summary>FNV-1a over a string's UTF-16 code units (two bytes each, low byte first).</summary>
    public static ulong Of(string text)
    {
        var h = OffsetBasis;
        foreach (var c in text)
        {
            h = (h ^ (byte)c) * Prime;
            h = (h ^ (byte)(c >> 8)) * Prime;
        }
        return h;
    }

    public override string ToString() => Value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private static ulong Fold(ulong h, ulong value)
    {
        for (var i = 0; i < 8; i++)
        {
            h = (h ^ (byte)value) * Prime;
            value >>= 8;
        }
        return h;
    }
}
