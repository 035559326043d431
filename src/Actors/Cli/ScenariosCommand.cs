using System.CommandLine;
using System.Text.Json;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Scenarios;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>scenarios</c>: the hazard catalogue (config/scenarios) as a table — name, hazard, expected outcome,
/// one-line description — or as JSON. Files that do not load, or break the catalogue's conventions, are
/// reported like <c>validate</c> reports a bad config, with exit 2.
/// </summary>
public sealed class ScenariosCommand : CliCommand
{
    private readonly Option<string?> _dir = new("--dir") { Description = "the scenario directory (default: config/scenarios under the current directory or the repository root)", HelpName = "DIR" };
    private readonly Option<bool> _json = CommonOptions.Json("a JSON array of {file, name, hazard, expect, expectKind, description, ops}");

    public override string Name => "scenarios";

    public override int Order => 60;

    public override string Description => "Lists the scenario catalogue (config/scenarios) with hazard ids and expected outcomes. "
        + "Exit codes: 0 every scenario is valid, 2 one is not (each problem on stderr as 'error: ...').";

    protected override IEnumerable<Symbol> Symbols() => [_dir, _json];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var stdout = cli.Out;
        var dirOption = parse.GetValue(_dir);
        var json = parse.GetValue(_json);
        var dir = ScenarioCatalogue.FindDirectory(dirOption)
            ?? throw new UsageException(dirOption is null
                ? "no config/scenarios directory under the current directory or the repository root; give one with --dir"
                : $"--dir '{dirOption}' is not a directory");

        var (entries, problems) = ScenarioCatalogue.Load(dir);
        if (json)
            WriteJson(stdout, entries);
        else
            WriteTable(stdout, entries);
        if (problems.Count == 0)
            return ExitCodes.Matched;
        throw new ConfigException(problems);
    }

    private static void WriteTable(TextWriter w, IReadOnlyList<ScenarioEntry> entries)
    {
        var rows = entries.Select(e => new[] { e.Name, e.Hazard, e.ExpectText, e.Description }).ToList();
        string[] header = ["name", "hazard", "expect", "description"];
        var widths = Enumerable.Range(0, 3).Select(i => rows.Select(r => r[i].Length).Append(header[i].Length).Max()).ToArray();
        string Line(string[] r) => $"{r[0].PadRight(widths[0])}  {r[1].PadRight(widths[1])}  {r[2].PadRight(widths[2])}  {r[3]}".TrimEnd();
        w.WriteLine(Line(header));
        w.WriteLine(Line(widths.Select(n => new string('-', n)).Append("-----------").ToArray()));
        foreach (var r in rows)
            w.WriteLine(Line(r));
        w.WriteLine($"{entries.Count} scenario(s): {entries.Count(e => e.Expect == Model.Settings.Expectation.Violation)} wrong, {entries.Count(e => e.Expect == Model.Settings.Expectation.Clean)} right");
    }

    private static void WriteJson(TextWriter w, IReadOnlyList<ScenarioEntry> entries)
    {
        var list = entries.Select(e => new
        {
            file = Path.GetFileName(e.File),
            name = e.Name,
            hazard = e.Hazard,
            expect = e.Expect == Model.Settings.Expectation.Clean ? "clean" : "violation",
            expectKind = e.ExpectKind,
            description = e.Description,
            ops = e.Ops,
        });
        w.WriteLine(JsonSerializer.Serialize(list, new JsonSerializerOptions { WriteIndented = true }));
    }
}
