using System.Globalization;

namespace HvIommu.Actors.Reporting;

/// <summary>Progress as one plain line per update, for CI logs and redirected output. The caller limits the rate.</summary>
public sealed class PlainProgress(TextWriter writer) : IRunProgress
{
    private string _title = "run";

    public void Start(string title)
    {
        _title = title;
        writer.WriteLine($"{title}: started");
    }

    public void Update(ProgressSnapshot snapshot) => writer.WriteLine($"{_title}: {Describe(snapshot)}");

    public void Stop() => writer.WriteLine($"{_title}: stopped");

    /// <summary>The snapshot in words: <c>12,000/100,000 ops (12.0%), 45,000 DMA/s, 0 violations, 3.2 s, rss 182 MB (peak 190 MB), heap 41 MB</c>.</summary>
    public static string Describe(ProgressSnapshot s)
    {
        var c = CultureInfo.InvariantCulture;
        var ops = s.TargetOperations is { } target && target > 0
            ? string.Format(c, "{0:N0}/{1:N0} ops ({2:P1})", s.Operations, target, (double)s.Operations / target)
            : string.Format(c, "{0:N0} ops", s.Operations);
        var violations = s.Violations == 1 ? "1 violation" : string.Format(c, "{0:N0} violations", s.Violations);
        var line = string.Format(c, "{0}, {1:N0} DMA/s, {2}, {3:F1} s", ops, s.DmaPerSecond, violations, s.ElapsedSeconds);
        return s.Memory is { } m ? $"{line}, {m.Describe()}" : line;
    }
}
