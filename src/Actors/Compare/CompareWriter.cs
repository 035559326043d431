using System.Globalization;
using System.Text;
using System.Text.Json;
using HvIommu.Actors.Reporting;

namespace HvIommu.Actors.Compare;

/// <summary>
/// DIR/compare.json (DESIGN.md §3: <c>{"variants":[{"name","dmaMode","flush","vmExits","vmExitsPerUnmap",
/// "flushHypercalls","listEntries","iotlbHitRate","collateralInvalidations","simulatedNsPerOp","violations"}]}</c>,
/// more fields after those) and DIR/compare.csv (the printed table's columns), written atomically.
/// <c>vmExits</c> is every VM exit of the variant's run (each hypercall is one), init and teardown included;
/// <c>vmExitsByPath</c> splits it by the guest path that made each exit and sums to it; <c>vmExitsPerUnmap</c> is
/// the unmap path's exits per dma_unmap call, <c>vmExitsPerOp</c> the map and unmap paths' exits per call.
/// </summary>
public static class CompareWriter
{
    /// <param name="partial">Interrupted: only the variants that finished are in the files.</param>
    public static IReadOnlyList<string> Write(string dir, string source, ulong seed, string mode, IReadOnlyList<VariantResult> results, bool partial = false)
    {
        var json = Path.Combine(dir, "compare.json");
        var csv = Path.Combine(dir, "compare.csv");
        WriteText(json, Json(source, seed, mode, results, partial));
        WriteText(csv, Csv(results));
        return [json, csv];
    }

    private static void WriteText(string path, string text) =>
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));

    private static string Json(string source, ulong seed, string mode, IReadOnlyList<VariantResult> results, bool partial)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("source", source);
            w.WriteNumber("seed", seed);
            w.WriteString("mode", mode);
            if (partial)
                w.WriteBoolean("partial", true);
            w.WriteStartArray("variants");
            foreach (var r in results)
                Variant(w, r);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Variant(Utf8JsonWriter w, VariantResult r)
    {
        var k = r.Cost;
        w.WriteStartObject();
        w.WriteString("name", r.Variant.Name);
        w.WriteString("dmaMode", r.Variant.DmaMode);
        w.WriteString("flush", r.Variant.Flush);
        w.WriteNumber("vmExits", r.Stats.VmExits);
        w.WriteStartObject("vmExitsByPath");
        foreach (var (path, n) in k.VmExitsByPath)
            w.WriteNumber(path, n);
        w.WriteEndObject();
        w.WriteNumber("vmExitsPerUnmap", k.VmExitsPerUnmap);
        w.WriteNumber("flushHypercalls", k.FlushHypercalls);
        w.WriteNumber("listEntries", k.ListEntries);
        Nullable(w, "iotlbHitRate", k.IotlbHitRate);
        w.WriteNumber("collateralInvalidations", k.CollateralInvalidations);
        w.WriteNumber("simulatedNsPerOp", k.CostNsPerOp);
        w.WriteNumber("violations", r.Violations);
        w.WriteBoolean("ats", !r.Variant.AtsOff);
        w.WriteNumber("mapCalls", k.MapCalls);
        w.WriteNumber("unmapCalls", k.UnmapCalls);
        w.WriteNumber("vmExitsPerMap", k.VmExitsPerMap);
        w.WriteNumber("vmExitsPerOp", r.VmExitsPerOp);
        Nullable(w, "atcHitRate", k.AtcHitRate);
        Nullable(w, "walkCacheHitRate", k.WalkCacheHitRate);
        w.WriteNumber("walkReferencesPerDma", k.WalkReferencesPerDma);
        w.WriteNumber("flushNs", k.FlushNs);
        w.WriteNumber("simulatedNs", k.SimulatedNs);
        w.WriteNumber("simulatedOpsPerSecond", k.SimulatedOpsPerSecond);
        w.WriteNumber("dmaTransactions", r.Stats.DmaTransactions);
        w.WriteStartObject("dmaTranslationNs");
        w.WriteNumber("p50", k.DmaTranslationNs.P50Ns);
        w.WriteNumber("p90", k.DmaTranslationNs.P90Ns);
        w.WriteNumber("p99", k.DmaTranslationNs.P99Ns);
        w.WriteNumber("max", k.DmaTranslationNs.MaxNs);
        w.WriteNumber("mean", k.DmaTranslationNs.MeanNs);
        w.WriteEndObject();
        w.WriteStartArray("dmaTranslationCdf");
        foreach (var p in k.DmaTranslationCdf)
        {
            w.WriteStartArray();
            w.WriteNumberValue(p.Ns);
            w.WriteNumberValue(p.Fraction);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteNumber("wallSeconds", r.Stats.WallSeconds);
        if (r.Failure is not null)
            w.WriteString("failure", r.Failure);
        w.WriteEndObject();
    }

    private static void Nullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
            w.WriteNumber(name, v);
        else
            w.WriteNull(name);
    }

    private static string Csv(IReadOnlyList<VariantResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("variant,dmaMode,flush,ats,mapCalls,unmapCalls,vmExits,unmapPathVmExits,vmExitsPerUnmap,vmExitsPerMap,flushHypercalls,listEntries,iotlbHitRate,atcHitRate,walkCacheHitRate,walkReferencesPerDma,collateralInvalidations,flushNs,dmaTranslationP50Ns,dmaTranslationP99Ns,simulatedNsPerOp,simulatedOpsPerSecond,violations");
        foreach (var r in results)
        {
            var k = r.Cost;
            string F(double? v) => v is { } x ? x.ToString("R", CultureInfo.InvariantCulture) : "";
            sb.AppendLine(string.Join(',',
                r.Variant.Name, r.Variant.DmaMode, r.Variant.Flush, r.Variant.AtsOff ? "off" : "on",
                k.MapCalls, k.UnmapCalls, r.Stats.VmExits, k.VmExitsByPath["unmap"], F(k.VmExitsPerUnmap), F(k.VmExitsPerMap), k.FlushHypercalls, k.ListEntries,
                F(k.IotlbHitRate), F(k.AtcHitRate), F(k.WalkCacheHitRate), F(k.WalkReferencesPerDma), k.CollateralInvalidations, k.FlushNs,
                k.DmaTranslationNs.P50Ns, k.DmaTranslationNs.P99Ns, F(k.CostNsPerOp), F(k.SimulatedOpsPerSecond), r.Violations));
        }
        return sb.ToString();
    }
}
