using Akka.Configuration;
using Akka.Dispatch;

namespace HvIommu.Actors.Deterministic;

/// <summary>
/// The executor of the deterministic dispatcher: Akka calls <see cref="Execute"/> when an actor's mailbox has
/// work, and instead of running it on a thread the executor hands it to the <see cref="SimulationDriver"/>,
/// which runs pending mailboxes one at a time on one thread in the order its strategy chooses.
/// </summary>
public sealed class DeterministicExecutor : ExecutorService
{
    private readonly SimulationDriver _driver;

    public DeterministicExecutor(string id, SimulationDriver driver) : base(id) => _driver = driver;

    public override void Execute(IRunnable run) => _driver.Enqueue(run);

    // Akka shuts an idle dispatcher's executor down and produces a new one later; the driver outlives both.
    public override void Shutdown()
    {
    }
}

/// <summary>
/// Plugs <see cref="DeterministicExecutor"/> into a dispatcher from HOCON
/// (<c>executor = "HvIommu.Actors.Deterministic.DeterministicExecutorConfigurator, HvIommu.Actors"</c>).
/// The driver is found through the system's scheduler, which must be the <see cref="VirtualTimeScheduler"/>.
/// </summary>
public sealed class DeterministicExecutorConfigurator : ExecutorServiceConfigurator
{
    private readonly SimulationDriver _driver;

    public DeterministicExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        if (prerequisites.Scheduler is not VirtualTimeScheduler scheduler)
            throw new ConfigurationException(
                $"The deterministic executor needs akka.scheduler.implementation = \"{typeof(VirtualTimeScheduler).FullName}, HvIommu.Actors\"; " +
                $"the system's scheduler is {prerequisites.Scheduler.GetType().FullName}.");
        _driver = scheduler.Driver;
    }

    public override ExecutorService Produce(string id) => new DeterministicExecutor(id, _driver);
}
