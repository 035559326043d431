using ScottPlot;
using HvIommu.Model.Text;

namespace HvIommu.Actors.Sweep;

/// <summary>
/// The heatmap of a two-key sweep (ScottPlot): the first key's values down, the second's across; each cell
/// coloured by the share of its schedules that showed a violation (green = safe, through amber, to red = every
/// schedule), labelled "safe" or with the kinds found and that share; grey = the simulator failed.
/// </summary>
public static class SweepHeatmap
{
    public static IReadOnlyList<string> Write(string dir, SweepPlan plan, IReadOnlyList<CellResult> cells, SweepWriter.Header header)
    {
        Reporting.PlotFonts.Use();
        var rows = plan.Axes[0].Values;
        var cols = plan.Axes[1].Values;
        var plot = new Plot();
        for (var i = 0; i < cells.Count; i++)
        {
            var c = cells[i];
            var row = i / cols.Count;
            var col = i % cols.Count;
            var y = rows.Count - 1 - row;
            var share = c.Schedules == 0 ? 0 : (double)c.WithViolations / c.Schedules;
            var box = plot.Add.Rectangle(col - 0.48, col + 0.48, y - 0.48, y + 0.48);
            box.FillColor = c.Failure is not null || c.NotRun ? Colors.Gray : Shade(share);
            box.LineColor = Colors.White;
            var label = c.Failure is not null ? "simulator failure"
                : c.NotRun ? "not run"
                : c.Safe ? $"safe\n{plan.Job.CountOf(c.Schedules)}"
                : string.Join("\n", c.Violations.OrderByDescending(kv => kv.Value).Select(kv => kv.Key)) + $"\n{share:P0} of {c.Schedules:N0}";
            var text = plot.Add.Text(label, col, y);
            text.LabelAlignment = Alignment.MiddleCenter;
            text.LabelFontSize = 13;
            text.LabelFontColor = Colors.Black;
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, cols.Count).Select(i => (double)i).ToArray(), cols.ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows.Count).Select(i => (double)(rows.Count - 1 - i)).ToArray(), rows.ToArray());
        plot.Axes.SetLimits(-0.5, cols.Count - 0.5, -0.5, rows.Count - 0.5);
        plot.XLabel(plan.Axes[1].Key);
        plot.YLabel(plan.Axes[0].Key);
        plot.Title($"{Path.GetFileName(header.Config)}: schedules with a violation ({header.Seeds}, {header.Strategy})");
        plot.Axes.Title.Label.FontSize = 15;
        plot.Axes.Bottom.Label.FontSize = 13;
        plot.Axes.Left.Label.FontSize = 13;
        plot.HideGrid();
        var width = Math.Max(900, 240 * cols.Count + 240);
        var height = Math.Max(420, 130 * rows.Count + 160);
        var png = Path.Combine(dir, "heatmap.png");
        var svg = Path.Combine(dir, "heatmap.svg");
        plot.SavePng(png, width, height);
        plot.SaveSvg(svg, width, height);
        return [png, svg];
    }

    /// <summary>0 → green, 0.5 → amber, 1 → red; any violation at all is already clearly not green.</summary>
    private static Color Shade(double share)
    {
        if (share <= 0)
            return Color.FromHex("#7BC47F");
        var t = 0.25 + 0.75 * Math.Clamp(share, 0, 1);
        var (r1, g1, b1) = (0xF2, 0xC1, 0x4E);
        var (r2, g2, b2) = (0xD9, 0x48, 0x3B);
        return new Color((byte)(r1 + (r2 - r1) * t), (byte)(g1 + (g2 - g1) * t), (byte)(b1 + (b2 - b1) * t));
    }
}
