using System.Text.RegularExpressions;
using HvIommu.Actors.Tests.Simulation;

namespace HvIommu.Actors.Tests.Docs;

/// <summary>
/// The repository stands alone: every brief section (<c>§1.6</c>, <c>§8 q3</c>) and hazard id (<c>H9</c>) that code,
/// configuration, README and docs cite resolves to docs/pviommu.md, and every <c>docs/*.md</c> they name exists.
/// </summary>
[Trait("Category", "Actors")]
public sealed partial class DocsCitationTests
{
    // A section of the brief: §N or §N.M, not a foreign spec's deeper number (VT-d §6.5.2.5) nor one a spec names.
    [GeneratedRegex(@"(?<!(VT-d|spec|SDM Vol\.3|specification|design\.md) )§(?<n>\d+)(?:\.(?<m>\d+))?(?![.\d])(?: q(?<q>\d+))?")]
    private static partial Regex SectionCitation();

    [GeneratedRegex(@"\bdocs/(?<file>[A-Za-z0-9_-]+\.md)\b")]
    private static partial Regex DocsFile();

    [GeneratedRegex(@"\bH(?<id>\d{1,2})\b")]
    private static partial Regex HazardId();

    private static string Root => RunEndToEndTests.RepoRoot();

    private static IEnumerable<string> CitingFiles()
    {
        foreach (var (dir, pattern) in new[] { ("src", "*.cs"), ("config", "*.conf"), ("tests", "*.cs"), ("docs", "*.md") })
            foreach (var f in Directory.EnumerateFiles(Path.Combine(Root, dir), pattern, SearchOption.AllDirectories))
                if (!f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
                    yield return f;
        yield return Path.Combine(Root, "README.md");
    }

    private static string Brief => File.ReadAllText(Path.Combine(Root, "docs", "pviommu.md"));

    [Fact]
    public void Every_cited_section_of_the_brief_exists_in_docs_pviommu()
    {
        var brief = Brief;
        var sections = new HashSet<string>(Regex.Matches(brief, @"^##+ (\d+(?:\.\d+)?)\.? ", RegexOptions.Multiline).Select(m => m.Groups[1].Value));
        var questions = Regex.Matches(brief[brief.IndexOf("## 8.", StringComparison.Ordinal)..], @"^(\d+)\. ", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
        var missing = new List<string>();
        foreach (var file in CitingFiles())
            foreach (Match m in SectionCitation().Matches(File.ReadAllText(file)))
            {
                var section = m.Groups["m"].Success ? $"{m.Groups["n"].Value}.{m.Groups["m"].Value}" : m.Groups["n"].Value;
                if (!sections.Contains(section) || (m.Groups["q"].Success && (section != "8" || !questions.Contains(m.Groups["q"].Value))))
                    missing.Add($"{Path.GetRelativePath(Root, file)}: {m.Value}");
            }
        Assert.True(sections.Count >= 28, $"docs/pviommu.md has only {sections.Count} numbered sections");
        Assert.True(missing.Count == 0, "cited sections that docs/pviommu.md does not have (add the section, or fix the citation): "
            + string.Join("; ", missing.Distinct()));
    }

    [Fact]
    public void Every_hazard_id_in_the_scenario_catalogue_is_described_in_the_brief()
    {
        var described = Regex.Matches(Brief, @"^- \*\*H(\d+) ", RegexOptions.Multiline).Select(m => int.Parse(m.Groups[1].Value)).ToHashSet();
        Assert.Equal(Enumerable.Range(1, 20), described.Order());
        var cited = Directory.EnumerateFiles(Path.Combine(Root, "config", "scenarios"), "*.conf")
            .SelectMany(f => HazardId().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetFileName(f), Id: int.Parse(m.Groups["id"].Value))))
            .Where(c => !described.Contains(c.Id))
            .Select(c => $"{c.File}: H{c.Id}");
        Assert.Empty(cited);
    }

    [Fact]
    public void Every_docs_page_that_is_named_exists()
    {
        var missing = CitingFiles()
            .SelectMany(f => DocsFile().Matches(File.ReadAllText(f)).Select(m => (File: f, Doc: m.Groups["file"].Value)))
            .Where(c => !File.Exists(Path.Combine(Root, "docs", c.Doc)))
            .Select(c => $"{Path.GetRelativePath(Root, c.File)} names docs/{c.Doc}")
            .Distinct();
        Assert.Empty(missing);
    }

    [Fact]
    public void The_hazard_table_names_every_scenario_pair_and_only_knobs_that_exist()
    {
        var table = File.ReadAllText(Path.Combine(Root, "docs", "hazards.md"));
        var unlisted = Directory.EnumerateFiles(Path.Combine(Root, "config", "scenarios"), "*.conf")
            .Select(f => Regex.Replace(Path.GetFileNameWithoutExtension(f), "-(wrong|right)$", "-"))
            .Distinct()
            .Where(stem => !table.Contains($"`{stem}", StringComparison.Ordinal))
            .ToList();
        Assert.True(unlisted.Count == 0, "docs/hazards.md has no row for the scenario pairs "
            + string.Join(", ", unlisted.Select(u => u + "{wrong,right}.conf")) + ": add one (hazard, knob, wrong value, kind found, files)");

        var reference = Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Root, "config", "reference.conf")));
        var knobs = Regex.Matches(table, @"^\| H\d+[^|]*\| `(?<key>[a-z0-9.-]+)`", RegexOptions.Multiline).Select(m => m.Groups["key"].Value).ToList();
        Assert.True(knobs.Count >= 15, $"only {knobs.Count} knobs found in docs/hazards.md");
        var unknown = knobs.Where(k => !reference.HasPath("hviommu." + k)).ToList();
        Assert.True(unknown.Count == 0, "docs/hazards.md names knobs that config/reference.conf does not have: " + string.Join(", ", unknown));
    }

    [Fact]
    public void The_hazard_table_has_a_row_for_every_knob_of_the_hazard_registry()
    {
        var rows = File.ReadAllLines(Path.Combine(Root, "docs", "hazards.md")).Where(l => l.StartsWith("| H", StringComparison.Ordinal)).ToList();
        var missing = HvIommu.Model.Hazards.HazardRegistry.All
            .Where(k => !rows.Any(r => r.StartsWith($"| {k.Id} ", StringComparison.Ordinal) && r.Contains($"`{k.ShortKey}`", StringComparison.Ordinal)))
            .Select(k => $"{k.Id} {k.ShortKey}")
            .ToList();
        Assert.True(missing.Count == 0, "docs/hazards.md has no row for these hazard-registry knobs: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_cited_section_of_the_design_exists_in_docs_design()
    {
        var design = File.ReadAllText(Path.Combine(Root, "docs", "design.md"));
        var sections = new HashSet<string>(Regex.Matches(design, @"^##+ (\d+(?:\.\d+)?)\.? ", RegexOptions.Multiline).Select(m => m.Groups[1].Value));
        var missing = CitingFiles()
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), @"design\.md §(\d+(?:\.\d+)?)").Select(m => (File: f, Section: m.Groups[1].Value)))
            .Where(c => !sections.Contains(c.Section))
            .Select(c => $"{Path.GetRelativePath(Root, c.File)}: design.md §{c.Section}")
            .Distinct()
            .ToList();
        Assert.True(missing.Count == 0, "cited sections that docs/design.md does not have: " + string.Join("; ", missing));
    }
}
