using Akka.Actor.Setup;

namespace HvIommu.Actors.Logging;

/// <summary>
/// Hands a specific Serilog logger to <see cref="SerilogLogger"/> through the ActorSystem's setup, so a
/// run (or a test) can route Akka's log events to its own sinks without touching the global
/// <see cref="Serilog.Log.Logger"/>. Without this setup the bridge writes to the global logger.
/// </summary>
public sealed class SerilogLoggerSetup(Serilog.ILogger logger) : Setup
{
    public Serilog.ILogger Logger { get; } = logger;
}
