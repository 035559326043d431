using HvIommu.Actors.Configuration;

namespace HvIommu.Actors.Cli;

/// <summary>Entry point: picks the sub-command, maps errors to the exit codes of DESIGN.md §3.</summary>
public static class CommandLine
{
    /// <summary>Every sub-command, in the order the help lists them.</summary>
    public static IReadOnlyList<ICommand> Commands { get; } = new ICommand[]
    {
        new RunCommand(),
        new ValidateCommand(),
        new ExploreCommand(),
        new ReplayCommand(),
        new MinimizeCommand(),
        new ScenariosCommand(),
        new PageTableCommand(),
        new BenchCommand(),
        new Sweep.SweepCommand(),
        new Cluster.WorkerCommand(),
    };

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            PrintHelp(stdout);
            return args.Length == 0 ? ExitCodes.BadInput : ExitCodes.Matched;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"error: unknown command '{args[0]}'. Commands: {string.Join(", ", Commands.Select(c => c.Name))}");
            return ExitCodes.BadInput;
        }
        var rest = args.Skip(1).ToArray();
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            stdout.WriteLine(command.Usage);
            return ExitCodes.Matched;
        }
        try
        {
            return command.Run(new ArgReader(rest), stdout, stderr);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine();
            stderr.WriteLine(command.Usage);
            return ExitCodes.BadInput;
        }
        catch (ConfigException e)
        {
            foreach (var problem in e.Problems)
                stderr.WriteLine($"error: {problem}");
            return ExitCodes.BadInput;
        }
    }

    private static void PrintHelp(TextWriter w)
    {
        w.WriteLine("HvIommu.Actors — a simulator of the Hyper-V para-virtualized IOMMU");
        w.WriteLine();
        w.WriteLine("usage: dotnet run --project src/Actors -c Release -- COMMAND [options]");
        w.WriteLine();
        foreach (var c in Commands)
            w.WriteLine($"  {c.Name,-10} {c.Summary}");
        w.WriteLine();
        w.WriteLine("COMMAND --help prints the options of one command.");
    }
}
