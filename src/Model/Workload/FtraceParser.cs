using System.Collections.Immutable;
using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;

namespace HvIommu.Model.Workload;

/// <summary>
/// Reads the text of a kernel ftrace (<c>/sys/kernel/tracing/trace</c>, or <c>trace-cmd report</c>) and keeps
/// its <c>iommu:map</c> and <c>iommu:unmap</c> events. The line format is ftrace's default output
/// (kernel/trace/trace_output.c: <c>&lt;task&gt;-&lt;pid&gt; [&lt;cpu&gt;] &lt;irq flags&gt; &lt;seconds&gt;: &lt;event&gt;: …</c>,
/// the flags column optional, a <c>(tgid)</c> column allowed); the event bodies are the TP_printk formats of
/// include/trace/events/iommu.h (Linux 5.x/6.x print the range's end, older kernels do not):
/// <code>
/// map: IOMMU: iova=0x&lt;start&gt; - 0x&lt;end&gt; paddr=0x&lt;pa&gt; size=&lt;bytes&gt;
/// unmap: IOMMU: iova=0x&lt;start&gt; - 0x&lt;end&gt; size=&lt;bytes&gt; unmapped_size=&lt;bytes&gt;
/// </code>
/// Plain text or gzip (recognised by its magic bytes). '#' header lines, blank lines, "[LOST n EVENTS]"
/// notes and other events are skipped and counted. Anything else is a <see cref="TraceFormatException"/>
/// naming the line and what was expected. Events are returned in timestamp order (ties keep file order).
/// </summary>
public static partial class FtraceParser
{
    private const string EventLineShape = "an ftrace event line '<task>-<pid> [<cpu>] <flags> <seconds>: <event>: ...' or a '#' header line";
    private const string MapShape = "'map: IOMMU: iova=0x<start> - 0x<end> paddr=0x<pa> size=<bytes>'";
    private const string UnmapShape = "'unmap: IOMMU: iova=0x<start> - 0x<end> size=<bytes> unmapped_size=<bytes>'";

    /// <summary>Parses a trace file (plain or gzip).</summary>
    /// <exception cref="TraceFormatException">A line is neither skippable nor a well-formed event.</exception>
    /// <exception cref="IOException">The file cannot be read (missing, unreadable, truncated gzip).</exception>
    public static FtraceTrace ParseFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Parse(stream, path);
    }

    /// <summary>Parses a trace from a stream; <paramref name="name"/> is what errors call the file.</summary>
    public static FtraceTrace Parse(Stream stream, string name)
    {
        var buffered = new BufferedStream(stream, 1 << 16);
        var magic = new byte[2];
        var n = buffered.Read(magic, 0, 2);
        var raw = new ConcatStream(magic.AsMemory(0, n), buffered);
        Stream text = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(raw, CompressionMode.Decompress) : raw;
        using var reader = new StreamReader(text);
        return Parse(reader, name);
    }

    /// <summary>Parses trace text line by line.</summary>
    public static FtraceTrace Parse(TextReader reader, string name)
    {
        var events = ImmutableArray.CreateBuilder<IommuTraceEvent>();
        long skipped = 0, other = 0;
        var lineNumber = 0;
        string? line;
        try
        {
            line = reader.ReadLine();
        }
        catch (InvalidDataException e)
        {
            throw new TraceFormatException(name, 1, "not a readable gzip stream: " + e.Message);
        }
        while (line is not null)
        {
            lineNumber++;
            switch (Classify(line, name, lineNumber, out var ev))
            {
                case LineKind.Skipped:
                    skipped++;
                    break;
                case LineKind.OtherEvent:
                    skipped++;
                    other++;
                    break;
                default:
                    events.Add(ev);
                    break;
            }
            try
            {
                line = reader.ReadLine();
            }
            catch (InvalidDataException e)
            {
                throw new TraceFormatException(name, lineNumber + 1, "the gzip stream is damaged: " + e.Message);
            }
        }
        var sorted = events.ToImmutable();
        if (!IsSorted(sorted))
            sorted = sorted.Select((e, i) => (e, i)).OrderBy(x => x.e.TimestampNs).ThenBy(x => x.i).Select(x => x.e).ToImmutableArray();
        return new FtraceTrace(name, sorted, skipped, other);
    }

    private enum LineKind { Skipped, OtherEvent, Event }

    private static LineKind Classify(string line, string file, int number, out IommuTraceEvent ev)
    {
        ev = default;
        var trimmed = line.AsSpan().Trim();
        if (trimmed.IsEmpty || trimmed[0] == '#' || IsLostEvents(trimmed))
            return LineKind.Skipped;
        var m = EventLine().Match(line);
        if (!m.Success)
            throw new TraceFormatException(file, number, "expected " + EventLineShape);
        var eventName = m.Groups["event"].Value;
        var kind = eventName switch
        {
            "map" or "iommu:map" or "iommu_map" => IommuEventKind.Map,
            "unmap" or "iommu:unmap" or "iommu_unmap" => IommuEventKind.Unmap,
            _ => (IommuEventKind?)null,
        };
        if (kind is null)
            return LineKind.OtherEvent;
        if (!int.TryParse(m.Groups["cpu"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var cpu))
            throw new TraceFormatException(file, number, $"CPU [{m.Groups["cpu"].Value}] is not a CPU number (expected a whole number from 0 to {int.MaxValue})");
        var ts = ParseSeconds(m.Groups["ts"].Value, file, number);
        var body = m.Groups["body"].Value;
        ev = kind == IommuEventKind.Map ? ParseMap(body, cpu, ts, file, number) : ParseUnmap(body, cpu, ts, file, number);
        return LineKind.Event;
    }

    private static IommuTraceEvent ParseMap(string body, int cpu, long ts, string file, int number)
    {
        var m = MapBody().Match(body);
        if (!m.Success)
            throw new TraceFormatException(file, number, "expected " + MapShape);
        var iova = Hex(m.Groups["iova"].Value, file, number, "iova");
        var size = Decimal(m.Groups["size"].Value, file, number, "size");
        var paddr = Hex(m.Groups["pa"].Value, file, number, "paddr");
        CheckRange(m, iova, size, file, number);
        if ((paddr & 0xFFF) != 0)
            throw new TraceFormatException(file, number, $"paddr=0x{paddr:x} is not 4 KiB aligned (expected a page-aligned guest-physical address, as iommu_map requires)");
        return new IommuTraceEvent(IommuEventKind.Map, cpu, ts, iova, size, paddr, 0, number);
    }

    private static IommuTraceEvent ParseUnmap(string body, int cpu, long ts, string file, int number)
    {
        var m = UnmapBody().Match(body);
        if (!m.Success)
            throw new TraceFormatException(file, number, "expected " + UnmapShape);
        var iova = Hex(m.Groups["iova"].Value, file, number, "iova");
        var size = Decimal(m.Groups["size"].Value, file, number, "size");
        var unmapped = Decimal(m.Groups["unmapped"].Value, file, number, "unmapped_size");
        CheckRange(m, iova, size, file, number);
        return new IommuTraceEvent(IommuEventKind.Unmap, cpu, ts, iova, size, 0, unmapped, number);
    }

    /// <summary>iommu_map and iommu_unmap refuse ranges not aligned to the smallest page size (4 KiB here).</summary>
    private static void CheckRange(Match m, ulong iova, ulong size, string file, int number)
    {
        if (size == 0 || (size & 0xFFF) != 0 || (iova & 0xFFF) != 0)
            throw new TraceFormatException(file, number, $"iova=0x{iova:x} size={size} is not a non-empty 4 KiB-aligned range (expected what iommu_map/iommu_unmap accept)");
        if (iova + size < iova)
            throw new TraceFormatException(file, number, $"iova=0x{iova:x} size={size} wraps past the top of the address space");
        if (m.Groups["end"].Success)
        {
            var end = Hex(m.Groups["end"].Value, file, number, "end");
            if (end != iova + size)
                throw new TraceFormatException(file, number, $"iova range 0x{iova:x} - 0x{end:x} is not size={size} bytes long (expected end = start + size)");
        }
    }

    private static bool IsLostEvents(ReadOnlySpan<char> line) =>
        line.StartsWith("CPU:", StringComparison.Ordinal) && line.Contains("LOST", StringComparison.Ordinal);

    private static long ParseSeconds(string s, string file, int number)
    {
        var dot = s.IndexOf('.');
        var whole = long.Parse(s.AsSpan(0, dot), CultureInfo.InvariantCulture);
        var frac = s[(dot + 1)..];
        if (frac.Length > 9)
            frac = frac[..9];
        var ns = long.Parse(frac.PadRight(9, '0'), CultureInfo.InvariantCulture);
        if (whole > long.MaxValue / 1_000_000_000L - 1)
            throw new TraceFormatException(file, number, $"timestamp {s} s is out of range (expected seconds since boot)");
        return whole * 1_000_000_000L + ns;
    }

    private static ulong Hex(string s, string file, int number, string field)
    {
        if (s.Length > 16 || !ulong.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v))
            throw new TraceFormatException(file, number, $"{field}=0x{s} is not a 64-bit hexadecimal address");
        return v;
    }

    private static ulong Decimal(string s, string file, int number, string field)
    {
        if (!ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            throw new TraceFormatException(file, number, $"{field}={s} is not a byte count (expected a decimal size_t)");
        return v;
    }

    private static bool IsSorted(ImmutableArray<IommuTraceEvent> events)
    {
        for (var i = 1; i < events.Length; i++)
        {
            if (events[i].TimestampNs < events[i - 1].TimestampNs)
                return false;
        }
        return true;
    }

    [GeneratedRegex(@"^\s*(?<task>.*?)-(?<pid>[0-9]+)\s+(?:\(\s*[0-9-]+\)\s+)?\[(?<cpu>[0-9]+)\]\s+(?:(?<flags>[^\s:\[\]]{4,6})\s+)?(?<ts>[0-9]+\.[0-9]+):\s+(?<event>[\w:]+):\s?(?<body>.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex EventLine();

    [GeneratedRegex(@"^IOMMU: iova=0x(?<iova>[0-9a-fA-F]+)(?: - 0x(?<end>[0-9a-fA-F]+))? paddr=(?:0x)?0x(?<pa>[0-9a-fA-F]+) size=(?<size>[0-9]+)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex MapBody();

    [GeneratedRegex(@"^IOMMU: iova=0x(?<iova>[0-9a-fA-F]+)(?: - 0x(?<end>[0-9a-fA-F]+))? size=(?<size>[0-9]+) unmapped_size=(?<unmapped>[0-9]+)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex UnmapBody();

    /// <summary>The two sniffed bytes followed by the rest of the stream.</summary>
    private sealed class ConcatStream(ReadOnlyMemory<byte> head, Stream tail) : Stream
    {
        private ReadOnlyMemory<byte> _head = head;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_head.IsEmpty)
                return tail.Read(buffer);
            var n = Math.Min(buffer.Length, _head.Length);
            _head.Span[..n].CopyTo(buffer);
            _head = _head[n..];
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
