using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>pagetable</c>: builds a guest stage-1 table (docs/pviommu.md §3) from <c>--map</c>/<c>--unmap</c> arguments applied
/// in command-line order (<see cref="PageTableSession"/>), prints each unmap's byte count and the nested walk
/// (docs/pviommu.md §4) of one IOVA, level by level, as text or one JSON object. Under <c>--json</c> an error is a JSON
/// object too (<c>{"error": …}</c> on stdout, the same line on stderr, exit 2).
/// </summary>
public sealed class PageTableCommand : CliCommand
{
    // --levels and --walk are read in Execute, not by the parser, so that their errors reach the --json error object.
    private readonly Option<string?> _levels = new("--levels") { Description = "depth of the stage-1 table: 4 or 5 (default 4; IOVA width 48 or 57 bits)", HelpName = "4|5" };
    private readonly Option<string[]> _map = new("--map") { Description = "IOVA=GPA,SIZE,PERMS with SIZE 4K|2M|1G and PERMS r|rw; numbers decimal or 0x hex; GPA anywhere below 2^52; repeatable", HelpName = "IOVA=GPA,SIZE,PERMS" };
    private readonly Option<string[]> _unmap = new("--unmap") { Description = "IOVA,SIZE with SIZE 4K|2M|1G or a byte count, as iommu_unmap: prints the bytes unmapped (0 for a length that is not a 4K multiple; stops at the first hole; never splits a leaf); repeatable", HelpName = "IOVA,SIZE" };
    private readonly Option<string?> _walk = new("--walk") { Description = "the address to translate (required unless --unmap is given: then the unmaps' results alone are printed)", HelpName = "IOVA" };
    private readonly Option<bool> _write = new("--write") { Description = "walk as a DMA write (default: read)" };
    private readonly Option<bool> _json = CommonOptions.Json("print one JSON object instead of text (errors too)");

    public override string Name => "pagetable";

    public override int Order => 70;

    public override bool JsonErrors => true;

    public override string Description => "Builds a stage-1 I/O page table from --map/--unmap (applied in the order given) and shows the nested walk of one IOVA, entry by entry. Exit codes: 0 shown, 2 bad input.";

    protected override IEnumerable<Symbol> Symbols() => [_levels, _map, _unmap, _walk, _write, _json];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var json = parse.GetValue(_json);
        try
        {
            return Run(parse, json, cli.Out);
        }
        catch (UsageException e) when (json)
        {
            PageTableReport.WriteJsonError(cli.Out, e.Message);
            throw;
        }
    }

    private int Run(ParseResult parse, bool json, TextWriter stdout)
    {
        var levelsText = parse.GetValue(_levels);
        var levels = 4;
        if (levelsText is not null && !(int.TryParse(levelsText, NumberStyles.None, CultureInfo.InvariantCulture, out levels) && levels is 4 or 5))
            throw new UsageException($"--levels '{levelsText}' is not a whole number in [4, 5]");
        var walkText = parse.GetValue(_walk);
        if (walkText is null && parse.GetResult(_unmap) is null)
            throw new UsageException("--walk IOVA is required unless --unmap is given (the unmap's byte count is then the answer)");
        ulong? walkIova = walkText is null ? null : CommonOptions.ParseUInt64("--walk", walkText);
        var access = parse.GetValue(_write) ? AccessKind.Write : AccessKind.Read;
        var parsed = InOrder(parse).Select(o => o.Name == "--map" ? (object)PageTableArguments.ParseMap(o.Value) : PageTableArguments.ParseUnmap(o.Value)).ToList();

        var session = new PageTableSession(levels);
        foreach (var operation in parsed)
        {
            if (operation is MapArgument map)
                session.Apply(map);
            else
                session.Apply((UnmapArgument)operation);
        }
        var result = walkIova is { } iova ? session.Walk(iova, access) : null;
        if (json)
            PageTableReport.WriteJson(stdout, result, session.Steps);
        else
            PageTableReport.WriteText(stdout, result, walkIova ?? 0, session.Steps);
        return ExitCodes.Matched;
    }

    /// <summary>Every --map and --unmap with its value, in command-line order (the order they apply in).</summary>
    private IEnumerable<(string Name, string Value)> InOrder(ParseResult parse)
    {
        // Tokens compare by value; the same --map given twice must keep both positions, so index them by reference.
        var position = new Dictionary<Token, int>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < parse.Tokens.Count; i++)
            position[parse.Tokens[i]] = i;
        var results = new[] { parse.GetResult(_map), parse.GetResult(_unmap) }.OfType<OptionResult>();
        return results
            .SelectMany(r => r.Tokens.Select(t => (Name: r.Option.Name, Token: t)))
            .OrderBy(x => position.GetValueOrDefault(x.Token, int.MaxValue))
            .Select(x => (x.Name, x.Token.Value));
    }
}
