using System.Collections.Concurrent;
using Serilog.Core;
using SerilogEvent = Serilog.Events.LogEvent;

namespace HvIommu.Actors.Tests.Logging;

/// <summary>A Serilog sink that keeps every event, for assertions.</summary>
internal sealed class CollectingSink : ILogEventSink
{
    private readonly ConcurrentQueue<SerilogEvent> _events = new();

    public IReadOnlyList<SerilogEvent> Events => _events.ToArray();

    public void Emit(SerilogEvent logEvent) => _events.Enqueue(logEvent);
}
