using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// A fact that runs only when the tests do not run as root. Root writes into a directory whatever its mode bits
/// (CAP_DAC_OVERRIDE), so a read-only directory cannot be made for it: the test is skipped there, saying why, and a CI
/// that runs as an ordinary user checks it. (Evaluated when the tests are discovered, in the process that runs them.)
/// </summary>
public sealed class NotRootFactAttribute : FactAttribute
{
    public NotRootFactAttribute()
    {
        if (OperatingSystem.IsWindows())
            Skip = "Unix permission bits: not on Windows";
        else if (Environment.IsPrivilegedProcess)
            Skip = "running as root, which writes into a chmod 555 directory anyway (CAP_DAC_OVERRIDE): run the tests as an ordinary user to check read-only directories";
    }
}

/// <summary>
/// Outputs aimed into a read-only directory (mode 555) are refused before any work, by every command that writes:
/// exit 2 naming the option and the path, nothing created, no stack trace.
/// </summary>
[Trait("Category", "Actors")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ReadOnlyOutputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-readonly-").FullName;

    public void Dispose()
    {
        File.SetUnixFileMode(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.Delete(_dir, recursive: true);
    }

    [NotRootFact]
    public void Every_output_into_a_read_only_directory_is_refused_before_the_run()
    {
        var report = Path.Combine(_dir, "r.json");
        // A failing run (the H5 scenario finds its violation), so minimize gets as far as its --out.
        var scenario = Path.Combine(RunEndToEndTests.RepoRoot(), "config", "scenarios", "h5-drain-wrong.conf");
        Assert.Equal(ExitCodes.Matched, RunEndToEndTests.Run(["run", "--config", scenario, "--mode", "deterministic", "--report", report]).Exit);
        var locked = Path.Combine(_dir, "locked");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            foreach (var args in new[]
            {
                new[] { "run", "--ops", "1", "--report", Path.Combine(locked, "r.json") },
                ["run", "--ops", "1", "--trace", Path.Combine(locked, "trace")],
                ["explore", "--seeds", "1", "--ops", "1", "--report", Path.Combine(locked, "x.json")],
                ["sweep", "--seeds", "1", "--ops", "1", "--vary", "hviommu.vm.vcpus=1,2", "--out", Path.Combine(locked, "sweep")],
                ["compare", "--config", scenario, "--ops", "1", "--out", Path.Combine(locked, "compare")],
                ["replay", "--report", report, "--trace", Path.Combine(locked, "trace")],
                ["minimize", "--report", report, "--out", Path.Combine(locked, "min")],
            })
            {
                var r = HostileInputTests.Run(args);
                HostileInputTests.BadInput(r, $"{args[^2]} '{args[^1]}': cannot write in {locked} (permission denied)");
                Assert.DoesNotContain("result:", r.Out); // refused before any run
            }
            Assert.Empty(Directory.EnumerateFileSystemEntries(locked));
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
