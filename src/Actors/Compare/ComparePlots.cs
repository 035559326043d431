using ScottPlot;

namespace HvIommu.Actors.Compare;

/// <summary>
/// The pictures of a comparison (ScottPlot, rendered headless through SkiaSharp): VM exits per operation and
/// collateral IOTLB invalidations by variant, the IOTLB hit rate by variant, and the cumulative distribution of
/// the simulated DMA translation latency, each as PNG and SVG.
/// </summary>
public static class ComparePlots
{
    private const int Width = 1000;
    private const int Height = 520;

    public static IReadOnlyList<string> Write(string dir, string source, IReadOnlyList<VariantResult> results)
    {
        Reporting.PlotFonts.Use();
        var files = new List<string>();
        files.AddRange(Save(ExitsAndCollateral(source, results), dir, "vm-exits-collateral"));
        files.AddRange(Save(HitRate(source, results), dir, "iotlb-hit-rate"));
        files.AddRange(Save(LatencyCdf(source, results), dir, "translation-latency-cdf"));
        return files;
    }

    private static Plot ExitsAndCollateral(string source, IReadOnlyList<VariantResult> results)
    {
        var plot = new Plot();
        var exits = new List<Bar>();
        var collateral = new List<Bar>();
        for (var i = 0; i < results.Count; i++)
        {
            exits.Add(new Bar { Position = i * 3, Value = results[i].VmExitsPerOp, FillColor = Colors.SteelBlue, Label = results[i].VmExitsPerOp.ToString("F3") });
            collateral.Add(new Bar { Position = i * 3 + 1, Value = results[i].Cost.CollateralInvalidations, FillColor = Colors.OrangeRed, Label = results[i].Cost.CollateralInvalidations.ToString("N0") });
        }
        var left = plot.Add.Bars(exits);
        left.ValueLabelStyle.FontSize = 11;
        var right = plot.Add.Bars(collateral);
        right.Axes.YAxis = plot.Axes.Right;
        right.ValueLabelStyle.FontSize = 11;
        plot.Axes.Left.Label.Text = "map/unmap-path VM exits per call (blue)";
        plot.Axes.Right.Label.Text = "collateral IOTLB invalidations (red)";
        plot.Axes.Bottom.SetTicks(results.Select((_, i) => i * 3 + 0.5).ToArray(), results.Select(r => r.Variant.Name).ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.Axes.Right.Min = 0;
        plot.Title($"{source}: VM exits per operation and collateral invalidations");
        plot.HideGrid();
        return plot;
    }

    private static Plot HitRate(string source, IReadOnlyList<VariantResult> results)
    {
        var plot = new Plot();
        var bars = results.Select((r, i) => new Bar
        {
            Position = i,
            Value = (r.Cost.IotlbHitRate ?? 0) * 100,
            // Lazy mode's flushes are domain-wide whatever driver.flush says (fq_flush_iotlb → flush_iotlb_all).
            FillColor = r.Cost.ListEntries > 0 ? Colors.SeaGreen : Colors.SlateGray,
            Label = ((r.Cost.IotlbHitRate ?? 0) * 100).ToString("F1") + " %",
        }).ToList();
        var series = plot.Add.Bars(bars);
        series.ValueLabelStyle.FontSize = 12;
        plot.Axes.Bottom.SetTicks(results.Select((_, i) => (double)i).ToArray(), results.Select(r => r.Variant.Name).ToArray());
        plot.Axes.SetLimitsY(0, 105);
        plot.Axes.Left.Label.Text = "IOTLB hit rate (%)";
        plot.Title($"{source}: IOTLB hit rate by flush design (green: flushed with page-selective lists)");
        plot.HideGrid();
        return plot;
    }

    /// <summary>x is log10 of the latency (ticks labelled in ns), so an IOTLB hit and a full nested walk both show.</summary>
    private static Plot LatencyCdf(string source, IReadOnlyList<VariantResult> results)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var maxNs = 1L;
        for (var i = 0; i < results.Count; i++)
        {
            var cdf = results[i].Cost.DmaTranslationCdf;
            if (cdf.Count == 0)
                continue;
            // A step function: the fraction stays flat until the next recorded value.
            var xs = new List<double> { Math.Log10(Math.Max(1, cdf[0].Ns)) };
            var ys = new List<double> { 0 };
            foreach (var p in cdf)
            {
                var x = Math.Log10(Math.Max(1, p.Ns));
                xs.Add(x);
                ys.Add(ys[^1]);
                xs.Add(x);
                ys.Add(p.Fraction);
                maxNs = Math.Max(maxNs, p.Ns);
            }
            var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
            line.MarkerSize = 0;
            // Variants often share a distribution (lazy-list flushes like lazy-domain): each has its own pattern, and
            // earlier lines are wider, so a line drawn over an identical one leaves it visible.
            line.LineWidth = 2 + 2.5f * (results.Count - 1 - i) / Math.Max(1, results.Count - 1);
            line.LinePattern = Patterns[i % Patterns.Length];
            line.Color = palette.GetColor(i);
            line.LegendText = results[i].Variant.Name;
        }
        var decades = (int)Math.Ceiling(Math.Log10(maxNs)) + 1;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, decades).Select(d => (double)d).ToArray(),
            Enumerable.Range(0, decades).Select(d => Math.Pow(10, d).ToString("N0")).ToArray());
        plot.Axes.SetLimits(-0.1, decades - 0.9, 0, 1.02);
        plot.Axes.Bottom.Label.Text = "simulated DMA translation latency (ns, log scale)";
        plot.Axes.Left.Label.Text = "fraction of translations at or below";
        plot.ShowLegend(Alignment.LowerRight);
        plot.Title($"{source}: CDF of simulated DMA translation latency");
        return plot;
    }

    private static readonly LinePattern[] Patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];

    private static string[] Save(Plot plot, string dir, string name)
    {
        var png = Path.Combine(dir, name + ".png");
        var svg = Path.Combine(dir, name + ".svg");
        plot.SavePng(png, Width, Height);
        plot.SaveSvg(svg, Width, Height);
        return [png, svg];
    }
}
