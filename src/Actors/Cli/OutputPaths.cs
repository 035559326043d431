namespace HvIommu.Actors.Cli;

/// <summary>
/// Checks every path a command will read or write <b>before</b> any work starts, so that a bad path costs a
/// one-line error (exit 2) instead of a finished run's results: an output file must not be a directory, a device,
/// a FIFO or a socket, lie under a file, or sit where nothing can be created (a symbolic link is written through); an output directory must not be a file; an input must
/// be an existing file.
/// </summary>
public static class OutputPaths
{
    /// <summary>A file the command will write (created with its directories if needed).</summary>
    public static void CheckFile(string option, string path)
    {
        if (path.Length == 0)
            throw new UsageException($"{option} '' is empty; give a file path");
        if (path.EndsWith(Path.DirectorySeparatorChar) || path.EndsWith(Path.AltDirectorySeparatorChar) || Directory.Exists(path))
            throw new UsageException($"{option} '{path}' is a directory; give a file path such as {Path.Combine(path.TrimEnd('/', '\\'), "report.json")}");
        if (FileKind.Special(path) is { } kind)
            throw new UsageException($"{option} '{path}' is {kind}, not a regular file; give a file path (a report is written whole, then moved into place)");
        var full = Reporting.AtomicFile.Target(path);
        CheckCreatable(option, path, Path.GetDirectoryName(full)!);
    }

    /// <summary>A directory the command will fill (created if needed).</summary>
    public static void CheckDirectory(string option, string path)
    {
        if (path.Length == 0)
            throw new UsageException($"{option} '' is empty; give a directory path");
        if (File.Exists(path))
            throw new UsageException($"{option} '{path}' is a file; give a directory (it is created if needed)");
        CheckCreatable(option, path, Path.GetFullPath(path));
    }

    /// <summary>
    /// The paths of a running command: its --config and --workload-trace (read), --report (written with its
    /// schedule beside it) and --trace directory; no two of them may name the same file or directory.
    /// </summary>
    public static void CheckRun(string? config, string? report, string? traceDir, string? workloadTrace = null)
    {
        if (config is not null)
            CheckInput("--config", config);
        if (workloadTrace is not null)
            CheckInput("--workload-trace", workloadTrace);
        if (report is not null)
            CheckReportWithSchedule("--report", report);
        if (traceDir is not null)
            CheckDirectory("--trace", traceDir);
        CheckDistinct(
            ("--config", config),
            ("--workload-trace", workloadTrace),
            ("--report", report),
            ("the schedule of --report", report is null ? null : Path.ChangeExtension(report, ".schedule")),
            ("--trace", traceDir));
    }

    /// <summary>
    /// No two paths of one command name the same file or directory: an output written over another output or
    /// over an input would lose it only after the whole run (a trace directory created where the report goes, a
    /// report written over the config it ran). Paths are compared whole, after resolving them against the current
    /// directory; null entries are skipped. Throws <see cref="UsageException"/> naming both options.
    /// </summary>
    public static void CheckDistinct(params (string Option, string? Path)[] paths)
    {
        for (var i = 0; i < paths.Length; i++)
        {
            if (paths[i].Path is not { Length: > 0 } a)
                continue;
            var fullA = Path.GetFullPath(a).TrimEnd('/', '\\');
            for (var j = i + 1; j < paths.Length; j++)
            {
                if (paths[j].Path is not { Length: > 0 } b)
                    continue;
                if (string.Equals(fullA, Path.GetFullPath(b).TrimEnd('/', '\\'), StringComparison.Ordinal))
                    throw new UsageException($"{paths[j].Option} '{b}' is the same path as {paths[i].Option} '{a}'; give each its own path");
            }
        }
    }

    /// <summary>An existing file the command will read.</summary>
    public static void CheckInput(string option, string path)
    {
        if (Directory.Exists(path))
            throw new UsageException($"{option} '{path}' is a directory, not a file");
        if (!File.Exists(path))
            throw new UsageException($"{option} '{path}' does not exist");
    }

    /// <summary>The report file and the schedule written beside it must be two different files.</summary>
    public static void CheckReportWithSchedule(string option, string path)
    {
        CheckFile(option, path);
        if (string.Equals(Path.GetFullPath(path), Path.GetFullPath(Path.ChangeExtension(path, ".schedule")), StringComparison.Ordinal))
            throw new UsageException($"{option} '{path}' would be overwritten by the run's schedule (written beside the report as FILE.schedule); give the report a .json name");
    }

    /// <summary>
    /// Walks up from <paramref name="directory"/> to the nearest existing ancestor: every missing level can be
    /// created only if that ancestor is a directory we can create entries in (probed with a temporary file).
    /// </summary>
    private static void CheckCreatable(string option, string path, string directory)
    {
        var dir = directory;
        while (!Directory.Exists(dir))
        {
            if (File.Exists(dir))
                throw new UsageException($"{option} '{path}': {dir} is a file, so nothing can be created under it");
            dir = Path.GetDirectoryName(dir) ?? throw new UsageException($"{option} '{path}': no existing directory above it");
        }
        var probe = Path.Combine(dir, $".hviommu-probe-{Environment.ProcessId}-{Environment.CurrentManagedThreadId}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Say why without the probe's own file name, which the user never asked for.
            var why = e switch
            {
                UnauthorizedAccessException => "permission denied",
                FileNotFoundException => "it takes no new files", // /proc, /sys
                _ => e.Message.Replace(probe, dir, StringComparison.Ordinal).TrimEnd('.'),
            };
            throw new UsageException($"{option} '{path}': cannot write in {dir} ({why})");
        }
    }
}
