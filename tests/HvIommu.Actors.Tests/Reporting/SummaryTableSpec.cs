using HvIommu.Actors.Metrics;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Tests.Reporting;

[Trait("Category", "Model")]
public sealed class SummaryTableSpec
{
    private static string Render(RunReport report)
    {
        var writer = new StringWriter();
        SummaryTable.Render(report, writer);
        return writer.ToString();
    }

    [Fact]
    public void Shows_every_violation_with_its_hazard_and_reproduce_command()
    {
        var report = SampleReports.WithTwoViolations();

        var text = Render(report);

        Assert.Contains("2 violations", text, StringComparison.Ordinal);
        foreach (var v in report.Violations)
        {
            Assert.Contains(v.Kind, text, StringComparison.Ordinal);
            Assert.Contains($"[{v.Hazard}]", text, StringComparison.Ordinal);
            Assert.Contains(v.Description, text, StringComparison.Ordinal);
            Assert.Contains(v.Explanation, text, StringComparison.Ordinal);
            Assert.Contains($"reproduce: {v.Reproduce}{Environment.NewLine}", text, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("\u001b[", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Shows_the_run_parameters_counts_and_latencies()
    {
        var text = Render(SampleReports.WithTwoViolations());

        foreach (var expected in new[]
        {
            "config/scenarios/h5-free-before-flush.conf", "deterministic", "violation (DmaToFreedFrame)", "matched",
            "pages mapped / unmapped (4 KiB)", "1,000 / 990", "4,321", "hypercall FlushDeviceDomain", "495", "75.0 % (3,000 of 4,000)", "no lookups",
            "unmap", "2,000", "3,500", "8,000", "15,000", "16,001", "trace/h5.svg",
        })
            Assert.Contains(expected, text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_clean_run_says_so()
    {
        var report = SampleReports.WithTwoViolations() with { Violations = [], Expected = ExpectedOutcome.Clean, ExpectedKind = null };

        var text = Render(report);

        Assert.Contains("0 violations", text, StringComparison.Ordinal);
        Assert.Contains("clean", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Says_which_clock_the_times_are_on()
    {
        var deterministic = Render(SampleReports.WithTwoViolations());
        Assert.Contains("latency (ns of scheduler time, not wall clock)", deterministic, StringComparison.Ordinal);
        Assert.Contains("100 ns per message delivered", deterministic, StringComparison.Ordinal);
        Assert.Contains("virtual time at the schedule's end", deterministic, StringComparison.Ordinal);
        Assert.DoesNotContain("modelled cost (sum over actors)", deterministic, StringComparison.Ordinal);
        Assert.Matches(@"\d+\. \w+ \[H\d+\] at \S+'s step [\d,]+, [\d,]+ ns simulated", deterministic);

        var stress = Render(SampleReports.WithTwoViolations() with { Mode = RunMode.Stress });
        Assert.Contains("latency (ns, wall clock)", stress, StringComparison.Ordinal);
        Assert.Contains("ns into the run (wall clock)", stress, StringComparison.Ordinal);
        Assert.Contains("modelled cost (sum over actors)", stress, StringComparison.Ordinal);
        Assert.DoesNotContain("| steps", stress, StringComparison.Ordinal);
        Assert.DoesNotContain("simulated", stress, StringComparison.Ordinal);
    }

    [Fact]
    public void Latencies_that_were_not_recorded_show_no_table_of_zeros()
    {
        var report = SampleReports.WithTwoViolations();
        var zeros = report.Stats.Latencies.ToDictionary(kv => kv.Key, _ => new LatencySummary(0, 0, 0, 0, 0, 0, 0, 0));

        var text = Render(report with { Stats = report.Stats with { Latencies = zeros } });

        Assert.DoesNotContain("latency (ns", text, StringComparison.Ordinal);
    }

    /// <summary>Issue 14: "VM exits per unmap 0.01" (every exit over 4 KiB pages) sat beside "exits per unmap call 1.00".
    /// Every count row says whether it counts calls or pages, and no ratio divides by pages.</summary>
    [Fact]
    public void Every_count_says_whether_it_counts_calls_or_pages()
    {
        var sample = SampleReports.WithTwoViolations();
        var cost = new CostStats(MapCalls: 4, UnmapCalls: 3, VmExitsByPath: new Dictionary<string, long> { ["unmap"] = 3 }, VmExitsPerUnmap: 1.0, VmExitsPerMap: 0,
            FlushHypercalls: 3, ListEntries: 0, IotlbHitRate: null, AtcHitRate: null, WalkCacheHitRate: null, WalkReferencesPerDma: 0, CollateralInvalidations: 0,
            FlushNs: 0, TotalNs: 0, CostNsPerOp: 0, SimulatedNs: 0, SimulatedOpsPerSecond: 0, DmaTranslationNs: new LatencySummary(0, 0, 0, 0, 0, 0, 0, 0),
            NsByKind: new Dictionary<string, long>());
        var text = Render(sample with { Stats = sample.Stats with { PagesMapped = 2048, PagesUnmapped = 1536, Cost = cost } });

        Assert.Contains("map calls / unmap calls (dma_map, dma_unmap)", text, StringComparison.Ordinal);
        Assert.Matches(@"\| map calls / unmap calls \(dma_map, dma_unmap\) +\| +4 / 3 \|", text);
        Assert.Matches(@"\| pages mapped / unmapped \(4 KiB\) +\| +2,048 / 1,536 \|", text);
        Assert.Contains("unmap-path exits per unmap call", text, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\| (maps|unmaps|VM exits per unmap) +\|", text);
        // The JSON says the same: pages are pagesMapped/pagesUnmapped, calls cost.mapCalls/unmapCalls, no per-page ratio.
        using var json = System.Text.Json.JsonDocument.Parse(ReportWriter.ToJson(sample));
        var stats = json.RootElement.GetProperty("stats");
        Assert.Equal(1000, stats.GetProperty("pagesMapped").GetInt64());
        foreach (var gone in new[] { "maps", "unmaps", "vmExitsPerUnmap" })
            Assert.False(stats.TryGetProperty(gone, out _), gone);
    }

    /// <summary>Issue 14: map latency "1 ns" in deterministic runs. The table and the JSON say the clock is the scheduler's.</summary>
    [Fact]
    public void Deterministic_latencies_are_labelled_scheduler_time_in_text_and_json()
    {
        var sample = SampleReports.WithTwoViolations();
        var text = Render(sample);
        Assert.Contains("latency (ns of scheduler time, not wall clock)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("latency (ns, wall clock)", text, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse(ReportWriter.ToJson(sample with { Stats = sample.Stats with { LatencyClock = "scheduler" } }));
        Assert.Equal("scheduler", json.RootElement.GetProperty("stats").GetProperty("latencyClock").GetString());
    }
}
