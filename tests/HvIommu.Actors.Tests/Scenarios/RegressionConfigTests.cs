using System.Globalization;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Tests.Configuration;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Scenarios;

/// <summary>
/// Correct configurations that once reported violations (config/regressions/*.conf: every knob at its safe
/// default, <c>expect = clean</c>). Each must stay clean: the seed it failed on (its <c>seed</c>, else 1) in both modes by default, seeds 1..N of both modes
/// with HVIOMMU_LONG_SEEDS=N. A false positive is as bad as a miss.
/// </summary>
public sealed class RegressionConfigTests
{
    public static string Directory => RepoFiles.Path("config", "regressions");

    public static IReadOnlyList<string> All() =>
        System.IO.Directory.GetFiles(Directory, "*.conf").OrderBy(f => f, StringComparer.Ordinal).ToList();

    public static TheoryData<string, string> Runs()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in All())
            foreach (var mode in new[] { "deterministic", "stress" })
                data.Add(Path.GetFileNameWithoutExtension(file), mode);
        return data;
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public void A_correct_configuration_that_once_failed_is_clean(string name, string mode)
    {
        var file = Path.Combine(Directory, name + ".conf");
        AssertClean(file, mode, SeedOf(file));
    }

    /// <summary>The seed the configuration once failed on (its <c>seed = N</c>), else 1.</summary>
    internal static int SeedOf(string file)
    {
        var m = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(file), @"(?m)^\s*seed\s*=\s*(\d+)\s*$");
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 1;
    }

    [LongFact]
    [Trait("Category", "Long")]
    public void Every_regression_is_clean_over_many_seeds_in_both_modes()
    {
        var failures = new List<string>();
        foreach (var file in All())
            foreach (var mode in new[] { "deterministic", "stress" })
                for (var seed = 1; seed <= LongFactAttribute.Seeds; seed++)
                {
                    var (exit, stdout, _) = Run(file, mode, seed);
                    if (exit != ExitCodes.Matched)
                        failures.Add($"{Path.GetFileName(file)} {mode} seed {seed}: exit {exit}\n{stdout}");
                }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    internal static void AssertClean(string file, string mode, int seed)
    {
        var (exit, stdout, stderr) = Run(file, mode, seed);
        Assert.True(exit == ExitCodes.Matched, $"{Path.GetFileName(file)} {mode} seed {seed}: exit {exit}\n{stdout}\n{stderr}");
    }

    private static (int Exit, string Stdout, string Stderr) Run(string file, string mode, int seed) =>
        RunEndToEndTests.Run(["run", "--config", file, "--mode", mode, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--plain"]);
}
