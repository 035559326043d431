using HvIommu.Actors.Runs;
using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Memory;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>The root of a run (docs/design.md §2): any simulation actor crashing ends the run as a simulator failure (exit 3).</summary>
[Trait("Category", "Actors")]
public sealed class RunSupervisorSpec : ActorSpec
{
    /// <summary>
    /// A 1024-page buffer cannot fit in 4 MiB of guest memory: the first dma_map throws. Validation refuses such a
    /// config before a run (exit 2); the settings are shrunk past it here to test the runner's own guard.
    /// </summary>
    private static LoadedConfig MemoryTooSmall()
    {
        var config = SimConfig.Parse("hviommu { vm { memory-mib = 4, vcpus = 1 }\n run.ops = 10 }", "small.conf");
        return config with { Settings = config.Settings with { Workload = config.Settings.Workload with { BufferPages = 1024 } } };
    }

    [Fact]
    public async Task A_child_that_throws_stops_the_run_with_a_simulator_failure()
    {
        var world = World(MemoryTooSmall().Settings);
        var done = new TaskCompletionSource<RunOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);

        Sys.ActorOf(RunSupervisor.Props(world, Dispatcher, done));

        var outcome = await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(outcome.InitSucceeded, outcome.InitDetail);
        Assert.NotNull(outcome.SimulatorFailure);
        Assert.StartsWith(nameof(GuestMemoryExhaustedException), outcome.SimulatorFailure);
        Assert.Contains("hviommu.vm.memory-mib", outcome.SimulatorFailure);
        Assert.True(world.Budget.Stopped);
    }

    [Fact]
    public void The_stress_runner_exits_3_with_a_message_naming_the_memory_key()
    {
        var config = MemoryTooSmall();

        var result = StressRunner.Run(config, "hviommu run --config small.conf", progress: null, verbose: false);

        Assert.Equal(RunVerdict.SimulatorFailed, result.Verdict);
        Assert.Contains("hviommu.vm.memory-mib", result.Failure);
        Assert.Equal(result.Failure, result.Outcome.SimulatorFailure);
    }
}
