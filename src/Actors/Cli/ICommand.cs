namespace HvIommu.Actors.Cli;

/// <summary>One sub-command of the program (run, validate, pagetable, …).</summary>
public interface ICommand
{
    string Name { get; }

    /// <summary>One line for the command list.</summary>
    string Summary { get; }

    /// <summary>Full usage text, printed by <c>COMMAND --help</c> and after a usage error.</summary>
    string Usage { get; }

    /// <summary>Runs the command; throws <see cref="UsageException"/> for bad arguments.</summary>
    int Run(ArgReader args, TextWriter stdout, TextWriter stderr);
}
