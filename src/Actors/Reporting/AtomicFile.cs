namespace HvIommu.Actors.Reporting;

/// <summary>
/// Writes a file all at once or not at all: the content goes to a temporary file in the same
/// directory, which replaces the target only once it is complete. A failure part-way leaves any
/// existing file untouched and removes the temporary one.
/// </summary>
public static class AtomicFile
{
    private static long _sequence;

    /// <summary>Writes <paramref name="text"/> as UTF-8, all at once or not at all.</summary>
    public static void WriteText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(text);
        });

    /// <summary>
    /// The file a write to <paramref name="path"/> replaces: the path itself (made absolute), or, when it is a symbolic
    /// link, the file the link finally points to — so the link stays and its target gets the new content.
    /// </summary>
    public static string Target(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        return info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target
            ? Path.GetFullPath(target.FullName)
            : info.FullName;
    }

    /// <summary>Creates the directory if needed, lets <paramref name="write"/> fill a temporary file, then moves it over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Target(path);
        var directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory", nameof(path));
        Directory.CreateDirectory(directory);
        // Unique within the process by a counter and across processes by the id; no randomness needed.
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Interlocked.Increment(ref _sequence)}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
