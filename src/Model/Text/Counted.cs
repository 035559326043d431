using System.Globalization;

namespace HvIommu.Model.Text;

/// <summary>
/// A count and its noun for messages and reports, in the singular for exactly one ("1 page", "2 pages",
/// "12,345 schedules"): the output never says "1 pages". Numbers use the invariant culture with thousands separators.
/// </summary>
public static class Counted
{
    /// <summary><paramref name="n"/> followed by <paramref name="singular"/>, or by <paramref name="plural"/>
    /// (default: singular + "s") when n is not 1.</summary>
    public static string Of(long n, string singular, string? plural = null) =>
        n == 1 ? "1 " + singular : n.ToString("N0", CultureInfo.InvariantCulture) + " " + (plural ?? singular + "s");

    /// <inheritdoc cref="Of(long, string, string?)"/>
    public static string Of(ulong n, string singular, string? plural = null) =>
        n == 1 ? "1 " + singular : n.ToString("N0", CultureInfo.InvariantCulture) + " " + (plural ?? singular + "s");
}
