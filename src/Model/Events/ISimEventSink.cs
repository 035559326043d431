namespace HvIommu.Model.Events;

/// <summary>
/// Whoever observes the run's events (the oracle, the causal trace, the counters). Called synchronously on the
/// thread where the event happens, possibly from every core at once in stress mode: an implementation is
/// thread-safe, observes only (changes nothing the simulation reads back), and allocates nothing on its hot path.
/// </summary>
public interface ISimEventSink
{
    /// <summary>One event happened; <paramref name="e"/> is valid only during the call.</summary>
    void On(in SimEvent e);
}
