using HvIommu.Model.Workload;

namespace HvIommu.Model.Tests.Workload;

/// <summary>The replay's ordering and dependency rules on small hand-written traces.</summary>
[Trait("Category", "Model")]
public sealed class TraceReplayTests
{
    // CPU 0 maps a two-segment scatter-gather list; CPU 1 unmaps it as one range (a completion on the other CPU);
    // CPU 0 then maps the same IOVA again.
    private const string SgOnTwoCpus = """
        a-1 [000] ..... 1.000000: map: IOMMU: iova=0xffffe000 - 0xfffff000 paddr=0x10000 size=4096
        a-1 [000] ..... 1.000001: map: IOMMU: iova=0xfffff000 - 0x100000000 paddr=0x20000 size=4096
        b-2 [001] d.h1. 1.000002: unmap: IOMMU: iova=0xffffe000 - 0x100000000 size=8192 unmapped_size=8192
        a-1 [000] ..... 1.000003: map: IOMMU: iova=0xffffe000 - 0xfffff000 paddr=0x30000 size=4096
        """;

    private static TraceReplay Replay(string text, TraceOrdering ordering, bool strict = true) =>
        new(FtraceParser.Parse(new StringReader(text), "t"), ordering, 0, 48, strict);

    [Fact]
    public void An_unmap_covers_every_segment_of_its_range_and_waits_for_their_dma()
    {
        var r = Replay(SgOnTwoCpus, TraceOrdering.PerCpu);
        Assert.Equal(TraceStepKind.Waiting, r.Next(1).Kind);
        Assert.Equal(new TraceStep(TraceStepKind.Ready, 0), r.Next(0));
        r.PlaceMap(0);
        r.DmaProgrammed(0);
        r.ReachedTracePoint(0);
        Assert.Equal(new TraceStep(TraceStepKind.Ready, 1), r.Next(0));
        r.PlaceMap(1);
        r.ReachedTracePoint(1);
        Assert.Equal(TraceStepKind.Waiting, r.Next(1).Kind);
        r.DmaCompleted(0);
        Assert.Equal(new TraceStep(TraceStepKind.Ready, 2), r.Next(1));
        var ranges = r.UnmapRanges(2);
        Assert.Equal([new UnmapRange(0xffffe000, 8192, [0, 1])], ranges.Select(x => x with { Maps = [.. x.Maps] }), new RangeComparer());
        Assert.Equal(2, r.UnmapOf(0));
        Assert.Equal(2, r.UnmapOf(1));
    }

    [Fact]
    public void Strict_mode_maps_an_iova_again_only_after_the_unmap_that_freed_it_finished()
    {
        var r = Replay(SgOnTwoCpus, TraceOrdering.PerCpu);
        foreach (var i in new[] { 0, 1 })
        {
            Assert.Equal(i, r.Next(0).EventIndex);
            r.PlaceMap(i);
            r.ReachedTracePoint(i);
        }
        Assert.Equal(TraceStepKind.Waiting, r.Next(0).Kind);
        Assert.Equal(2, r.Next(1).EventIndex);
        r.ReachedTracePoint(2);
        Assert.Equal(TraceStepKind.Waiting, r.Next(0).Kind);
        r.ReleaseIova(0xffffe000, 8192);
        r.Finished(2);
        Assert.Equal(3, r.Next(0).EventIndex);
        Assert.Equal(0xffffe000UL, r.PlaceMap(3));
        Assert.Equal(0, r.RelocatedMaps);
    }

    [Fact]
    public void Lazy_mode_places_a_map_whose_range_a_flush_queue_still_holds_at_an_alias()
    {
        var r = Replay(SgOnTwoCpus, TraceOrdering.Global, strict: false);
        foreach (var (vcpu, i) in new[] { (0, 0), (0, 1), (1, 2) })
        {
            Assert.Equal(i, r.Next(vcpu).EventIndex);
            if (i < 2)
                r.PlaceMap(i);
            r.ReachedTracePoint(i);
        }
        Assert.Equal(3, r.Next(0).EventIndex);
        var alias = r.PlaceMap(3);
        Assert.NotEqual(0xffffe000UL, alias);
        Assert.Equal(0xffffe000UL, alias & 0x7F_FFFF_FFFF);
        Assert.Equal(1, r.RelocatedMaps);
    }

    [Fact]
    public void Global_order_starts_an_event_only_after_every_earlier_one_reached_its_trace_point()
    {
        var text = """
            a-1 [000] ..... 1.0: map: IOMMU: iova=0x1000 - 0x2000 paddr=0x1000 size=4096
            b-2 [001] ..... 2.0: map: IOMMU: iova=0x2000 - 0x3000 paddr=0x2000 size=4096
            """;
        var global = Replay(text, TraceOrdering.Global);
        Assert.Equal(TraceStepKind.Waiting, global.Next(1).Kind);
        var perCpu = Replay(text, TraceOrdering.PerCpu);
        Assert.Equal(TraceStepKind.Ready, perCpu.Next(1).Kind);
    }

    [Fact]
    public void A_waiting_vcpu_is_woken_once_when_something_changes()
    {
        var r = Replay(SgOnTwoCpus, TraceOrdering.Global);
        var woken = 0;
        r.SetWake(1, () => woken++);
        Assert.Equal(TraceStepKind.Waiting, r.Next(1).Kind);
        r.Next(0);
        r.PlaceMap(0);
        r.ReachedTracePoint(0);
        r.ReachedTracePoint(0);
        Assert.Equal(1, woken);
    }

    [Fact]
    public void A_range_outside_the_iova_width_is_refused()
    {
        var text = "a-1 [000] ..... 1.0: map: IOMMU: iova=0x1000000000000 - 0x1000000001000 paddr=0x1000 size=4096\n";
        Assert.Throws<ArgumentException>(() => Replay(text, TraceOrdering.Global));
    }

    [Fact]
    public void Maps_never_unmapped_are_long_lived()
    {
        var trace = FtraceParser.ParseFile(FtraceParserTests.Fixture());
        var r = new TraceReplay(trace, TraceOrdering.Global, 0, 48, strict: true);
        Assert.True(r.LongLivedMaps > 0);
        Assert.Equal(-1, r.UnmapOf(0));
    }

    private sealed class RangeComparer : IEqualityComparer<UnmapRange>
    {
        public bool Equals(UnmapRange? x, UnmapRange? y) => x!.Iova == y!.Iova && x.Bytes == y.Bytes && x.Maps.SequenceEqual(y.Maps);
        public int GetHashCode(UnmapRange obj) => obj.Iova.GetHashCode();
    }
}
