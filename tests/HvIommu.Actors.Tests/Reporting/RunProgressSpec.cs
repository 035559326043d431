using HvIommu.Actors.Reporting;
using Spectre.Console;

namespace HvIommu.Actors.Tests.Reporting;

[Trait("Category", "Model")]
public sealed class RunProgressSpec
{
    private static readonly ProgressSnapshot Halfway = new(Operations: 50_000, TargetOperations: 100_000, DmaPerSecond: 12_345.6, Violations: 1, ElapsedSeconds: 2.25);

    [Fact]
    public void Plain_progress_prints_one_line_per_update()
    {
        var writer = new StringWriter();
        var progress = new PlainProgress(writer);

        progress.Start("stress seed=7");
        progress.Update(Halfway);
        progress.Update(Halfway with { TargetOperations = null, Violations = 0 });
        progress.Stop();

        Assert.Equal(
        [
            "stress seed=7: started",
            "stress seed=7: 50,000/100,000 ops (50.0 %), 12,346 DMA/s, 1 violation, 2.2 s",
            "stress seed=7: 50,000 ops, 12,346 DMA/s, 0 violations, 2.2 s",
            "stress seed=7: stopped",
        ], writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Progress_shows_the_process_memory_when_the_runner_measured_it()
    {
        var memory = new HvIommu.Actors.Metrics.MemorySample(RssBytes: 182_400_000, PeakRssBytes: 190_000_000, ManagedHeapBytes: 41_200_000, Gen2Collections: 3);

        Assert.Equal("50,000/100,000 ops (50.0 %), 12,346 DMA/s, 1 violation, 2.2 s, rss 182 MB (peak 190 MB), heap 41 MB",
            PlainProgress.Describe(Halfway with { Memory = memory }));
        var now = HvIommu.Actors.Metrics.MemorySample.Now();
        Assert.True(now.RssBytes > 0 && now.PeakRssBytes >= now.RssBytes, now.ToString());
    }

    [Fact]
    public void Live_progress_starts_updates_and_stops_and_can_start_again()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(TextWriter.Null),
        });
        var progress = new LiveProgress(console);
        Assert.Throws<InvalidOperationException>(() => progress.Update(Halfway));

        progress.Start("stress [seed=7]");
        progress.Update(Halfway);
        progress.Stop();
        progress.Start("second run");
        progress.Update(Halfway with { TargetOperations = null });
        progress.Stop();
    }

    [Fact]
    public void The_factory_gives_plain_progress_when_told_there_is_no_terminal() =>
        Assert.IsType<PlainProgress>(RunProgressFactory.Create(TextWriter.Null, interactive: false));
}
