using HvIommu.Model.Translation;

namespace HvIommu.Actors.Cli;

/// <summary>
/// <c>pagetable</c>: builds a guest stage-1 table (brief §3) from <c>--map</c>/<c>--unmap</c> arguments applied
/// in command-line order (<see cref="PageTableSession"/>), prints each unmap's byte count and the nested walk
/// (brief §4) of one IOVA, level by level, as text or one JSON object. Under <c>--json</c> an error is a JSON
/// object too (<c>{"error": …}</c> on stdout, the same line on stderr, exit 2).
/// </summary>
public sealed class PageTableCommand : ICommand
{
    public string Name => "pagetable";
    public string Summary => "build a stage-1 I/O page table and show the nested walk of one IOVA";
    public string Usage => """
        usage: pagetable [--levels 4|5] [--map IOVA=GPA,SIZE,PERMS ...] [--unmap IOVA,SIZE ...] --walk IOVA [--write] [--json]
          --levels 4|5     depth of the stage-1 table (default 4; IOVA width 48 or 57 bits)
          --map            IOVA=GPA,SIZE,PERMS with SIZE 4K|2M|1G and PERMS r|rw; numbers decimal or 0x hex;
                           GPA anywhere below 2^52 (the scratch stage 2 backs all of it)
          --unmap          IOVA,SIZE with SIZE 4K|2M|1G or a byte count, as iommu_unmap: prints the bytes unmapped
                           (0 for a length that is not a 4K multiple; stops at the first hole; never splits a leaf)
          --walk IOVA      the address to translate
          --write          walk as a DMA write (default: read)
          --json           print one JSON object instead of text (errors too)
          --map and --unmap apply in the order given.
        """;

    public int Run(ArgReader args, TextWriter stdout, TextWriter stderr)
    {
        var json = args.Flag("--json");
        try
        {
            return RunChecked(args, json, stdout);
        }
        catch (UsageException e) when (json)
        {
            PageTableReport.WriteJsonError(stdout, e.Message);
            throw;
        }
    }

    private static int RunChecked(ArgReader args, bool json, TextWriter stdout)
    {
        var levels = (int)(args.Int64("--levels", 4, 5) ?? 4);
        var operations = args.OptionsInOrder("--map", "--unmap");
        var walkIova = args.UInt64("--walk") ?? throw new UsageException("--walk IOVA is required");
        var access = args.Flag("--write") ? AccessKind.Write : AccessKind.Read;
        args.EnsureAllConsumed();
        var parsed = operations.Select(o => o.Name == "--map" ? (object)PageTableArguments.ParseMap(o.Value) : PageTableArguments.ParseUnmap(o.Value)).ToList();

        var session = new PageTableSession(levels);
        foreach (var operation in parsed)
        {
            if (operation is MapArgument map)
                session.Apply(map);
            else
                session.Apply((UnmapArgument)operation);
        }
        var result = session.Walk(walkIova, access);
        if (json)
            PageTableReport.WriteJson(stdout, result, session.Steps);
        else
            PageTableReport.WriteText(stdout, result, walkIova, session.Steps);
        return ExitCodes.Matched;
    }
}
