namespace HvIommu.Actors.Sweep;

/// <summary>
/// One varied config key of a sweep and the values it takes: <c>--vary KEY=V1,V2,…</c>. The key is a
/// config path (<c>hviommu.hypervisor.flush.drain-dma</c>; the leading <c>hviommu.</c> may be left out), each
/// value a HOCON value as it would be written in a config file (<c>on</c>, <c>last-domain</c>, <c>8</c>).
/// </summary>
public sealed record SweepAxis(string Key, IReadOnlyList<string> Values)
{
    /// <summary>Parses <c>KEY=V1,V2,…</c>.</summary>
    /// <exception cref="FormatException">No '=', an empty key, no value, an empty or repeated value.</exception>
    public static SweepAxis Parse(string text)
    {
        var eq = text.IndexOf('=');
        if (eq <= 0)
            throw new FormatException($"--vary '{text}' is not KEY=V1,V2,… (e.g. hviommu.hypervisor.flush.drain-dma=on,off)");
        var key = text[..eq].Trim();
        if (!key.StartsWith("hviommu.", StringComparison.Ordinal) && !key.StartsWith("akka.", StringComparison.Ordinal))
            key = "hviommu." + key;
        var values = text[(eq + 1)..].Split(',').Select(v => v.Trim()).ToList();
        if (values.Count == 0 || values.Any(v => v.Length == 0))
            throw new FormatException($"--vary '{text}': every value must be non-empty (V1,V2,…)");
        var repeated = values.GroupBy(v => v, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
            throw new FormatException($"--vary '{text}': value '{repeated.Key}' is given twice");
        return new SweepAxis(key, values);
    }

    /// <summary>The HOCON line that sets this key to <paramref name="value"/>.</summary>
    public string Override(string value) => $"{Key} = {value}";
}
