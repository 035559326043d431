using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Tests.Reporting;

/// <summary>Plots carry their own font: the embedded DejaVu Sans decodes, has the glyphs plot labels use, and is
/// what ScottPlot draws with once registered (a machine without fonts would otherwise draw no text).</summary>
[Trait("Category", "Actors")]
public sealed class PlotFontsSpec
{
    [Fact]
    public void The_embedded_font_decodes_and_becomes_the_plots_default()
    {
        using var typeface = PlotFonts.Typeface();
        Assert.Equal(PlotFonts.Family, typeface.FamilyName);
        Assert.True(typeface.ContainsGlyphs("strict-domain lazy-list 0.123 % × µs ns"), "a glyph plot labels use is missing");

        PlotFonts.Use();
        Assert.Equal(PlotFonts.Family, ScottPlot.Fonts.Default);
        using var resolved = ScottPlot.Fonts.GetTypeface("A family no machine has", bold: true, italic: false);
        Assert.Equal(PlotFonts.Family, resolved.FamilyName);
    }
}
