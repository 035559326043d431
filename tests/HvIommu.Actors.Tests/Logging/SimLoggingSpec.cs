using Akka.Configuration;
using HvIommu.Actors.Logging;

namespace HvIommu.Actors.Tests.Logging;

[Trait("Category", "Actors")]
public sealed class SimLoggingSpec
{
    [Theory]
    [InlineData(false, "INFO")]
    [InlineData(true, "DEBUG")]
    public void Akka_hocon_routes_logging_to_akka_logger_serilog(bool verbose, string level)
    {
        var config = ConfigurationFactory.ParseString(SimLogging.AkkaLoggingHocon(verbose));

        Assert.Equal(["Akka.Logger.Serilog.SerilogLogger, Akka.Logger.Serilog"], config.GetStringList("akka.loggers"));
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_remoting_shutdown_race_warning_shows_only_when_verbose_and_other_warnings_always(bool verbose)
    {
        var sink = new StringWriter();
        var logger = SimLogging.Configure(verbose, sink);

        // Akka.Remote's DotNetty transport (TcpHandlers.ChannelInactive) as a cluster node stops, and a real warning.
        logger.Warning("Unable to REMOVE channel [{0}->{1}](Id={2}) from connection group. May not shut down cleanly.", "[::ffff:127.0.0.1]:4053", "[::ffff:127.0.0.1]:51234", "a1b2");
        logger.Warning("Unable to ADD channel [{0}->{1}](Id={2}) to connection group. May not shut down cleanly.", "x", "y", "z");
        logger.Warning("Association with remote system {Address} has failed", "akka.tcp://hviommu@10.0.0.2:4053");

        var text = sink.ToString();
        Assert.Equal(verbose, text.Contains("Unable to REMOVE channel", StringComparison.Ordinal));
        Assert.Contains("Unable to ADD channel", text, StringComparison.Ordinal);
        Assert.Contains("Association with remote system", text, StringComparison.Ordinal);
    }

    [Fact]
    public void An_exception_is_one_line_unless_verbose_which_adds_its_stack_trace()
    {
        Exception thrown;
        try
        {
            throw new InvalidOperationException("guest memory exhausted\nsecond line");
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        var quiet = new StringWriter();
        SimLogging.Configure(verbose: false, quiet).Error(thrown, "Simulation actor failed");
        Assert.Equal("Simulation actor failed (InvalidOperationException: guest memory exhausted; --verbose shows the stack trace)",
            quiet.ToString().TrimEnd()[(quiet.ToString().IndexOf("] ", StringComparison.Ordinal) + 2)..]);

        var verbose = new StringWriter();
        SimLogging.Configure(verbose: true, verbose).Error(thrown, "Simulation actor failed");
        Assert.Contains("   at ", verbose.ToString(), StringComparison.Ordinal);
        Assert.Contains("second line", verbose.ToString(), StringComparison.Ordinal);
    }
}
