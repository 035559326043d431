using Akka.Event;
using Serilog;
using Serilog.Events;

namespace HvIommu.Actors.Logging;

/// <summary>
/// Akka's fallback logger (<c>akka.stdout-logger-class</c>): what Akka prints itself before its loggers have started,
/// after they have stopped, and wherever else it falls back to its standard-output logger. Akka's own
/// <c>StandardOutLogger</c> writes to standard output, where a command's JSON and summary go; this one hands each
/// event to the simulator's Serilog logger instead (<see cref="SimLogging.Configure"/>), so it goes to standard error
/// through the same filters as every other Akka event (routine start/stop messages and remoting's shutdown races only
/// with --verbose). Akka creates it with its empty constructor, once per ActorSystem.
/// </summary>
public sealed class AkkaFallbackLogger : MinimalLogger
{
    private readonly ILogger? _logger;

    /// <summary>The logger Akka creates: it writes through the global Serilog logger of the moment.</summary>
    public AkkaFallbackLogger()
    {
    }

    /// <summary>A fallback logger writing through <paramref name="logger"/> (tests).</summary>
    public AkkaFallbackLogger(ILogger logger) => _logger = logger;

    protected override void Log(object message)
    {
        if (message is not Akka.Event.LogEvent e)
            return;
        var level = e.LogLevel() switch
        {
            LogLevel.DebugLevel => LogEventLevel.Debug,
            LogLevel.InfoLevel => LogEventLevel.Information,
            LogLevel.WarningLevel => LogEventLevel.Warning,
            _ => LogEventLevel.Error,
        };
        var logger = (_logger ?? Serilog.Log.Logger).ForContext("SourceContext", e.LogSource);
        if (e.Message is LogMessage m)
            logger.Write(level, e.Cause, m.Format, m.Parameters().ToArray());
        else
            logger.Write(level, e.Cause, "{Message:l}", e.Message?.ToString() ?? "");
    }

    /// <summary>The class as <c>akka.stdout-logger-class</c> names it.</summary>
    public static readonly string TypeName = $"{typeof(AkkaFallbackLogger).FullName}, {typeof(AkkaFallbackLogger).Assembly.GetName().Name}";
}
