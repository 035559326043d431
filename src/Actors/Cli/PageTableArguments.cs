using HvIommu.Model.PageTables;

namespace HvIommu.Actors.Cli;

/// <summary>One <c>--map IOVA=GPA,SIZE,PERMS</c> of the <c>pagetable</c> command.</summary>
public sealed record MapArgument(string Text, ulong Iova, ulong Gpa, PageSize Size, bool Writable);

/// <summary>One <c>--unmap IOVA,SIZE</c> of the <c>pagetable</c> command.</summary>
public sealed record UnmapArgument(string Text, ulong Iova, ulong Length);

/// <summary>Parsing of the <c>pagetable</c> command's mapping arguments; errors name the argument and what is allowed.</summary>
public static class PageTableArguments
{
    public static MapArgument ParseMap(string text)
    {
        var eq = text.IndexOf('=');
        var parts = eq < 0 ? [] : text[(eq + 1)..].Split(',');
        if (parts.Length != 3)
            throw new UsageException($"--map '{text}' is not IOVA=GPA,SIZE,PERMS (for example 0x200000=0x1000000,2M,rw)");
        var iova = CommonOptions.ParseUInt64("--map IOVA", text[..eq]);
        var gpa = CommonOptions.ParseUInt64("--map GPA", parts[0]);
        var writable = parts[2] switch
        {
            "r" => false,
            "rw" => true,
            _ => throw new UsageException($"--map '{text}': PERMS '{parts[2]}' is not r or rw"),
        };
        return new MapArgument(text, iova, gpa, ParseSize("--map", text, parts[1]), writable);
    }

    public static UnmapArgument ParseUnmap(string text)
    {
        var parts = text.Split(',');
        if (parts.Length != 2)
            throw new UsageException($"--unmap '{text}' is not IOVA,SIZE (for example 0x200000,2M)");
        var iova = CommonOptions.ParseUInt64("--unmap IOVA", parts[0]);
        var length = TryParseSize(parts[1], out var size) ? size.Bytes() : CommonOptions.ParseUInt64("--unmap SIZE", parts[1]);
        return new UnmapArgument(text, iova, length);
    }

    private static PageSize ParseSize(string option, string text, string size)
        => TryParseSize(size, out var parsed)
            ? parsed
            : throw new UsageException($"{option} '{text}': SIZE '{size}' is not 4K, 2M or 1G");

    private static bool TryParseSize(string text, out PageSize size)
    {
        foreach (var candidate in Enum.GetValues<PageSize>())
        {
            if (string.Equals(candidate.Name(), text, StringComparison.OrdinalIgnoreCase))
            {
                size = candidate;
                return true;
            }
        }
        size = default;
        return false;
    }
}
