using System.Diagnostics;
using Akka.Actor;

namespace HvIommu.Actors.Bench;

/// <summary>Messages delivered by a ping-pong measurement, the wall time it took and the rate.</summary>
public sealed record PingPongResult(long Messages, double Seconds)
{
    public double MessagesPerSecond => Seconds > 0 ? Messages / Seconds : 0;
}

/// <summary>
/// Raw Akka.NET message throughput on a given dispatcher: pairs of actors bouncing messages with a
/// fixed number in flight per pair. It is the ceiling the stress run's delivered messages/s is
/// compared with (docs/design.md §4), measured in the same process with the same dispatcher settings.
/// </summary>
public static class PingPongBenchmark
{
    /// <summary>Runs the measurement and waits for it; see <see cref="MeasureAsync"/>.</summary>
    public static PingPongResult Measure(ActorSystem system, string dispatcherId, int pairs, int inFlightPerPair, long messagesPerPair) =>
        MeasureAsync(system, dispatcherId, pairs, inFlightPerPair, messagesPerPair).GetAwaiter().GetResult();

    /// <param name="dispatcherId">The dispatcher every actor of the measurement runs on, e.g. <c>akka.actor.default-dispatcher</c>.</param>
    /// <param name="pairs">Independent pinger/ponger pairs.</param>
    /// <param name="inFlightPerPair">Pings a pinger keeps outstanding (1 = strict ping-pong; more lets the dispatcher batch).</param>
    /// <param name="messagesPerPair">Messages delivered within each pair, pings and pongs together (even: half each way).</param>
    public static async Task<PingPongResult> MeasureAsync(ActorSystem system, string dispatcherId, int pairs, int inFlightPerPair, long messagesPerPair)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentOutOfRangeException.ThrowIfLessThan(pairs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFlightPerPair, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(messagesPerPair, 2);
        if (messagesPerPair % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(messagesPerPair), messagesPerPair, "must be even: every ping has its pong");
        if (!system.Dispatchers.HasDispatcher(dispatcherId))
            throw new ArgumentException($"no dispatcher '{dispatcherId}' is configured", nameof(dispatcherId));

        var roundTrips = messagesPerPair / 2;
        var completion = new PingPongCompletion(2 * pairs);
        var actors = new List<IActorRef>(2 * pairs);
        var pingers = new List<IActorRef>(pairs);
        for (var p = 0; p < pairs; p++)
        {
            var ponger = system.ActorOf(Props.Create(() => new Ponger(roundTrips, completion)).WithDispatcher(dispatcherId));
            var pinger = system.ActorOf(Props.Create(() => new Pinger(ponger, roundTrips, inFlightPerPair, completion)).WithDispatcher(dispatcherId));
            actors.Add(ponger);
            actors.Add(pinger);
            pingers.Add(pinger);
        }

        // Benchmark harness, not simulation code: wall-clock time is the quantity being measured.
        var clock = Stopwatch.StartNew();
        foreach (var pinger in pingers)
            pinger.Tell(StartPinging.Instance, ActorRefs.NoSender);
        // Harness, not simulation: Measure() blocks on this task, so its continuation must not need the caller's context.
        var delivered = await completion.Delivered.ConfigureAwait(false);
        clock.Stop();

        foreach (var actor in actors)
            system.Stop(actor);
        return new PingPongResult(delivered, clock.Elapsed.TotalSeconds);
    }
}
