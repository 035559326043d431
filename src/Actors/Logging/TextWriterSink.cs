using Serilog.Core;
using Serilog.Formatting;
using SerilogEvent = Serilog.Events.LogEvent;

namespace HvIommu.Actors.Logging;

/// <summary>
/// A Serilog sink writing formatted events to a <see cref="TextWriter"/> (Serilog's core has no such
/// sink and Serilog.Sinks.File is not needed for this). Writes are serialized: events come from many
/// actor threads.
/// </summary>
internal sealed class TextWriterSink(TextWriter writer, ITextFormatter formatter) : ILogEventSink
{
    private readonly Lock _gate = new();

    public void Emit(SerilogEvent logEvent)
    {
        lock (_gate)
        {
            formatter.Format(logEvent, writer);
            writer.Flush();
        }
    }
}
