using System.CommandLine;
using System.CommandLine.Invocation;
using HvIommu.Actors.Configuration;

namespace HvIommu.Actors.Cli;

/// <summary>
/// Entry point: builds the command tree with System.CommandLine (generated help, typo suggestions, shell
/// completion through <c>dotnet-suggest</c>), runs the chosen command and maps every way it can end to the
/// exit codes of docs/design.md §3: 0 matched, 1 not matched, 2 bad input, 3 simulator failure.
/// </summary>
public static class CommandLine
{
    // Adding a command is a one-file affair: create Cli/XCommand.cs holding `public sealed class XCommand :
    // CliCommand` (Name, Description, Order, its options — shared ones from CommonOptions — and Execute).
    // It is found here by reflection; nothing else to register. Add a README section and a .ci/run smoke line.
    private static readonly Type[] CommandTypes = typeof(CliCommand).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(CliCommand)) && !t.IsAbstract)
        .ToArray();

    /// <summary>A fresh instance of every sub-command, in the order the help lists them.</summary>
    public static IReadOnlyList<CliCommand> Commands() => CommandTypes
        .Select(t => (CliCommand)Activator.CreateInstance(t)!)
        .OrderBy(c => c.Order)
        .ThenBy(c => c.Name, StringComparer.Ordinal)
        .ToList();

    /// <summary>Parses <paramref name="args"/>, runs the command and returns the process exit code.</summary>
    /// <param name="cancel">Cancelled on Ctrl-C (see <see cref="Program"/>).</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
    {
        var commands = Commands();
        var verbose = CommonOptions.Verbose();
        var root = new RootCommand("HvIommu.Actors — a simulator of the Hyper-V para-virtualized IOMMU.\n"
            + "Exit codes: 0 the outcome matched the expectation, 1 it did not, 2 bad input, 3 simulator failure.");
        var plain = CommonOptions.Plain();
        root.Add(verbose);
        root.Add(plain);
        var byCommand = new Dictionary<Command, CliCommand>();
        foreach (var c in commands)
        {
            var command = c.Build();
            byCommand[command] = c;
            root.Add(command);
        }
        // @file would read arguments from a file: surprising for paths, so it is off.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        if (parse.Errors.Count > 0)
        {
            if (parse.Action is ParseErrorAction errors)
                errors.ShowHelp = false;
            var jsonErrors = byCommand.TryGetValue(parse.CommandResult.Command, out var failed) && failed.JsonErrors && args.Contains("--json");
            if (jsonErrors)
                // The promised JSON object on stdout; the messages and suggestions go to stderr.
                PageTableReport.WriteJsonError(stdout, parse.Errors[0].Message);
            // Every message in the house form ("error: …", as every other bad input says it), then System.CommandLine's
            // typo suggestions ("'--sed' was not matched. Did you mean one of the following? --seed"), without its
            // own unprefixed copy of the messages, and only for the tokens that are the mistake (ParseErrorText).
            var noise = ParseErrorText.Followers(args, parse.UnmatchedTokens, parse.CommandResult.Command is RootCommand);
            foreach (var error in ParseErrorText.Kept(parse.Errors.Select(e => e.Message), noise, parse.UnmatchedTokens.Count > 0))
                stderr.WriteLine("error: " + error);
            var suggestions = new StringWriter();
            (invocation.Output, invocation.Error) = (suggestions, suggestions);
            parse.Invoke(invocation);
            var messages = parse.Errors.Select(e => e.Message).ToHashSet(StringComparer.Ordinal);
            foreach (var line in ParseErrorText.Suggestions(suggestions.ToString().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !messages.Contains(l)), noise))
                stderr.WriteLine(line);
            var name = parse.CommandResult.Command is RootCommand ? "" : parse.CommandResult.Command.Name + " ";
            stderr.WriteLine($"See '{name}--help' for the options.");
            return ExitCodes.BadInput;
        }
        // Help, --version and completion directives carry their own action; the commands carry none.
        if (parse.Action is not null || !byCommand.TryGetValue(parse.CommandResult.Command, out var chosen))
            return HelpOrVersion(parse, invocation);
        return Execute(chosen, parse, new CliContext(stdout, stderr, parse.GetValue(verbose), cancel, parse.GetValue(plain)));
    }

    private static int HelpOrVersion(ParseResult parse, InvocationConfiguration invocation)
    {
        parse.Invoke(invocation);
        return parse.Action is null ? ExitCodes.BadInput : ExitCodes.Matched;
    }

    private static int Execute(CliCommand command, ParseResult parse, CliContext context)
    {
        try
        {
            return command.Execute(parse, context);
        }
        catch (UsageException e)
        {
            context.Error.WriteLine($"error: {e.Message}");
            context.Error.WriteLine($"See '{command.Name} --help' for the options.");
            return ExitCodes.BadInput;
        }
        catch (ConfigException e)
        {
            foreach (var problem in e.Problems)
                context.Error.WriteLine($"error: {problem}");
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            context.Error.WriteLine($"error: the simulator failed: {e.GetType().Name}: {FirstLine(e.Message)}");
            context.Error.WriteLine(context.Verbose ? e.ToString() : "(run with --verbose for the stack trace)");
            return ExitCodes.SimulatorFailure;
        }
    }

    private static string FirstLine(string s)
    {
        var n = s.IndexOf('\n', StringComparison.Ordinal);
        return n < 0 ? s : s[..n].TrimEnd();
    }
}
