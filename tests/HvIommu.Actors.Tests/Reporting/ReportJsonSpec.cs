using System.Text.Json;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Tests.Reporting;

[Trait("Category", "Model")]
public sealed class ReportJsonSpec
{
    [Fact]
    public void Uses_the_property_names_of_the_design()
    {
        using var doc = JsonDocument.Parse(ReportWriter.ToJson(SampleReports.WithTwoViolations()));
        var root = doc.RootElement;

        Assert.Equal("schemaVersion", root.EnumerateObject().First().Name);
        Assert.Equal(RunReport.CurrentSchemaVersion, root.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(7UL, root.GetProperty("seed").GetUInt64());
        Assert.Equal("deterministic", root.GetProperty("mode").GetString());
        Assert.Equal("config/scenarios/h5-free-before-flush.conf", root.GetProperty("config").GetProperty("file").GetString());
        Assert.Equal(2, root.GetProperty("config").GetProperty("resolved").GetProperty("vm").GetProperty("vcpus").GetInt32());
        var stats = root.GetProperty("stats");
        foreach (var name in new[] { "messagesDelivered", "dmaTransactions", "pagesMapped", "pagesUnmapped", "vmExits", "wallSeconds", "simulatedNs", "steps" })
            Assert.Equal(JsonValueKind.Number, stats.GetProperty(name).ValueKind);
        Assert.Equal(495, stats.GetProperty("hypercalls").GetProperty("FlushDeviceDomain").GetInt64());
        Assert.Equal(3000, stats.GetProperty("iotlb").GetProperty("hits").GetInt64());
        Assert.Equal(1000, stats.GetProperty("iotlb").GetProperty("misses").GetInt64());
        Assert.Equal(0.75, stats.GetProperty("iotlb").GetProperty("hitRate").GetDouble());
        Assert.Equal(0, stats.GetProperty("atc").GetProperty("hits").GetInt64());
        Assert.False(stats.GetProperty("atc").TryGetProperty("hitRate", out _));
        Assert.Equal(8000, stats.GetProperty("latencies").GetProperty("unmap").GetProperty("p99Ns").GetInt64());
        var v = root.GetProperty("violations")[0];
        Assert.Equal("DmaToFreedFrame", v.GetProperty("kind").GetString());
        Assert.Equal("H5", v.GetProperty("hazard").GetString());
        Assert.Equal(4242, v.GetProperty("step").GetInt64());
        Assert.Equal(1_500_000, v.GetProperty("simTimeNs").GetInt64());
        Assert.Equal("vcpu1", v.GetProperty("vcpu").GetString());
        Assert.Equal("nic0", v.GetProperty("device").GetString());
        Assert.Equal(3, v.GetProperty("domain").GetInt64());
        Assert.Equal("0xfffff000", v.GetProperty("iova").GetString());
        Assert.Equal("0x1a2b3000", v.GetProperty("frame").GetString());
        Assert.StartsWith("nic0 wrote", v.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("The driver", v.GetProperty("explanation").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("dotnet run", v.GetProperty("reproduce").GetString(), StringComparison.Ordinal);
        Assert.Equal("violation", root.GetProperty("expected").GetString());
        Assert.True(root.GetProperty("outcomeMatched").GetBoolean());
        Assert.Equal("5f3c9a", root.GetProperty("traceHash").GetString());
        Assert.Equal("trace/causal.txt", root.GetProperty("artifacts")[0].GetString());
    }

    [Fact]
    public void A_stress_report_carries_the_run_memory_under_stats_and_reads_back()
    {
        var report = SampleReports.WithTwoViolations();
        report = report with { Stats = report.Stats with { Memory = new MemoryStats(150_000_000, 190_000_000, 12_000_000, 4, 1_234) } };

        var json = ReportWriter.ToJson(report);
        using var doc = JsonDocument.Parse(json);
        var memory = doc.RootElement.GetProperty("stats").GetProperty("memory");

        Assert.Equal(190_000_000, memory.GetProperty("peakRssBytes").GetInt64());
        Assert.Equal(150_000_000, memory.GetProperty("rssBytes").GetInt64());
        Assert.Equal(12_000_000, memory.GetProperty("managedHeapBytes").GetInt64());
        Assert.Equal(1_234, memory.GetProperty("oracleRecords").GetInt64());
        Assert.False(JsonDocument.Parse(ReportWriter.ToJson(SampleReports.WithTwoViolations())).RootElement.GetProperty("stats").TryGetProperty("memory", out _));
    }

    [Fact]
    public void Omits_the_trace_hash_when_there_is_none()
    {
        var json = ReportWriter.ToJson(SampleReports.WithTwoViolations() with { TraceHash = null });

        using var doc = JsonDocument.Parse(json);
        Assert.False(doc.RootElement.TryGetProperty("traceHash", out _));
    }
}
