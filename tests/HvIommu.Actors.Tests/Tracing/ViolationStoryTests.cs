using System.Text.Json;
using HvIommu.Actors.Reporting;
using HvIommu.Actors.Tests.Configuration;
using HvIommu.Actors.Tests.Simulation;
using HvIommu.Actors.Tracing;

namespace HvIommu.Actors.Tests.Tracing;

/// <summary>
/// The violation story tells the facts the oracle names, found by their serials, never look-alikes: an earlier
/// mapping of the same IOVA, an unmap of another buffer by the same vCPU in the same domain, a flush that did not
/// cover the unmap, a free of the frame's previous owner, events recorded before the violation but later on its
/// clock (a stress run); and a stress run's story tells no schedule steps, which it does not have.
/// </summary>
public sealed class ViolationStoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("hviommu-story-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The shape of issue 14's h2 stress trace: mapping #21 is the one the oracle blames, #23 a later map of the same page.</summary>
    private static (IReadOnlyList<TraceEvent> Events, ViolationRecord Record) H2Shape(long step)
    {
        var r = new TraceRecorder(100);
        r.Record(step, 100, TraceEventKind.Free, "vcpu2", "free buffer 0x107000", "frame back to the guest allocator", 0); // the previous owner's
        r.Record(step, 200, TraceEventKind.PteWrite, "vcpu2", "map 0xffffc000", "GPA 0x107000, domain 3, mapping #21 IOVA 0xffffc000 → GPA 0x107000 (4K, rw) of domain 3", 0);
        r.Record(step, 250, TraceEventKind.PteWrite, "vcpu2", "unmap 0xffff8000", "1 pages, domain 3, descriptor 4, mappings #19", 0); // another buffer
        r.Record(step, 260, TraceEventKind.Flush, "flush-handler", "flush #15 started", "domain 3, whole domain, handler flush 15", 0);
        r.Record(step, 300, TraceEventKind.DmaTranslate, "device-dev1", "translate 0xffffc040", "GPA 0x107040 via Iotlb, domain 3, mapping #21, replayed descriptor", 0);
        r.Record(step, 320, TraceEventKind.Flush, "flush-handler", "flush #15 completed", "domain 3, started at 260 ns, DMA drained", 0); // before the unmap: covers nothing
        r.Record(step, 400, TraceEventKind.PteWrite, "vcpu2", "unmap 0xffffc000", "1 pages, domain 3, descriptor 5, mappings #20-#22", 0);
        r.Record(step, 410, TraceEventKind.Free, "vcpu2", "free buffer 0x107000", "frame back to the guest allocator", 0);
        r.Record(step, 420, TraceEventKind.PteWrite, "vcpu1", "map 0xffffc000", "GPA 0x107000, domain 3, mapping #23 IOVA 0xffffc000 → GPA 0x107000 (4K, rw) of domain 3", 0);
        r.Record(step, 450, TraceEventKind.DmaTranslate, "device-dev1", "translate 0xffffc040", "GPA 0x107040 via Iotlb, domain 3, mapping #23", 0);
        r.Record(step, 900, TraceEventKind.Flush, "flush-handler", "flush #16 completed", "domain 3, started at 700 ns, DMA drained", 0); // after the violation's time
        r.Record(step, 500, TraceEventKind.Violation, "device-dev1", "DmaToFreedFrame (H2)", "DMA … reached frame 0x107000", 0);
        var record = new ViolationRecord("DmaToFreedFrame", "H2", 110, 500, null, "dev1", 3, "0xffffc040", "0x107000",
            "DMA through a translation from the IOTLB reached frame 0x107000, which was freed after the translation was made",
            "The buffer was freed before the flush covering its unmap (H2). History: mapping #21 IOVA 0xffffc000 → GPA 0x107000 (4K, rw) of domain 3 mapped at 200 ns, unmapped at 400 ns, no covering flush has completed yet.",
            "", Mapping: 21, Flush: null);
        return (r.Snapshot(), record);
    }

    [Fact]
    [Trait("Category", "Model")]
    public void The_story_tells_the_mapping_unmap_and_free_the_oracle_names_and_nothing_else()
    {
        var (events, record) = H2Shape(step: 0);
        var story = ViolationStory.Of(events, record, stepped: false)!;
        Assert.Equal(["map 0xffffc000", "translate 0xffffc040", "unmap 0xffffc000", "free buffer 0x107000"], story.Facts.Select(e => e.Name));
        Assert.Contains("mapping #21 ", story.Facts[0].Detail);
        Assert.Contains("mapping #21", story.Facts[1].Detail);
        Assert.Equal(410, story.Facts[3].TimeNs);
        Assert.DoesNotContain("#23", story.Text);
        Assert.DoesNotContain("flush #1", story.Text);
        Assert.All(story.Facts, e => Assert.True(e.TimeNs <= story.Violation.TimeNs));
        // A stress trace has no schedule steps: none is told.
        Assert.DoesNotMatch(@"\bstep 0\b", story.Text);
        Assert.DoesNotMatch(@"(?m)^- step ", story.Text);
        Assert.DoesNotContain("at schedule step", story.Text);
        Assert.Contains("Too early: the free at 410 ns — no flush covering the unmap had completed", story.Text);
        // Nor an actor's step: the violation is told by actor and wall-clock time.
        Assert.DoesNotContain("'s step", story.Text);
        Assert.Contains("by device-dev1, ", story.Text);
    }

    [Fact]
    [Trait("Category", "Model")]
    public void A_deterministic_story_tells_schedule_steps_and_the_flush_the_oracle_names()
    {
        var (events, record) = H2Shape(step: 7);
        var story = ViolationStory.Of(events, record with { Mapping = 21, Flush = 15 }, stepped: true)!;
        Assert.Contains("at schedule step 7 (device-dev1's step 110)", story.Text);
        Assert.Contains("- step 7, 200 ns — vcpu2: map 0xffffc000", story.Text);
        Assert.Contains(story.Facts, e => e.Name == "flush #15 completed");
        Assert.Contains(story.Facts, e => e.Name == "flush #15 started");
        Assert.DoesNotContain(story.Facts, e => e.Name == "flush #16 completed");
    }

    [Fact]
    [Trait("Category", "Scenario")]
    public void A_stress_trace_of_h2_narrates_the_mapping_the_oracle_blames()
    {
        var report = Path.Combine(_dir, "h2.json");
        var trace = Path.Combine(_dir, "trace");
        var (exit, stdout, stderr) = RunEndToEndTests.Run(["run", "--config", RepoFiles.Path("config", "scenarios", "h2-free-iova-wrong.conf"),
            "--mode", "stress", "--seed", "1", "--trace", trace, "--report", report, "--plain"]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        using var doc = JsonDocument.Parse(File.ReadAllText(report));
        var first = doc.RootElement.GetProperty("violations")[0];
        var serial = first.GetProperty("mapping").GetInt64();
        var md = File.ReadAllText(Path.Combine(trace, TraceFiles.MermaidFile)).ReplaceLineEndings("\n");
        var told = md[..md.IndexOf("\nToo early:", StringComparison.Ordinal)];
        // Every mapping the story names is the one the oracle blames.
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(told, @"mappings? #(\d+)"))
            Assert.Equal(serial.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Groups[1].Value);
        Assert.Contains($"mapping #{serial} IOVA", told);
        Assert.DoesNotMatch(@"(?m)^- step ", told);
        Assert.DoesNotMatch(@"\bstep 0\b", told);
        Assert.DoesNotContain("at schedule step", md);
        // Nothing after the violation: not later in the trace, not later on its clock; and no step fields.
        var lines = File.ReadAllLines(Path.Combine(trace, TraceFiles.HistoryFile)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var violation = lines[^1];
        Assert.Equal("Violation", violation.GetProperty("kind").GetString());
        Assert.All(lines, e => Assert.True(e.GetProperty("timeNs").GetInt64() <= violation.GetProperty("timeNs").GetInt64(), e.ToString()));
        Assert.All(lines, e => Assert.False(e.TryGetProperty("step", out _), e.ToString()));
    }
}
