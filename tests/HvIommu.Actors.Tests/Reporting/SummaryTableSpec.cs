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
            "1,000", "990", "4,321", "hypercall FlushDeviceDomain", "495", "1.50", "75.0 % (3,000 of 4,000)", "no lookups",
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
        Assert.Contains("latency (ns, simulated time)", deterministic, StringComparison.Ordinal);
        Assert.Contains("simulated time", deterministic, StringComparison.Ordinal);
        Assert.Matches(@"\d+\. \w+ \[H\d+\] at \S+'s step [\d,]+, [\d,]+ ns simulated", deterministic);

        var stress = Render(SampleReports.WithTwoViolations() with { Mode = RunMode.Stress });
        Assert.Contains("latency (ns, wall clock)", stress, StringComparison.Ordinal);
        Assert.Contains("ns into the run (wall clock)", stress, StringComparison.Ordinal);
        Assert.Contains("modelled cost", stress, StringComparison.Ordinal);
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
}
