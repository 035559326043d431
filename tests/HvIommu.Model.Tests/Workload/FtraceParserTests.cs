using System.IO.Compression;
using System.Text;
using HvIommu.Model.Workload;

namespace HvIommu.Model.Tests.Workload;

/// <summary>The ftrace reader against the shipped fixture (a cut of a real Linux 6.1 trace) and against broken input.</summary>
[Trait("Category", "Model")]
public sealed class FtraceParserTests
{
    private const string Header = """
        # tracer: nop
        #
        #           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
        #              | |         |   |||||     |         |

        """;

    internal static string Fixture()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "HvIommu.Actors.sln")))
            dir = dir.Parent;
        return Path.Combine(dir!.FullName, "tests", "fixtures", "traces", "nvme-vtd-strict.trace");
    }

    [Fact]
    public void The_fixture_parses_to_its_own_counts()
    {
        var lines = File.ReadAllLines(Fixture());
        var trace = FtraceParser.ParseFile(Fixture());

        Assert.Equal(lines.Count(l => l.Contains(": map: ", StringComparison.Ordinal)), trace.MapEvents);
        Assert.Equal(lines.Count(l => l.Contains(": unmap: ", StringComparison.Ordinal)), trace.UnmapEvents);
        Assert.Equal(lines.Count(l => l.StartsWith('#')), trace.SkippedLines);
        Assert.Equal(new[] { 0, 1 }, trace.Cpus.ToArray());
        var mapped = lines.Where(l => l.Contains(": map: ", StringComparison.Ordinal)).Sum(l => long.Parse(l[(l.LastIndexOf("size=", StringComparison.Ordinal) + 5)..]));
        Assert.Equal((ulong)mapped, trace.BytesMapped);
        var first = trace.Events[0];
        Assert.Equal(IommuEventKind.Map, first.Kind);
        Assert.Equal(1, first.Cpu);
        Assert.Equal(0xfffff000UL, first.Iova);
        Assert.Equal(4096UL, first.Size);
        Assert.Equal(0x4b1c000UL, first.Paddr);
        Assert.Equal(5_458_166_000L, first.TimestampNs);
        Assert.Equal(13, first.Line);
    }

    [Fact]
    public void Gzip_gives_the_same_trace_as_plain_text()
    {
        var plain = FtraceParser.ParseFile(Fixture());
        using var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
            z.Write(File.ReadAllBytes(Fixture()));
        gz.Position = 0;
        var zipped = FtraceParser.Parse(gz, "fixture.trace.gz");
        Assert.Equal(plain.Events.ToArray(), zipped.Events.ToArray());
        Assert.Equal(plain.SkippedLines, zipped.SkippedLines);
    }

    [Fact]
    public void Other_events_and_lost_event_notes_are_skipped_and_counted()
    {
        var text = Header + """
                       dd-116     [000] .....     8.467000: attach_device_to_domain: IOMMU: device=0000:00:04.0
            CPU:1 [LOST 12 EVENTS]
                       dd-116     [000] .....     8.468073: map: IOMMU: iova=0x00000000fff60000 - 0x00000000fff80000 paddr=0x0000000004f0a000 size=131072
            """;
        var trace = FtraceParser.Parse(new StringReader(text), "t");
        Assert.Equal(1, trace.MapEvents);
        Assert.Equal(1, trace.OtherEvents);
        Assert.Equal(6, trace.SkippedLines);
    }

    [Fact]
    public void Trace_cmd_report_lines_without_flags_and_old_kernels_without_the_end_parse()
    {
        var text = """
                  dd-116   [000]  8.468073: map: IOMMU: iova=0x00000000fff60000 paddr=0x0000000004f0a000 size=131072
                  dd-116   (  116) [001]  8.468268: iommu:unmap: IOMMU: iova=0x00000000fff60000 size=131072 unmapped_size=131072
            """;
        var trace = FtraceParser.Parse(new StringReader(text), "t");
        Assert.Equal(2, trace.Events.Length);
        Assert.Equal(IommuEventKind.Unmap, trace.Events[1].Kind);
        Assert.Equal(1, trace.Events[1].Cpu);
        Assert.Equal(131072UL, trace.Events[1].UnmappedSize);
    }

    [Theory]
    [InlineData("this is not a trace line", "expected an ftrace event line")]
    [InlineData("  dd-116 [000] ..... 8.468073: map: IOMMU: iova=0xfff60000 - 0xfff80000 size=131072", "expected 'map: IOMMU: iova=0x<start> - 0x<end> paddr=0x<pa> size=<bytes>'")]
    [InlineData("  dd-116 [000] ..... 8.468073: unmap: IOMMU: iova=0xfff60000 - 0xfff80000 size=131072", "expected 'unmap: IOMMU:")]
    [InlineData("  dd-116 [000] ..... 8.468073: map: IOMMU: iova=0xfff60000 - 0xfff90000 paddr=0x1000 size=131072", "expected end = start + size")]
    [InlineData("  dd-116 [000] ..... 8.468073: map: IOMMU: iova=0xfff60800 - 0xfff61800 paddr=0x1000 size=4096", "4 KiB-aligned")]
    [InlineData("  dd-116 [000] ..... 8.468073: map: IOMMU: iova=0xfff60000 - 0xfff61000 paddr=0x1800 size=4096", "paddr=0x1800 is not 4 KiB aligned")]
    // A CPU number past int, and digits of another script (.NET's \d matches U+FF19), were a simulator failure (exit 3).
    [InlineData("  dd-116 [99999999999] ..... 8.468073: map: IOMMU: iova=0xfff60000 - 0xfff61000 paddr=0x1000 size=4096", "CPU [99999999999] is not a CPU number (expected a whole number from 0 to 2147483647)")]
    [InlineData("  dd-116 [\uFF19\uFF19] ..... 8.468073: map: IOMMU: iova=0xfff60000 - 0xfff61000 paddr=0x1000 size=4096", "expected an ftrace event line")]
    [InlineData("  dd-116 [000] ..... 8.468073: map: IOMMU: iova=0xfff60000 - 0xfff61000 paddr=0x1000 size=\uFF14\uFF10\uFF19\uFF16", "expected 'map: IOMMU:")]
    public void A_malformed_line_names_its_line_number_and_what_was_expected(string bad, string expected)
    {
        var text = Header + "          dd-116     [000] .....     8.468073: map: IOMMU: iova=0x00000000fff60000 - 0x00000000fff80000 paddr=0x0000000004f0a000 size=131072\n" + bad + "\n";
        var e = Assert.Throws<TraceFormatException>(() => FtraceParser.Parse(new StringReader(text), "broken.trace"));
        Assert.Equal(6, e.Line);
        Assert.Equal("broken.trace", e.File);
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("broken.trace:6: ", e.Message);
    }

    [Fact]
    public void Out_of_order_timestamps_are_sorted_stably()
    {
        var text = """
              a-1 [001] ..... 2.000000: map: IOMMU: iova=0x2000 - 0x3000 paddr=0x2000 size=4096
              a-1 [000] ..... 1.000000: map: IOMMU: iova=0x1000 - 0x2000 paddr=0x1000 size=4096
              a-1 [000] ..... 2.000000: map: IOMMU: iova=0x3000 - 0x4000 paddr=0x3000 size=4096
            """;
        var trace = FtraceParser.Parse(new StringReader(text), "t");
        Assert.Equal(new[] { 0x1000UL, 0x2000UL, 0x3000UL }, trace.Events.Select(e => e.Iova).ToArray());
    }

    [Fact]
    public void A_damaged_gzip_is_a_format_error()
    {
        var bytes = new byte[] { 0x1f, 0x8b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        Assert.Throws<TraceFormatException>(() => FtraceParser.Parse(new MemoryStream(bytes), "x.gz"));
    }

    [Fact]
    public void Non_ascii_task_names_parse()
    {
        var text = "  kworker/ü:1-25 [001] ..... 5.458166: map: IOMMU: iova=0x1000 - 0x2000 paddr=0x1000 size=4096\n";
        var trace = FtraceParser.Parse(new MemoryStream(Encoding.UTF8.GetBytes(text)), "t");
        Assert.Single(trace.Events);
    }
}
