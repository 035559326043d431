using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>
/// The deterministic host is a top-level actor, which Akka creates asynchronously: the /user guardian, on its own
/// thread, starts the real cell (its Create reaches the driver as foreign work) and only afterwards swaps it into
/// the host's reference. A message told to the reference before that swap waits in Akka's temporary cell and
/// reaches the mailbox later, from the guardian's thread. These tests hold the guardian's thread in that window.
/// </summary>
[Trait("Category", "Actors")]
public sealed class HostStartupTests
{
    [Fact]
    public void The_first_run_of_a_new_system_is_created_while_the_guardian_is_still_between_start_and_swap()
    {
        using var gate = new ManualResetEventSlim(false);
        GatedExecutor.Arm(gate);
        try
        {
            using var system = DeterministicSystem.Create("det-gated", GatedExecutor.Overlay);
            system.Reset(1, new UniformRandomStrategy(1));
            // Had the system returned before the host's reference was swapped, this Tell would wait in Akka's
            // temporary cell for the (held) guardian thread, and the run's root would never be created.
            var root = system.StartRun(Props.Create(() => new Sink()));
            Assert.NotNull(root);
            Assert.True(system.StopRun().Quiescent);
        }
        finally
        {
            gate.Set();
            GatedExecutor.Disarm();
        }
    }
}

/// <summary>
/// The deterministic executor, except that the first mailbox registration arriving from a thread other than the
/// driver's (the guardian starting the host) holds that thread until the test opens the gate — or, so that a
/// system that waits for the guardian can finish, until <see cref="HoldLimit"/> passes. The hold only widens a
/// window that exists anyway; the test's verdict does not depend on how long it lasts.
/// </summary>
internal sealed class GatedExecutor : ExecutorService
{
    public static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(2);

    public static Config Overlay { get; } = ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        {{DeterministicSystem.DispatcherId}}.executor = "{{typeof(GatedExecutorConfigurator).FullName}}, HvIommu.Actors.Tests"
        """);

    private static ManualResetEventSlim? s_gate;
    private readonly DeterministicExecutor _inner;
    private readonly SimulationDriver _driver;

    public GatedExecutor(string id, SimulationDriver driver) : base(id)
    {
        _inner = new DeterministicExecutor(id, driver);
        _driver = driver;
    }

    public static void Arm(ManualResetEventSlim gate) => Volatile.Write(ref s_gate, gate);

    public static void Disarm() => Volatile.Write(ref s_gate, null);

    public override void Execute(IRunnable run)
    {
        _inner.Execute(run);
        if (!_driver.OnDrivingThread && Interlocked.Exchange(ref s_gate, null) is { } gate)
            gate.Wait(HoldLimit);
    }

    public override void Shutdown()
    {
    }
}

internal sealed class GatedExecutorConfigurator : ExecutorServiceConfigurator
{
    private readonly SimulationDriver _driver;

    public GatedExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites) : base(config, prerequisites) =>
        _driver = ((VirtualTimeScheduler)prerequisites.Scheduler).Driver;

    public override ExecutorService Produce(string id) => new GatedExecutor(id, _driver);
}
