using Spectre.Console;

namespace HvIommu.Actors.Reporting;

/// <summary>Chooses how to show progress: a live bar on an interactive terminal, plain lines otherwise.</summary>
public static class RunProgressFactory
{
    /// <summary>True when standard output is a terminal that Spectre.Console can redraw.</summary>
    public static bool IsInteractiveTerminal =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    /// <param name="plain">Where plain lines go when there is no terminal (the error stream, to keep standard output clean).</param>
    /// <param name="interactive">Forces the choice; by default <see cref="IsInteractiveTerminal"/>.</param>
    public static IRunProgress Create(TextWriter plain, bool? interactive = null) =>
        (interactive ?? IsInteractiveTerminal) ? new LiveProgress(AnsiConsole.Console) : new PlainProgress(plain);
}
