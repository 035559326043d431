using System.Collections.Frozen;
using System.Text;

namespace HvIommu.Model.Hypercalls;

/// <summary>
/// Maps ABI enum members to the Linux <c>hvgdk_mini.h</c> spelling (brief §2.2, §2.3): the C# member name
/// in PascalCase becomes SCREAMING_SNAKE_CASE behind a prefix (<c>FlushDeviceDomain</c> →
/// <c>HVCALL_FLUSH_DEVICE_DOMAIN</c>). One table per enum, built once.
/// </summary>
internal sealed class AbiNames<TEnum> where TEnum : struct, Enum
{
    private readonly FrozenDictionary<TEnum, string> _linuxNames;
    private readonly FrozenDictionary<string, TEnum> _byName;

    public AbiNames(string linuxPrefix)
    {
        var linux = new Dictionary<TEnum, string>();
        var byName = new Dictionary<string, TEnum>(StringComparer.OrdinalIgnoreCase);
        foreach (var value in Enum.GetValues<TEnum>())
        {
            var name = value.ToString();
            var snake = ToScreamingSnake(name);
            linux[value] = linuxPrefix + snake;
            byName[name] = value;
            byName[linuxPrefix + snake] = value;
        }
        _linuxNames = linux.ToFrozenDictionary();
        _byName = byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The Linux name, or the number in hex for a value the ABI does not define.</summary>
    public string LinuxName(TEnum value) =>
        _linuxNames.TryGetValue(value, out var name) ? name : $"0x{Convert.ToUInt64(value):X4}";

    /// <summary>Accepts the C# name or the Linux name, case-insensitively; never a number.</summary>
    public bool TryParse(string? text, out TEnum value)
    {
        value = default;
        return text is not null && _byName.TryGetValue(text.Trim(), out value);
    }

    internal static string ToScreamingSnake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (i > 0 && char.IsUpper(c))
                sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString();
    }
}
