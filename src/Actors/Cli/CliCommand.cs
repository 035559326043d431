using System.CommandLine;

namespace HvIommu.Actors.Cli;

/// <summary>What a command gets besides its parsed arguments: where to write, and whether the user interrupted.</summary>
/// <param name="Cancel">Cancelled by Ctrl-C: a long command stops starting work, prints its summary and writes
/// what it has, marked partial.</param>
/// <param name="Plain">--plain (on every command): plain progress lines even on a terminal.</param>
public sealed record CliContext(TextWriter Out, TextWriter Error, bool Verbose, CancellationToken Cancel, bool Plain = false);

/// <summary>
/// One sub-command of the program. A command is one file in <c>src/Actors/Cli/</c>: a sealed class deriving
/// from this one, with a public parameterless constructor, its options as fields (shared ones made by
/// <see cref="CommonOptions"/>), and <see cref="Execute"/>. <see cref="CommandLine"/> finds it by reflection;
/// System.CommandLine generates its help, completions and typo suggestions.
/// </summary>
public abstract class CliCommand
{
    /// <summary>The word that selects the command (<c>run</c>, <c>explore</c>, …).</summary>
    public abstract string Name { get; }

    /// <summary>What the command does and its exit codes, shown by <c>--help</c>.</summary>
    public abstract string Description { get; }

    /// <summary>Position in the help's command list (lower first).</summary>
    public virtual int Order => 100;

    /// <summary>
    /// True when the command promises that under <c>--json</c> every input error, a parse error too, is one
    /// <c>{"error": …}</c> object on stdout (the human text then goes to stderr).
    /// </summary>
    public virtual bool JsonErrors => false;

    /// <summary>The command's options and arguments.</summary>
    protected abstract IEnumerable<Symbol> Symbols();

    /// <summary>
    /// Runs the command. Throw <see cref="UsageException"/> or <see cref="Configuration.ConfigException"/> for bad
    /// input (exit 2); any other exception is a simulator failure (exit 3, stack trace only with --verbose).
    /// </summary>
    public abstract int Execute(ParseResult parse, CliContext context);

    internal Command Build()
    {
        var command = new Command(Name, Description);
        foreach (var symbol in Symbols())
        {
            switch (symbol)
            {
                case Option o:
                    command.Add(o);
                    break;
                case Argument a:
                    command.Add(a);
                    break;
                default:
                    throw new InvalidOperationException($"{Name}: {symbol.Name} is neither an option nor an argument");
            }
        }
        return command;
    }
}
