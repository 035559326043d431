using System.Collections.Concurrent;

namespace HvIommu.Model.Workload;

/// <summary>
/// Parsed traces by file, so that the many runs of one process (compare's variants, an explorer's schedules)
/// parse a trace once. A file changed on disk (length or write time) is parsed again.
/// </summary>
public static class FtraceCache
{
    private static readonly ConcurrentDictionary<(string Path, long Length, DateTime Written), Lazy<FtraceTrace>> Parsed = new();

    /// <exception cref="TraceFormatException">The file is not an ftrace of iommu events.</exception>
    /// <exception cref="IOException">It cannot be read.</exception>
    public static FtraceTrace Get(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists)
            throw new FileNotFoundException($"no such trace file: {path}", path);
        var key = (full, info.Length, info.LastWriteTimeUtc);
        var lazy = Parsed.GetOrAdd(key, _ => new Lazy<FtraceTrace>(() => FtraceParser.ParseFile(path), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Parsed.TryRemove(key, out _);
            throw;
        }
    }
}
