using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Tests.Reporting;

[Trait("Category", "Model")]
public sealed class ReportFileSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Round_trips_through_a_file()
    {
        var report = SampleReports.WithTwoViolations();
        var path = Path.Combine(_dir, "nested", "report.json");

        ReportWriter.Write(report, path);
        var back = ReportReader.Read(path);

        Assert.Equal(ReportWriter.ToJson(report), ReportWriter.ToJson(back));
        Assert.Equal(7UL, back.Seed);
        Assert.Equal(RunMode.Deterministic, back.Mode);
        Assert.Equal(2, back.Violations.Count);
        Assert.Equal(495, back.Stats.Hypercalls["FlushDeviceDomain"]);
        Assert.Equal("5f3c9a", back.TraceHash);
    }

    [Fact]
    public void A_failing_write_keeps_the_old_report_and_leaves_no_temporary_file()
    {
        var path = Path.Combine(_dir, "report.json");
        ReportWriter.Write(SampleReports.WithTwoViolations(), path);
        var before = File.ReadAllText(path);

        // JSON has no NaN: serialization throws part-way through the stream.
        Assert.ThrowsAny<ArgumentException>(() => ReportWriter.Write(SampleReports.WithTwoViolations(wallSeconds: double.NaN), path));

        Assert.Equal(before, File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Atomic_write_replaces_the_file_only_when_complete()
    {
        var path = Path.Combine(_dir, "data.txt");
        File.WriteAllText(path, "old");

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("partial"u8);
            throw new InvalidOperationException("writer failed");
        }));
        Assert.Equal("old", File.ReadAllText(path));

        AtomicFile.Write(path, s => s.Write("new"u8));
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Reading_a_missing_file_names_it()
    {
        var path = Path.Combine(_dir, "absent.json");

        var e = Assert.Throws<ReportFormatException>(() => ReportReader.Read(path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("no such file", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ not json", "is not valid JSON (line 1, byte 3)")]
    [InlineData("[1, 2]", "not an object")]
    [InlineData("""{ "seed": 7 }""", "has no schemaVersion")]
    [InlineData("""{ "schemaVersion": 1 }""", "has schemaVersion 1; this simulator reads version 2")]
    [InlineData("""{ "schemaVersion": 3 }""", "has schemaVersion 3; this simulator reads version 2")]
    [InlineData("""{ "schemaVersion": 2, "seed": 7 }""", "the report lacks required fields")]
    [InlineData("""{ "schemaVersion": 2, "seed": 1e30 }""", "$.seed = 1e30")]
    [InlineData("""{ "schemaVersion": 2, "seed": 7, "mode": "turbo" }""", "$.mode = \"turbo\"")]
    public void Reading_a_bad_report_says_what_is_wrong(string content, string problem)
    {
        var path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, content);

        var e = Assert.Throws<ReportFormatException>(() => ReportReader.Read(path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }
}
