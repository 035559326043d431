using System.Text.RegularExpressions;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Architecture;

/// <summary>
/// Every test file of both test projects says its tier (<c>Category</c> = Model, Actors, Scenario or Long), so
/// <c>dotnet test --filter Category=Model</c> and the other fast tiers run alone and miss no test.
/// </summary>
[Trait("Category", "Actors")]
public sealed class TestTierTests
{
    private static readonly Regex Tier = new(@"\[Trait\(""Category"", ""(Model|Actors|Scenario|Long)""\)\]");
    private static readonly Regex Test = new(@"\[(Fact|Theory)\b");

    [Theory]
    [InlineData("tests/HvIommu.Model.Tests")]
    [InlineData("tests/HvIommu.Actors.Tests")]
    public void Every_test_file_names_its_tier(string folder)
    {
        var root = Path.Combine(RunEndToEndTests.RepoRoot(), folder);
        var untiered = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") &&
                        !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Where(f => File.ReadAllText(f) is var text && Test.IsMatch(text) && !Tier.IsMatch(text))
            .Select(f => Path.GetRelativePath(root, f))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(untiered.Count == 0, "test files with no Category trait:\n" + string.Join("\n", untiered));
    }
}
