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

    /// <summary>
    /// Issue 14: the live line wrapped at 80 and 120 columns. Rendered on an interactive ANSI console of each width
    /// with a long title and the memory figures, no line of the output is wider than the terminal, and the
    /// operations count is still there; a narrow terminal keeps the spinner and a description.
    /// </summary>
    [Theory]
    [InlineData(40)]
    [InlineData(80)]
    [InlineData(120)]
    [InlineData(200)]
    public void The_live_line_fits_the_terminal_width(int width)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = width;
        var memory = new HvIommu.Actors.Metrics.MemorySample(RssBytes: 182_400_000, PeakRssBytes: 190_000_000, ManagedHeapBytes: 41_200_000, Gen2Collections: 3);
        var progress = new LiveProgress(console);
        progress.Start("random-correct-13-ats-detach-attach-lazy — seed 18446744073709551615, stress");
        progress.Update(Halfway with { Memory = memory, Operations = 123_456_789, TargetOperations = 1_000_000_000 });
        progress.Stop();

        var text = System.Text.RegularExpressions.Regex.Replace(output.ToString(), @"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "");
        var lines = text.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.True(l.TrimEnd().Length < width, $"{l.TrimEnd().Length} ≥ {width}: '{l}'"));
        Assert.Contains(lines, l => l.Contains("123,456,789", StringComparison.Ordinal) || l.Contains('…'));
        // One row per task: the description and the percentage column on the same line, not wrapped below it.
        if (width >= LiveProgress.NarrowWidth)
            Assert.Contains(lines, l => l.Contains("violation", StringComparison.Ordinal) && l.Contains('%'));
        if (width >= 120)
            Assert.Contains(lines, l => l.Contains("123,456,789/1,000,000,000 ops", StringComparison.Ordinal));
    }

    [Fact]
    public void The_description_drops_detail_before_it_is_cut()
    {
        var s = Halfway with { Memory = new HvIommu.Actors.Metrics.MemorySample(182_400_000, 190_000_000, 41_200_000, 3) };
        Assert.Equal("t: 50,000/100,000 ops, 12,346 DMA/s, 1 violation, rss 182 MB (peak 190 MB), heap 41 MB", LiveProgress.Fit("t", s, 200));
        Assert.Equal("t: 50,000/100,000 ops, 12,346 DMA/s, 1 violation", LiveProgress.Fit("t", s, 60));
        Assert.Equal("t: 50,000/100,000 ops, 1 violation", LiveProgress.Fit("t", s, 40));
        Assert.Equal("50,000/100,000 ops, 1 violation", LiveProgress.Fit("a long title", s, 32));
        Assert.Equal("50,000/100,00…", LiveProgress.Fit("a long title", s, 14));
    }

    [Fact]
    public void The_factory_gives_plain_progress_when_told_there_is_no_terminal() =>
        Assert.IsType<PlainProgress>(RunProgressFactory.Create(TextWriter.Null, interactive: false));
}
