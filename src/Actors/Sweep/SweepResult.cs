using HvIommu.Model.Settings;

namespace HvIommu.Actors.Sweep;

/// <summary>One row of the contract table: a cell's settings and what its schedules showed.</summary>
/// <param name="Settings">KEY → value, in the order the keys were varied.</param>
/// <param name="Violations">Violation kind → number of schedules that showed it.</param>
/// <param name="First">The violating schedule with the lowest seed, written so <c>replay</c> reproduces it; null when safe.</param>
/// <param name="Expect">The cell's hviommu.expect (with the kind when one is named).</param>
/// <param name="Matched">The cell's outcome matched its expectation (clean: no violation; violation: that kind found).</param>
/// <param name="Failure">The simulator failed on one of the cell's schedules (seed and message), or null.</param>
public sealed record CellResult(
    int Index,
    IReadOnlyList<KeyValuePair<string, string>> Settings,
    string Description,
    long Schedules,
    long Steps,
    IReadOnlyDictionary<string, long> Violations,
    long WithViolations,
    FirstFound? First,
    string Expect,
    bool Matched,
    string? Failure)
{
    /// <summary>No schedule of the cell showed a violation, and at least one ran: a cell the sweep never reached (it
    /// stopped first, on a simulator failure elsewhere) is not called safe.</summary>
    public bool Safe => WithViolations == 0 && Failure is null && Schedules > 0;

    /// <summary>The sweep stopped before it ran any schedule of this cell.</summary>
    public bool NotRun => Schedules == 0 && WithViolations == 0 && Failure is null;

    /// <summary>The kinds found, most frequent first: <c>IsolationBreach ×12, DmaToFreedFrame ×3</c>.</summary>
    public string KindsText => string.Join(", ", Violations.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} ×{kv.Value:N0}"));

    public static CellResult Of(SweepPlan plan, int cell, CellTally tally, FirstFound? first)
    {
        var settings = plan.CellConfigs[cell].Settings;
        var expectViolation = settings.Expect == Expectation.Violation;
        var matched = tally.FirstFailure is null && (expectViolation
            ? settings.ExpectKind is { } kind ? tally.Kinds.ContainsKey(kind) : tally.WithViolations > 0
            : tally.WithViolations == 0 && tally.Schedules > 0);
        var expect = expectViolation ? "violation" + (settings.ExpectKind is { } k ? " " + k : "") : "clean";
        var failure = tally.FirstFailure is { } f ? $"seed {f.Seed}: {f.Failure}" : first?.Failure;
        return new CellResult(cell, plan.Settings(cell), plan.Describe(cell), tally.Schedules, tally.Steps, new Dictionary<string, long>(tally.Kinds),
            tally.WithViolations, first, expect, matched && first?.Failure is null, failure);
    }
}

/// <summary>The first violating schedule of a cell: its seed, its first violation's kind, and how to replay it.</summary>
public sealed record FirstFound(ulong Seed, string Kind, string Replay, string ReportPath, string? Failure);
