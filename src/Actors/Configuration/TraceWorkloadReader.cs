using HvIommu.Model.Settings;
using HvIommu.Model.Workload;

namespace HvIommu.Actors.Configuration;

/// <summary>Reads <c>hviommu.workload.trace*</c>: the kernel ftrace a run replays and how (config/reference.conf).</summary>
internal static class TraceWorkloadReader
{
    private const string W = "hviommu.workload.";

    public static readonly IReadOnlyDictionary<string, TraceOrdering> Orderings =
        new Dictionary<string, TraceOrdering> { ["global"] = TraceOrdering.Global, ["per-cpu"] = TraceOrdering.PerCpu };

    public static TraceWorkloadSettings Read(HoconReader r)
    {
        var file = r.String(W + "trace");
        if (file.Length > 0)
            file = Resolve(file, r.SourceOf(W + "trace"));
        if (file.Length > 0 && !File.Exists(file))
            r.Problem(W + "trace", file, "no such trace file (an ftrace text of iommu:map/iommu:unmap events, plain or .gz; a relative path is taken from the config file's directory)");
        return new TraceWorkloadSettings(
            File: file,
            Device: r.String(W + "trace-device"),
            Ordering: r.Choice(W + "trace-ordering", Orderings, TraceOrdering.Global),
            TimeScale: r.Double(W + "trace-time-scale", 0, 1_000_000, 1.0),
            DmaPerPage: r.Int(W + "trace-dma-per-page", 0, 4096, 8),
            DmaBytes: r.Int(W + "trace-dma-bytes", 1, 4096, 512),
            PeriodicDma: r.Duration(W + "trace-periodic-dma", TimeSpan.Zero, TimeSpan.FromHours(1), TimeSpan.FromMilliseconds(10)));
    }

    /// <summary>A relative path is taken from the directory of the file that set it (the working directory for the
    /// embedded default or the command line).</summary>
    private static string Resolve(string path, string sourceFile)
    {
        if (Path.IsPathRooted(path))
            return path;
        var dir = File.Exists(sourceFile) ? Path.GetDirectoryName(Path.GetFullPath(sourceFile)) : null;
        return Path.GetFullPath(dir is null ? path : Path.Combine(dir, path));
    }
}
