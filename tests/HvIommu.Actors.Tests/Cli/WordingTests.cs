using System.Text.RegularExpressions;
using HvIommu.Actors.Cli;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// Counts of one read in the singular ("1 page", not "1 pages") and no article is wrong before a vowel ("a Iotlb"),
/// in everything a small run prints and writes: validate, a traced deterministic run, explore of one schedule.
/// </summary>
[Trait("Category", "Actors")]
public sealed partial class WordingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-wording-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex(@"(?<![=\d.,])\b1 (pages|schedules|violations|events|vCPUs|ops|entries|steps|runs|operations|seeds|devices|domains|leases|messages)\b")]
    private static partial Regex OnePlural();

    [GeneratedRegex(@"\ba (Iotlb|IOTLB|IOVA|ATC|ATS|IOMMU|identity|entry|event|exit|operation|unmap|invalidation)\b")]
    private static partial Regex WrongArticle();

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static void Worded(string where, string text)
    {
        Assert.False(OnePlural().IsMatch(text), $"{where}: '{OnePlural().Match(text).Value}' in\n{text}");
        Assert.False(WrongArticle().IsMatch(text), $"{where}: '{WrongArticle().Match(text).Value}' in\n{text}");
    }

    [Fact]
    public void Counted_is_singular_for_one_only()
    {
        Assert.Equal("1 page", Counted.Of(1, "page"));
        Assert.Equal("0 pages", Counted.Of(0, "page"));
        Assert.Equal("12,345 schedules", Counted.Of(12_345, "schedule"));
        Assert.Equal("1 entry", Counted.Of(1UL, "entry", "entries"));
        Assert.Equal("2 entries", Counted.Of(2UL, "entry", "entries"));
    }

    [Fact]
    public void A_run_of_one_of_everything_reads_in_the_singular()
    {
        var config = Path.Combine(_dir, "one.conf");
        File.WriteAllText(config, """
            hviommu {
              vm.vcpus = 1
              run.ops = 1
              workload { buffer-pages = 1, outstanding-per-vcpu = 1, dma-per-op = 1 }
              devices = [ { name = "nic", domain = "dom" } ]
            }
            """);
        var validate = Run("validate", "--config", config);
        Assert.True(validate.Code == ExitCodes.Matched, validate.Out + validate.Err);
        Worded("validate", validate.Out);

        var trace = Path.Combine(_dir, "trace");
        var run = Run("run", "--config", config, "--mode", "deterministic", "--trace", trace, "--plain");
        Assert.True(run.Code == ExitCodes.Matched, run.Out + run.Err);
        Worded("run", run.Out + run.Err);
        foreach (var file in Directory.GetFiles(trace).Where(f => f.EndsWith(".md", StringComparison.Ordinal) || f.EndsWith(".jsonl", StringComparison.Ordinal)))
            Worded(file, File.ReadAllText(file));

        var explore = Run("explore", "--config", config, "--seeds", "1", "--plain");
        Assert.True(explore.Code == ExitCodes.Matched, explore.Out + explore.Err);
        Worded("explore", explore.Out + explore.Err);
    }
}
