using System.Text.Json;
using HvIommu.Model.PageTables;
using HvIommu.Model.Translation;

namespace HvIommu.Actors.Cli;

/// <summary>Prints a nested walk (brief §4) of the <c>pagetable</c> command as text lines or one JSON object.</summary>
public static class PageTableReport
{
    /// <summary>x86 names of the generic_pt levels 0..4 (brief §3).</summary>
    public static string LevelName(int level) => level switch
    {
        0 => "PTE",
        1 => "PDE",
        2 => "PDPTE",
        3 => "PML4E",
        4 => "PML5E",
        _ => $"L{level}",
    };

    /// <param name="result">The walk of <paramref name="iova"/>; null when none was asked for (only the unmaps are printed).</param>
    public static void WriteText(TextWriter w, WalkResult? result, ulong iova, IReadOnlyList<PageTableStep>? steps = null)
    {
        foreach (var step in steps ?? [])
        {
            if (step.Kind == "unmap")
                w.WriteLine($"unmap {step.Text}: 0x{step.Unmapped:x} bytes unmapped{Gather(step)}{(step.FreedTables > 0 ? $", {step.FreedTables} table page(s) freed" : "")}");
        }
        if (result is null)
            return;
        foreach (var step in result.Chain)
            w.WriteLine($"{LevelName(step.Level),-5}  table 0x{step.TableGpa:x}  index {step.Index,3}  entry 0x{step.Entry:x16}  {Pte.DescribeFlags(step.Entry, step.Level)}");
        if (result.Ok)
            w.WriteLine($"IOVA 0x{iova:x} -> GPA 0x{result.Gpa:x} -> HPA 0x{result.Hpa:x}  size {result.Size.Name()}  {(result.Writable ? "rw" : "r")}  ({result.MemoryReferences} memory references)");
        else
            w.WriteLine($"IOVA 0x{iova:x} fault {result.Fault}: {Reason(result)}");
    }

    /// <param name="result">Null when no walk was asked for: <c>levels</c> is then empty and <c>result</c> null.</param>
    public static void WriteJson(TextWriter w, WalkResult? result, IReadOnlyList<PageTableStep>? steps = null)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartArray("operations");
            foreach (var step in steps ?? [])
                WriteStep(json, step);
            json.WriteEndArray();
            json.WriteStartArray("levels");
            foreach (var step in result?.Chain ?? [])
            {
                json.WriteStartObject();
                json.WriteNumber("level", step.Level);
                json.WriteNumber("index", step.Index);
                json.WriteString("tableGpa", $"0x{step.TableGpa:x}");
                json.WriteString("entry", $"0x{step.Entry:x16}");
                json.WriteString("flags", Pte.DescribeFlags(step.Entry, step.Level));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (result is null)
                json.WriteNull("result");
            else
                WriteResult(json, result);
            json.WriteEndObject();
        }
        w.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <summary><c>{"error": MESSAGE}</c>: a <c>--json</c> run that failed on its input.</summary>
    public static void WriteJsonError(TextWriter w, string message)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("error", message);
            json.WriteEndObject();
        }
        w.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteStep(Utf8JsonWriter json, PageTableStep step)
    {
        json.WriteStartObject();
        json.WriteString("op", step.Kind);
        json.WriteString("argument", step.Text);
        if (step.Kind == "unmap")
        {
            json.WriteString("unmapped", $"0x{step.Unmapped:x}");
            json.WriteNumber("unmappedBytes", step.Unmapped);
        }
        if (step.GatherStart is { } start && step.GatherEnd is { } end)
        {
            json.WriteString("gatherStart", $"0x{start:x}");
            json.WriteString("gatherEnd", $"0x{end:x}");
        }
        json.WriteNumber("freedTables", step.FreedTables);
        json.WriteEndObject();
    }

    private static string Gather(PageTableStep step)
        => step.GatherStart is { } s && step.GatherEnd is { } e ? $", gather [0x{s:x}, 0x{e:x}]" : "";

    private static void WriteResult(Utf8JsonWriter json, WalkResult result)
    {
        json.WriteStartObject("result");
        json.WriteBoolean("ok", result.Ok);
        if (result.Ok)
        {
            json.WriteString("gpa", $"0x{result.Gpa:x}");
            json.WriteString("hpa", $"0x{result.Hpa:x}");
            json.WriteString("pageSize", result.Size.Name());
            json.WriteBoolean("writable", result.Writable);
        }
        else
        {
            json.WriteString("fault", result.Fault.ToString());
        }
        json.WriteEndObject();
    }

    private static string Reason(WalkResult result)
    {
        var last = result.Chain.IsEmpty ? (WalkStep?)null : result.Chain[^1];
        return result.Fault switch
        {
            WalkFault.OutsideAperture => "the IOVA is above the table's width",
            WalkFault.NotPresent => $"{LevelName(last!.Value.Level)} index {last.Value.Index} is not present",
            WalkFault.WriteToReadOnly => "a write through an entry with R/W clear",
            WalkFault.Stage2Fault => "a GPA on the walk has no stage-2 backing",
            _ => result.Fault.ToString(),
        };
    }
}
