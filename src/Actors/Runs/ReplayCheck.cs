using HvIommu.Actors.Deterministic;
using HvIommu.Actors.Reporting;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Runs;

/// <summary>How a replay compares with the run it repeats.</summary>
public enum ReplayOutcome
{
    /// <summary>Same trace hash and the same violation kinds as the report.</summary>
    Reproduced,
    /// <summary>A schedule file alone (no report to compare with) replayed to its end.</summary>
    Replayed,
    /// <summary>A recorded choice was not available: the run is not the one recorded.</summary>
    Diverged,
    /// <summary>The schedule replayed to its end, but the trace hash or the violations differ.</summary>
    NotReproduced,
    /// <summary>The simulator failed during the replay.</summary>
    SimulatorFailed,
}

/// <summary>A replay's outcome, its verdict for the exit code, and one line saying why.</summary>
public sealed record ReplayVerdict(ReplayOutcome Outcome, string Text)
{
    public RunVerdict Verdict => Outcome switch
    {
        ReplayOutcome.Reproduced or ReplayOutcome.Replayed => RunVerdict.Matched,
        ReplayOutcome.SimulatorFailed => RunVerdict.SimulatorFailed,
        _ => RunVerdict.NotMatched,
    };
}

/// <summary>Judges a replay against the report it came from (or against nothing, for a bare schedule file).</summary>
public static class ReplayCheck
{
    /// <param name="original">The report the schedule came from, or null for a bare schedule file.</param>
    /// <param name="recorded">The schedule followed: a run that finished without taking every recorded choice or
    /// environment choice is not the one recorded either (a hand-edited file, or another config).</param>
    /// <param name="replay">The replay's result.</param>
    public static ReplayVerdict Judge(RunReport? original, ScheduleFile recorded, ScheduleResult replay)
    {
        if (replay.Failure is not null)
            return new(ReplayOutcome.SimulatorFailed, $"SIMULATOR FAILURE: {replay.Failure}");
        if (replay.Drive.DivergedAtStep is { } step && !replay.OutOfSteps)
            return new(ReplayOutcome.Diverged, $"DIVERGED at schedule step {step:N0}: {replay.Divergence ?? "the recorded choice was not available"}; the run is not the one recorded");
        if (!replay.Report.Partial && Unused(recorded.Choices.Count, replay.Schedule.Choices.Count, "schedule choice", "choices") is { } choices)
            return new(ReplayOutcome.Diverged, $"DIVERGED: the run finished {choices}; the run is not the one recorded");
        if (!replay.Report.Partial && recorded.Version >= 2
            && Unused(recorded.EnvironmentChoices.Count, replay.Schedule.EnvironmentChoices.Count, "environment choice", "values") is { } values)
            return new(ReplayOutcome.Diverged, $"DIVERGED: the run finished {values}; the run is not the one recorded");
        if (original is null)
            return new(ReplayOutcome.Replayed, $"replayed {Counted.Of(replay.Report.Stats.Steps, "step")}");
        var before = Kinds(original);
        var after = Kinds(replay.Report);
        return original.TraceHash == replay.Report.TraceHash && before == after
            ? new(ReplayOutcome.Reproduced, $"REPRODUCED — same trace hash {replay.Report.TraceHash} and violations [{after}]")
            : new(ReplayOutcome.NotReproduced, $"NOT REPRODUCED — trace hash {original.TraceHash} → {replay.Report.TraceHash}, violations [{before}] → [{after}]");
    }

    /// <summary>"after 4 environment choices of the 6 recorded (values), leaving 2 unused", or null when every one was taken.</summary>
    private static string? Unused(int recorded, int taken, string what, string line) =>
        taken < recorded ? $"after {Counted.Of(taken, what)} of the {recorded:N0} recorded ({line}), leaving {recorded - taken:N0} unused" : null;

    private static string Kinds(RunReport r) => string.Join(", ", r.Violations.Select(v => v.Kind).Order(StringComparer.Ordinal));
}
