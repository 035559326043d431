using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using HvIommu.Actors.Runs;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Logging;

namespace HvIommu.Actors.Cluster;

/// <summary>The cluster settings of <c>hviommu.cluster</c> (reference.conf), read once.</summary>
/// <param name="LeaseSeconds">Work a lease holds at a worker thread's measured rate.</param>
/// <param name="JoinTimeout">How long a node waits to become a member before giving up (exit 2).</param>
/// <param name="WorkerWait">How long a coordinator waits for its --min-workers (and for any worker once all are gone).</param>
public sealed record ClusterSettings(double LeaseSeconds, TimeSpan JoinTimeout, TimeSpan WorkerWait, Config Akka)
{
    /// <summary>From the <c>hviommu.cluster</c> section of <paramref name="config"/> (reference.conf's when null).</summary>
    public static ClusterSettings From(Config? config)
    {
        var c = (config ?? SimConfig.Reference).GetConfig("hviommu.cluster");
        return new ClusterSettings(c.GetDouble("lease-seconds"), c.GetTimeSpan("join-timeout"), c.GetTimeSpan("worker-wait"),
            ConfigurationFactory.ParseString("akka {\n" + c.GetValue("akka").ToString() + "\n}"));
    }
}

/// <summary>
/// Starts the ActorSystem of a cluster node (coordinator or worker): Akka.Remote over TCP on the given address,
/// Akka.Cluster with the settings of <c>hviommu.cluster.akka</c>, logging through the simulator's logger. Exploration
/// itself never runs on this system: each explorer thread has its own deterministic system.
/// </summary>
public static class ClusterSystem
{
    /// <param name="listen">This node's address (port 0: any free port).</param>
    /// <param name="seed">The coordinator's address every node joins.</param>
    /// <exception cref="UsageException">The address cannot be bound.</exception>
    public static ActorSystem Start(ClusterSettings settings, ClusterAddress listen, ClusterAddress? seed)
    {
        var config = Configuration(settings, listen, seed);
        try
        {
            return ActorSystem.Create(ClusterAddress.SystemName, config);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var inner = e;
            while (inner.InnerException is not null)
                inner = inner.InnerException;
            Logging.SimLogging.ReportedRemotingStartupFailure();
            throw new UsageException($"cannot listen on {listen.Host}:{listen.Port}: {inner.Message}");
        }
    }

    /// <summary>
    /// The Akka configuration of a cluster node: remoting on <paramref name="listen"/>, <paramref name="seed"/> as the
    /// only seed node, warnings and above through the simulator's Serilog logger — also those Akka prints through its
    /// fallback logger before its loggers start and after they stop (<see cref="AkkaFallbackLogger"/>). Akka's own
    /// fallback printed to standard output, past the filter that keeps remoting's shutdown races to --verbose: a
    /// transport closing its last TCP channel after the system stopped (<see cref="SimLogging.IsShutdownRace"/>).
    /// </summary>
    public static Config Configuration(ClusterSettings settings, ClusterAddress listen, ClusterAddress? seed)
    {
        var hocon = $$"""
            akka.remote.dot-netty.tcp.hostname = "{{listen.Host}}"
            akka.remote.dot-netty.tcp.port = {{listen.Port.ToString(CultureInfo.InvariantCulture)}}
            akka.loglevel = WARNING
            akka.stdout-loglevel = WARNING
            akka.cluster.seed-nodes = [{{(seed is null ? "" : "\"" + seed.AkkaAddress + "\"")}}]
            """;
        return ConfigurationFactory.ParseString(hocon)
            .WithFallback(ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(verbose: false)))
            .WithFallback(settings.Akka);
    }

    /// <summary>Waits until this node is Up in the cluster, at most <paramref name="timeout"/>.</summary>
    public static bool WaitUntilUp(ActorSystem system, TimeSpan timeout)
    {
        using var up = new ManualResetEventSlim();
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(up.Set);
        return up.Wait(timeout);
    }

    /// <summary>Leaves the cluster and stops the system, bounded.</summary>
    public static void Shutdown(ActorSystem system)
    {
        try
        {
            CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Already shutting down, or a peer vanished mid-leave: termination below still completes.
        }
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
    }
}
