using System.CommandLine;
using HvIommu.Model.Memory;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>pagetable</c>: builds a guest stage-1 table (brief §3) from <c>--map</c>/<c>--unmap</c> arguments and
/// prints the nested walk (brief §4) of one IOVA, level by level, as text or one JSON object.
/// </summary>
public sealed class PageTableCommand : CliCommand
{
    /// <summary>Guest address space of the scratch VM: 4 GiB, sparse, so only touched frames cost memory.</summary>
    private const ulong GuestBytes = 4UL << 30;
    /// <summary>Table pages come from the top 16 MiB so they stay clear of typical user GPAs.</summary>
    private const ulong TableFrames = 4096;
    private const ulong TableBaseGpa = GuestBytes - (TableFrames << GuestMemory.PageShift);
    private const int DomainId = 1;

    private readonly Option<long?> _levels = CommonOptions.Int64("--levels", "depth of the stage-1 table: 4 or 5 (default 4; IOVA width 48 or 57 bits)", 4, 5, "4|5");
    private readonly Option<string[]> _map = new("--map") { Description = "IOVA=GPA,SIZE,PERMS with SIZE 4K|2M|1G and PERMS r|rw; numbers decimal or 0x hex; repeatable", HelpName = "IOVA=GPA,SIZE,PERMS", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string[]> _unmap = new("--unmap") { Description = "IOVA,SIZE with SIZE 4K|2M|1G or a byte count; applied after every --map; repeatable", HelpName = "IOVA,SIZE" };
    private readonly Option<string> _walk = new("--walk") { Description = "the address to translate", HelpName = "IOVA", Required = true };
    private readonly Option<bool> _write = new("--write") { Description = "walk as a DMA write (default: read)" };
    private readonly Option<bool> _json = CommonOptions.Json("print one JSON object instead of text");

    public override string Name => "pagetable";

    public override int Order => 70;

    public override string Description => "Builds a stage-1 I/O page table from --map/--unmap and shows the nested walk of one IOVA, entry by entry. Exit codes: 0 shown, 2 bad input.";

    protected override IEnumerable<Symbol> Symbols() => [_levels, _map, _unmap, _walk, _write, _json];

    public override int Execute(ParseResult parse, CliContext cli)
    {
        var stdout = cli.Out;
        var levels = (int)(parse.GetValue(_levels) ?? 4);
        var maps = (parse.GetValue(_map) ?? []).Select(PageTableArguments.ParseMap).ToList();
        var unmaps = (parse.GetValue(_unmap) ?? []).Select(PageTableArguments.ParseUnmap).ToList();
        var walkIova = CommonOptions.ParseUInt64("--walk", parse.GetValue(_walk)!);
        var access = parse.GetValue(_write) ? AccessKind.Write : AccessKind.Read;
        var json = parse.GetValue(_json);

        var memory = new GuestMemory(GuestBytes);
        var frames = new FrameAllocator(memory, TableBaseGpa, TableFrames);
        var table = new StageOnePageTable(memory, frames, levels, DomainId, 12 + Pte.IndexBits * levels);
        foreach (var map in maps)
            Apply(table, frames, map);
        foreach (var unmap in unmaps)
            Apply(table, frames, unmap);
        var result = NestedWalker.Walk(memory, new Stage2(GuestBytes), table.RootGpa, levels, table.MaxIova, walkIova, access);
        if (json)
            PageTableReport.WriteJson(stdout, result);
        else
            PageTableReport.WriteText(stdout, result, walkIova);
        return ExitCodes.Matched;
    }

    private static void Apply(StageOnePageTable table, FrameAllocator frames, MapArgument map)
    {
        var gather = new IotlbGather();
        var status = table.Map(map.Iova, map.Gpa, map.Size, map.Writable, gather);
        if (status != MapStatus.Mapped)
            throw new UsageException($"--map '{map.Text}' failed: {Explain(status, map)}");
        FreeAfterFlush(frames, gather);
    }

    private static void Apply(StageOnePageTable table, FrameAllocator frames, UnmapArgument unmap)
    {
        var gather = new IotlbGather();
        table.Unmap(unmap.Iova, unmap.Length, gather);
        FreeAfterFlush(frames, gather);
    }

    /// <summary>There is no IOTLB here, so the "flush" is immediate and the gathered tables can go.</summary>
    private static void FreeAfterFlush(FrameAllocator frames, IotlbGather gather)
    {
        foreach (var page in gather.FreeList)
            frames.Free(page);
        gather.Reset();
    }

    private static string Explain(MapStatus status, MapArgument map) => status switch
    {
        MapStatus.AlreadyMapped => $"IOVA 0x{map.Iova:x} overlaps an earlier mapping; map disjoint ranges",
        MapStatus.Misaligned => $"IOVA 0x{map.Iova:x} and GPA 0x{map.Gpa:x} must both be {map.Size.Name()}-aligned",
        MapStatus.OutOfRange => "the IOVA range must lie inside the table's width and the GPA below 2^52",
        MapStatus.NoMemory => $"the scratch guest ran out of its {TableFrames} table frames",
        _ => status.ToString(),
    };
}
