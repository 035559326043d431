using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Compare;

/// <summary>
/// One flush design <c>compare</c> runs: dma-iommu strict or lazy (brief §5.1), the domain-selective
/// HVCALL_FLUSH_DEVICE_DOMAIN or the page-selective HVCALL_FLUSH_DEVICE_DOMAIN_LIST (§1.7, §1.10), and ATS on or
/// off for topologies whose devices have it. Named like <c>strict-list</c> or <c>lazy-domain-ats-off</c>.
/// </summary>
public sealed record CompareVariant(string DmaMode, string Flush, bool AtsOff)
{
    public string Name => $"{DmaMode}-{Flush}{(AtsOff ? "-ats-off" : "")}";

    /// <summary>Parses a name such as <c>strict-domain</c> or <c>lazy-list-ats-off</c>; null when it is none.</summary>
    public static CompareVariant? Parse(string name)
    {
        var parts = name.Trim().ToLowerInvariant().Split('-');
        if (parts.Length is not (2 or 4) || parts[0] is not ("strict" or "lazy") || parts[1] is not ("domain" or "list"))
            return null;
        if (parts.Length == 4 && (parts[2], parts[3]) != ("ats", "off"))
            return null;
        return new CompareVariant(parts[0], parts[1], parts.Length == 4);
    }

    /// <summary>strict/lazy × domain/list, and each again with ATS off when <paramref name="hasAts"/>.</summary>
    public static IReadOnlyList<CompareVariant> Defaults(bool hasAts)
    {
        var list = new List<CompareVariant>();
        foreach (var ats in hasAts ? new[] { false, true } : [false])
            foreach (var mode in new[] { "strict", "lazy" })
                foreach (var flush in new[] { "domain", "list" })
                    list.Add(new CompareVariant(mode, flush, ats));
        return list;
    }
}

/// <summary>What one variant's run measured (a row of the table, an entry of compare.json).</summary>
public sealed record VariantResult(CompareVariant Variant, RunReport Report, Runs.RunVerdict Verdict, string? Failure)
{
    /// <summary>A deterministic variant's schedule (what <c>replay</c> needs); null in stress mode.</summary>
    public Deterministic.ScheduleFile? Schedule { get; init; }

    public RunStats Stats => Report.Stats;
    public CostStats Cost => Report.Stats.Cost!;

    /// <summary>dma_map and dma_unmap calls (a trace's map and unmap events).</summary>
    public long Ops => Cost.MapCalls + Cost.UnmapCalls;

    public long Violations => Stats.Findings.Where(kv => kv.Key != "LazyWindowStaleAccess").Sum(kv => kv.Value);

    /// <summary>VM exits the workload made (map and unmap paths; init, domain switches and teardown left out).</summary>
    public long WorkloadVmExits => Cost.VmExitsByPath["map"] + Cost.VmExitsByPath["unmap"];

    /// <summary><see cref="WorkloadVmExits"/> per map or unmap call.</summary>
    public double VmExitsPerOp => Ops == 0 ? 0 : (double)WorkloadVmExits / Ops;
}
