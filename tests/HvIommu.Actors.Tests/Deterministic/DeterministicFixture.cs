using Akka.Actor;
using Akka.Configuration;
using HvIommu.Actors.Deterministic;

namespace HvIommu.Actors.Tests.Deterministic;

/// <summary>Helpers shared by the deterministic-mode tests: a quiet system and the two workloads.</summary>
internal static class Deterministic
{
    public static DeterministicSystem CreateSystem() =>
        DeterministicSystem.Create("det-test", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));

    public sealed record RelayOutcome(ulong Hash, IReadOnlyList<string> Deliveries, DriveResult Result, ScheduleFile Schedule);

    public static RelayOutcome RunRelays(DeterministicSystem system, ulong seed, IScheduleStrategy? strategy = null,
        int relays = 4, int hops = 6)
    {
        var deliveries = new List<string>();
        system.Reset(seed, strategy ?? new UniformRandomStrategy(seed));
        system.Driver.DeliveryObserver = (path, message) => deliveries.Add($"{path} {message}");
        var finished = new Counter();
        system.StartRun(Props.Create(() => new RelayRoot(relays, hops, finished)));
        var result = system.DriveUntil(() => finished.Value == relays, 100_000);
        var outcome = new RelayOutcome(system.Driver.Trace.Value, deliveries, result, system.Driver.Record());
        system.StopRun();
        system.Driver.DeliveryObserver = null;
        return outcome;
    }

    public static (bool Violation, DriveResult Result, ulong Hash, ScheduleFile Schedule) RunRace(
        DeterministicSystem system, ulong seed, IScheduleStrategy strategy)
    {
        system.Reset(seed, strategy);
        var state = new RaceState();
        system.StartRun(Props.Create(() => new RaceRoot(state, RaceVcpuSteps, RaceDeviceSteps)));
        var result = system.DriveUntil(() => state.Finished, 10_000);
        var outcome = (state.Violation, result, system.Driver.Trace.Value, system.Driver.Record());
        system.StopRun();
        return outcome;
    }

    public const int RaceVcpuSteps = 6;
    public const int RaceDeviceSteps = 3;
}
