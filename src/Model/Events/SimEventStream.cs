namespace HvIommu.Model.Events;

/// <summary>
/// The run's one event stream: every emitted <see cref="SimEvent"/> goes, in subscription order and on the emitting
/// thread, to each subscriber. Subscribing happens while the world is built (it copies the subscriber array);
/// emitting allocates nothing (tests/HvIommu.Model.Tests/Events/SimEventStreamTests.cs).
/// </summary>
public sealed class SimEventStream : ISimEventSink
{
    private ISimEventSink[] _subscribers = [];

    /// <summary>The subscribers, in the order they see each event.</summary>
    public IReadOnlyList<ISimEventSink> Subscribers => _subscribers;

    /// <summary>Adds <paramref name="sink"/> after the current subscribers. Not for the hot path: call it before
    /// the run starts emitting.</summary>
    public void Subscribe(ISimEventSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        Volatile.Write(ref _subscribers, [.. _subscribers, sink]);
    }

    public void On(in SimEvent e)
    {
        foreach (var sink in Volatile.Read(ref _subscribers))
            sink.On(e);
    }
}
