namespace HvIommu.Model.Hypercalls;

/// <summary>
/// The 64-bit hypercall input control word (brief §2.1, TLFS): call code bits 15:0, fast bit 16,
/// variable-header size bits 26:17, rep count bits 43:32, rep start index bits 59:48. Other bits are
/// reserved and must be zero; <see cref="TryDecode"/> refuses a word that sets them.
/// </summary>
public readonly record struct HypercallControl(
    HypercallCode Code,
    bool Fast = false,
    int VariableHeaderSize = 0,
    int RepCount = 0,
    int RepStart = 0)
{
    private const int FastBit = 16;
    private const int VarHeaderShift = 17, VarHeaderWidth = 10;
    private const int RepCountShift = 32, RepWidth = 12;
    private const int RepStartShift = 48;

    private const ulong DefinedBits =
        0xFFFFUL | (1UL << FastBit) | (0x3FFUL << VarHeaderShift) | (0xFFFUL << RepCountShift) | (0xFFFUL << RepStartShift);

    /// <summary>Largest rep count or rep start index the 12-bit fields can hold.</summary>
    public const int MaxReps = (1 << RepWidth) - 1;

    public ulong Encode() =>
        (ulong)Code
        | (Fast ? 1UL << FastBit : 0)
        | BitField.Put(VariableHeaderSize, VarHeaderShift, VarHeaderWidth, nameof(VariableHeaderSize))
        | BitField.Put(RepCount, RepCountShift, RepWidth, nameof(RepCount))
        | BitField.Put(RepStart, RepStartShift, RepWidth, nameof(RepStart));

    public static HypercallControl Decode(ulong word) =>
        TryDecode(word, out var control)
            ? control
            : throw new ArgumentException($"control word 0x{word:x16} sets reserved bits", nameof(word));

    public static bool TryDecode(ulong word, out HypercallControl control)
    {
        control = new HypercallControl(
            (HypercallCode)BitField.Get(word, 0, 16),
            BitField.Get(word, FastBit, 1) != 0,
            (int)BitField.Get(word, VarHeaderShift, VarHeaderWidth),
            (int)BitField.Get(word, RepCountShift, RepWidth),
            (int)BitField.Get(word, RepStartShift, RepWidth));
        return (word & ~DefinedBits) == 0;
    }
}

/// <summary>
/// The 64-bit hypercall result value (brief §2.1): status bits 15:0, reps completed bits 43:32. A rep call
/// that returns early reports how many reps it finished; Linux re-issues from there (brief §2.1, [HV-REP]).
/// </summary>
public readonly record struct HypercallResult(HvStatus Status, int RepsCompleted = 0)
{
    public ulong Encode() =>
        (ulong)Status | BitField.Put(RepsCompleted, 32, 12, nameof(RepsCompleted));

    public static HypercallResult Decode(ulong word) =>
        new((HvStatus)BitField.Get(word, 0, 16), (int)BitField.Get(word, 32, 12));
}
