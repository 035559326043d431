namespace HvIommu.Actors.Cli;

/// <summary>The process exit codes of DESIGN.md §3.</summary>
public static class ExitCodes
{
    /// <summary>Ran, and the outcome matched the expectation.</summary>
    public const int Matched = 0;
    /// <summary>Ran, and it did not (a violation where none was expected, or an expected one not found).</summary>
    public const int Mismatched = 1;
    /// <summary>Bad input (config, arguments), with a clear message.</summary>
    public const int BadInput = 2;
    /// <summary>The simulator itself failed (crash, hang, nondeterminism).</summary>
    public const int SimulatorFailure = 3;
}

/// <summary>Bad input from the user: the message names the argument or key, the value and what is allowed.</summary>
public sealed class UsageException(string message) : Exception(message);
