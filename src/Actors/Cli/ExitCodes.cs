using HvIommu.Actors.Runs;

namespace HvIommu.Actors.Cli;

/// <summary>The process exit codes of the command-line contract (docs/design.md §3).</summary>
public static class ExitCodes
{
    /// <summary>Ran, and the outcome matched the expectation.</summary>
    public const int Matched = 0;
    /// <summary>Ran, and it did not (a violation where none was expected, or an expected one not found).</summary>
    public const int Mismatched = 1;
    /// <summary>Bad input (config, arguments, paths), with a clear message.</summary>
    public const int BadInput = 2;
    /// <summary>The simulator itself failed (crash, hang, nondeterminism).</summary>
    public const int SimulatorFailure = 3;
    /// <summary>Interrupted by Ctrl-C (128 + SIGINT, as shells report it): the summary was printed and the
    /// report, if asked for, written and marked partial.</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code of a run's verdict.</summary>
    public static int Of(RunVerdict verdict) => verdict switch
    {
        RunVerdict.Matched => Matched,
        RunVerdict.NotMatched => Mismatched,
        _ => SimulatorFailure,
    };
}

/// <summary>Bad input from the user: the message names the argument or key, the value and what is allowed.</summary>
public sealed class UsageException(string message) : Exception(message);
