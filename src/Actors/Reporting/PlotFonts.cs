using System.IO.Compression;
using ScottPlot;
using SkiaSharp;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// The font of every plot the program draws (compare's, sweep's heatmap): DejaVu Sans, embedded in the program
/// (Reporting/Fonts, with its licence), so a plot renders the same text on any machine — a container with no fonts
/// installed draws no text at all otherwise, since SkiaSharp's Linux assets look fonts up on disk. Every typeface
/// ScottPlot asks for resolves to it (bold and italic too: one face keeps the embedded size small).
/// </summary>
public static class PlotFonts
{
    /// <summary>The family name plots use.</summary>
    public const string Family = "DejaVu Sans";

    private static readonly Lazy<byte[]> Ttf = new(() =>
    {
        using var gz = typeof(PlotFonts).Assembly.GetManifestResourceStream("DejaVuSans.ttf.gz")
            ?? throw new InvalidOperationException("the embedded plot font DejaVuSans.ttf.gz is missing from the program");
        using var ttf = new GZipStream(gz, CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        ttf.CopyTo(bytes);
        return bytes.ToArray();
    });

    private static readonly Lock Gate = new();
    private static bool _registered;

    /// <summary>Makes the embedded font ScottPlot's default and sans-serif font; call before building a plot.</summary>
    public static void Use()
    {
        lock (Gate)
        {
            if (_registered)
                return;
            Fonts.FontResolvers.Insert(0, new EmbeddedResolver());
            Fonts.Default = Family;
            Fonts.Sans = Family;
            _registered = true;
        }
    }

    /// <summary>A new typeface of the embedded font (ScottPlot owns and disposes what a resolver returns).</summary>
    internal static SKTypeface Typeface() => SKTypeface.FromData(SKData.CreateCopy(Ttf.Value));

    private sealed class EmbeddedResolver : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) => Typeface();

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) => Typeface();
    }
}
