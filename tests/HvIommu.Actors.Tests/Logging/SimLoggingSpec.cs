using Akka.Actor;
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
        Assert.Equal(typeof(AkkaFallbackLogger), Type.GetType(config.GetString("akka.stdout-logger-class")));
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

    // A cluster node that cannot bind says so in one line ("error: cannot listen on …"); Akka.Remote's own lines about
    // it, logged afterwards from its threads, follow only with --verbose. Any other error still shows.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Remotings_lines_about_a_bind_failure_the_command_reported_show_only_when_verbose(bool verbose)
    {
        var sink = new StringWriter();
        var logger = SimLogging.Configure(verbose, sink);
        SimLogging.ReportedRemotingStartupFailure();

        logger.Error("Failed to bind to {0}; shutting down DotNetty transport.", "8.8.8.8:4053");
        logger.Error("Remoting error: [{0}] [{1}]", "Startup failed", "");
        logger.Error("Remoting system has been terminated abruptly. Attempting to shut down transports");
        logger.Error("Association with remote system {Address} has failed", "akka.tcp://hviommu@10.0.0.2:4053");

        var text = sink.ToString();
        Assert.Equal(verbose, text.Contains("Failed to bind to", StringComparison.Ordinal));
        Assert.Equal(verbose, text.Contains("Startup failed", StringComparison.Ordinal));
        Assert.Equal(verbose, text.Contains("terminated abruptly", StringComparison.Ordinal));
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

    /// <summary>
    /// What Akka prints through its fallback logger (before its loggers start, after they stop) goes to the simulator's
    /// logger with its arguments filled in, through the same filters: never to standard output, where --json goes, and the
    /// routine shutdown line and remoting's shutdown race only with --verbose.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Akkas_fallback_logger_writes_through_the_simulators_logger_and_its_filters(bool verbose)
    {
        var sink = new StringWriter();
        IActorRef fallback = new AkkaFallbackLogger(SimLogging.Configure(verbose, sink));

        fallback.Tell(new Akka.Event.Info("CoordinatedShutdown (akka://bench-races)", typeof(Akka.Actor.CoordinatedShutdown),
            Message("CoordinatedShutdown invoked due to [Reason:{Reason}]. Exiting with [ExitCode:{ExitCode}].", "ActorSystemTerminateReason", 0)));
        fallback.Tell(new Akka.Event.Warning("akka.tcp://hviommu-cluster", typeof(object),
            Message("Unable to REMOVE channel [{0}->{1}](Id={2}) from connection group. May not shut down cleanly.", "a", "b", "c")));
        fallback.Tell(new Akka.Event.Warning("akka.tcp://hviommu-cluster", typeof(object), Message("Association with {0} has failed", "akka.tcp://w@10.0.0.2:4053")));
        fallback.Tell(new Akka.Event.Debug("EventStream", typeof(object), "All default loggers stopped"));

        var text = sink.ToString();
        Assert.Contains("WRN] Association with akka.tcp://w@10.0.0.2:4053 has failed", text, StringComparison.Ordinal);
        Assert.Equal(verbose, text.Contains("CoordinatedShutdown invoked", StringComparison.Ordinal));
        Assert.Equal(verbose, text.Contains("Unable to REMOVE channel", StringComparison.Ordinal));
        Assert.Equal(verbose, text.Contains("All default loggers stopped", StringComparison.Ordinal));
    }

    private static Akka.Event.LogMessage Message(string format, params object[] args) => new TemplateMessage(format, args);

    /// <summary>A log message as Akka's bus logging makes one: a template and its arguments.</summary>
    private sealed class TemplateMessage(string format, object[] args) : Akka.Event.LogMessage(Akka.Event.SemanticLogMessageFormatter.Instance, format)
    {
        public override string Unformatted() => Format;

        public override IEnumerable<object> Parameters() => args;
    }
}
