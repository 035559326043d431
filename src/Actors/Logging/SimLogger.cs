using Akka.Actor;
using Akka.Event;
using Akka.Logger.Serilog;
using HvIommu.Model.Time;

namespace HvIommu.Actors.Logging;

/// <summary>
/// The log of a simulation actor: Akka.Logger.Serilog's adapter, every event stamped with the run's clock at the
/// moment it is logged as the Serilog property <see cref="SimTimeProperty"/> (ns; simulated time in a deterministic
/// run, time since the run started in a stress run). The logger actor writes events later, on its own thread, so
/// the time must travel with the event. The level is checked first: a disabled level costs no allocation.
/// </summary>
public sealed class SimLogger
{
    /// <summary>The Serilog property holding the run's clock (ns) when the event was logged.</summary>
    public const string SimTimeProperty = "SimTimeNs";

    private readonly ILoggingAdapter _log;
    private readonly ISimClock _clock;

    public SimLogger(IActorContext context, ISimClock clock)
    {
#pragma warning disable CS0618
        _log = context.GetLogger<SerilogLoggingAdapter>();
#pragma warning restore CS0618
        _clock = clock;
    }

    // Akka 1.5.73 offers ILoggingAdapter.WithContext, but Akka.Logger.Serilog 1.5.69's logger actor does not read those
    // context properties yet; its own (obsolete-marked) enricher path is the one that reaches Serilog (tested).
#pragma warning disable CS0618
    private ILoggingAdapter Now() => _log.ForContext(SimTimeProperty, _clock.NowNs);
#pragma warning restore CS0618

    public void Debug<T1, T2, T3>(string template, T1 a1, T2 a2, T3 a3)
    {
        if (_log.IsDebugEnabled)
            Now().Debug(template, a1, a2, a3);
    }

    public void Debug<T1, T2>(string template, T1 a1, T2 a2)
    {
        if (_log.IsDebugEnabled)
            Now().Debug(template, a1, a2);
    }

    public void Debug(string template, params object?[] args)
    {
        if (_log.IsDebugEnabled)
            Now().Debug(template, args);
    }

    public void Info(string template, params object?[] args)
    {
        if (_log.IsInfoEnabled)
            Now().Info(template, args);
    }

    public void Warning(string template, params object?[] args)
    {
        if (_log.IsWarningEnabled)
            Now().Warning(template, args);
    }

    public void Error(string template, params object?[] args)
    {
        if (_log.IsErrorEnabled)
            Now().Error(template, args);
    }

    public void Error(Exception cause, string template, params object?[] args)
    {
        if (_log.IsErrorEnabled)
            Now().Error(cause, template, args);
    }
}
