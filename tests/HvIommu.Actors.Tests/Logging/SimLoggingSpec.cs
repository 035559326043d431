using Akka.Configuration;
using HvIommu.Actors.Logging;

namespace HvIommu.Actors.Tests.Logging;

[Trait("Category", "Actors")]
public sealed class SimLoggingSpec
{
    [Theory]
    [InlineData(false, "INFO")]
    [InlineData(true, "DEBUG")]
    public void Akka_hocon_routes_logging_to_the_bridge(bool verbose, string level)
    {
        var config = ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(verbose));

        Assert.Equal(["HvIommu.Actors.Logging.SerilogLogger, HvIommu.Actors"], config.GetStringList("akka.loggers"));
        Assert.Equal(level, config.GetString("akka.loglevel"));
        Assert.Equal("OFF", config.GetString("akka.stdout-loglevel"));
        Assert.False(config.GetBoolean("akka.log-dead-letters-during-shutdown"));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Configure_writes_information_always_and_debug_only_when_verbose(bool verbose, bool debugShown)
    {
        var sink = new StringWriter();
        var logger = SimLogging.Configure(verbose, sink);

        logger.Debug("Walk of {Iova} took {Refs} references", "0x1000", 24);
        logger.Information("Run {Seed} started", 7UL);

        var text = sink.ToString();
        Assert.Contains("Run 7 started", text, StringComparison.Ordinal);
        Assert.Equal(debugShown, text.Contains("Walk of 0x1000 took 24 references", StringComparison.Ordinal));
    }
}
