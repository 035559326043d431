using System.Diagnostics;
using System.Globalization;

namespace HvIommu.Actors.Cluster;

/// <summary>
/// <c>--local-workers K</c>: K <c>worker</c> processes of this same program on 127.0.0.1, joined to this coordinator.
/// Their output goes to this process's error stream, each line prefixed with the worker's number. On dispose any
/// still running after the run are killed (they normally exit on their own when the coordinator says the run is done).
/// </summary>
public sealed class LocalWorkerProcesses : IDisposable
{
    private readonly List<Process> _processes = new();

    /// <param name="join">The coordinator's address.</param>
    /// <param name="parallel">Explorer threads per worker.</param>
    public LocalWorkerProcesses(int count, ClusterAddress join, int parallel, TextWriter log)
    {
        var (program, prefix) = Command();
        for (var i = 0; i < count; i++)
        {
            var info = new ProcessStartInfo(program)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in prefix)
                info.ArgumentList.Add(a);
            foreach (var a in new[] { "worker", "--join", join.ToString(), "--listen", "127.0.0.1:0", "--parallel", parallel.ToString(CultureInfo.InvariantCulture) })
                info.ArgumentList.Add(a);
            var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
            var tag = $"[worker {i + 1}] ";
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(tag + e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(tag + e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _processes.Add(process);
        }
    }

    public IReadOnlyList<Process> Processes => _processes;

    /// <summary>True while any worker process runs.</summary>
    public bool AnyRunning => _processes.Any(p => !p.HasExited);

    /// <summary>How to start this program: <c>dotnet exec HvIommu.Actors.dll</c> (from wherever it is loaded, so also
    /// from a test run), or the native host when the program runs as one.</summary>
    private static (string Program, string[] Prefix) Command()
    {
        var dll = typeof(LocalWorkerProcesses).Assembly.Location;
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(host) || !File.Exists(host))
        {
            var self = Environment.ProcessPath ?? "";
            host = Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        }
        return (host, ["exec", dll]);
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the workers to exit, then kills those left.</summary>
    public void Dispose() => Dispose(TimeSpan.FromSeconds(15));

    public void Dispose(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        foreach (var p in _processes)
        {
            var left = timeout - deadline.Elapsed;
            if (left < TimeSpan.Zero || !p.WaitForExit(left))
            {
                try
                {
                    p.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // exited meanwhile
                }
            }
            p.WaitForExit(5000);
            p.Dispose();
        }
        _processes.Clear();
    }
}
