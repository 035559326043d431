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
}
