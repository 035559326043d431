namespace HvIommu.Actors.Runs;

/// <summary>
/// How a run ended, as the runners see it. The command line maps it to a process exit code
/// (<c>Cli.ExitCodes.Of</c>); nothing below the command line knows exit codes.
/// </summary>
public enum RunVerdict
{
    /// <summary>The run finished and its outcome matched the expectation (<c>hviommu.expect</c>).</summary>
    Matched,
    /// <summary>The run finished and it did not (a violation where none was expected, or an expected one not found).</summary>
    NotMatched,
    /// <summary>The simulator itself failed: a crash, a hang, nondeterminism in deterministic mode.</summary>
    SimulatorFailed,
}

public static class RunVerdicts
{
    /// <summary>The verdict of a finished run: a failure wins, then whether the outcome matched.</summary>
    public static RunVerdict Of(string? failure, bool outcomeMatched) =>
        failure is not null ? RunVerdict.SimulatorFailed : outcomeMatched ? RunVerdict.Matched : RunVerdict.NotMatched;
}
