using HvIommu.Actors.Cli;
using HvIommu.Actors.Configuration;
using HvIommu.Actors.Simulation;
using HvIommu.Model.Memory;

namespace HvIommu.Actors.Tests.Actors;

/// <summary>The root of a run (DESIGN.md §2): any simulation actor crashing ends the run as a simulator failure (exit 3).</summary>
[Trait("Category", "Actors")]
public sealed class RunSupervisorSpec : ActorSpec
{
    /// <summary>A 1024-page buffer cannot fit in 4 MiB of guest memory: the first dma_map throws.</summary>
    private const string MemoryTooSmall = """
        hviommu {
          vm { memory-mib = 4, vcpus = 1 }
          workload.buffer-pages = 1024
          run.ops = 10
        }
        """;

    [Fact]
    public async Task A_child_that_throws_stops_the_run_with_a_simulator_failure()
    {
        var world = World(MemoryTooSmall);
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
        var config = SimConfig.Parse(MemoryTooSmall, "small.conf");

        var result = StressRunner.Run(config, "hviommu run --config small.conf", progress: null, verbose: false);

        Assert.Equal(ExitCodes.SimulatorFailure, result.ExitCode);
        Assert.Contains("hviommu.vm.memory-mib", result.Failure);
        Assert.Equal(result.Failure, result.Outcome.SimulatorFailure);
    }
}
