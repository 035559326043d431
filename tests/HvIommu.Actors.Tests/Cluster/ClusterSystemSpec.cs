using HvIommu.Actors.Cluster;
using HvIommu.Actors.Logging;

namespace HvIommu.Actors.Tests.Cluster;

[Trait("Category", "Actors")]
public sealed class ClusterSystemSpec
{
    /// <summary>
    /// Every Akka log event of a cluster node goes through the simulator's logger, whose filter keeps remoting's shutdown
    /// races to --verbose — also what arrives before the loggers start or after they stop, which Akka's own
    /// standard-output logger printed past that filter ("Unable to REMOVE channel" when a worker stopped).
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("127.0.0.1:4053")]
    public void A_cluster_node_logs_only_through_the_simulators_logger(string? seed)
    {
        var settings = ClusterSettings.From(null);
        var config = ClusterSystem.Configuration(settings, ClusterAddress.Parse("--cluster-listen", "127.0.0.1:0", allowAnyPort: true),
            seed is null ? null : ClusterAddress.Parse("--join", seed));

        Assert.Equal([SimLogging.LoggerType], config.GetStringList("akka.loggers"));
        Assert.Equal("WARNING", config.GetString("akka.stdout-loglevel"));
        Assert.Equal(AkkaFallbackLogger.TypeName, config.GetString("akka.stdout-logger-class"));
        Assert.Equal("WARNING", config.GetString("akka.loglevel"));
        Assert.Equal(seed is null ? 0 : 1, config.GetStringList("akka.cluster.seed-nodes").Count);
    }
}
