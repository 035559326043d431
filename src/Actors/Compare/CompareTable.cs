using System.Globalization;
using Spectre.Console;

namespace HvIommu.Actors.Compare;

/// <summary>The one table <c>compare</c> prints: a row per variant, the cost model's figures in columns.</summary>
public static class CompareTable
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static void Render(IReadOnlyList<VariantResult> results, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 260;
        var table = new Table().Border(TableBorder.Ascii).Title("flush designs compared (simulated costs: hviommu.hypervisor.latency)");
        table.AddColumn("variant");
        foreach (var h in Headers)
            table.AddColumn(new TableColumn(h).RightAligned());
        foreach (var r in results)
            table.AddRow([r.Variant.Name, .. Cells(r)]);
        console.Write(table);
    }

    public static readonly string[] Headers =
    [
        "maps", "unmaps", "VM exits (all)", "unmap exits", "exits/unmap", "exits/map", "flushes", "list entries", "IOTLB hit", "ATC hit", "walk-cache hit",
        "walk refs/DMA", "collateral inval.", "flush time ms", "xlate p50 ns", "xlate p99 ns", "ns/op", "sim ops/s", "violations",
    ];

    public static IEnumerable<string> Cells(VariantResult r)
    {
        var k = r.Cost;
        yield return k.MapCalls.ToString("N0", C);
        yield return k.UnmapCalls.ToString("N0", C);
        yield return r.Stats.VmExits.ToString("N0", C);
        yield return k.VmExitsByPath["unmap"].ToString("N0", C);
        yield return k.VmExitsPerUnmap.ToString("F2", C);
        yield return k.VmExitsPerMap.ToString("F3", C);
        yield return k.FlushHypercalls.ToString("N0", C);
        yield return k.ListEntries.ToString("N0", C);
        yield return Rate(k.IotlbHitRate);
        yield return Rate(k.AtcHitRate);
        yield return Rate(k.WalkCacheHitRate);
        yield return k.WalkReferencesPerDma.ToString("F2", C);
        yield return k.CollateralInvalidations.ToString("N0", C);
        yield return (k.FlushNs / 1e6).ToString("F2", C);
        yield return k.DmaTranslationNs.P50Ns.ToString("N0", C);
        yield return k.DmaTranslationNs.P99Ns.ToString("N0", C);
        yield return k.CostNsPerOp.ToString("N0", C);
        yield return k.SimulatedOpsPerSecond.ToString("N0", C);
        yield return r.Failure is not null ? "FAILED" : r.Violations.ToString("N0", C);
    }

    private static string Rate(double? rate) => rate is { } x ? (x * 100).ToString("F1", C) + " %" : "-";
}
