using HvIommu.Actors.Bench;
using HvIommu.Actors.Configuration;
using Xunit;

namespace HvIommu.Actors.Tests.Bench;

/// <summary>
/// What <c>bench</c> says it measured: the workload comes from the config it ran (with its overrides), so a change of
/// the default topology or a <c>--config</c> shows in the figures' description.
/// </summary>
[Trait("Category", "Actors")]
public sealed class BenchWorkloadTests
{
    [Fact]
    public void The_embedded_default_is_named_and_its_buffer_size_mix_written_as_configured()
    {
        var config = SimConfig.Load(null, ["hviommu.run.ops = 1234"]);
        var w = BenchWorkload.Of(config);

        Assert.Equal(SimConfig.DefaultConfigName + " (embedded)", w.Config);
        Assert.Equal("stress", w.Mode);
        Assert.Equal(1234, w.Ops);
        Assert.Equal(0, w.BufferPages);
        Assert.Equal(config.Settings.Workload.BufferSizes.Length, w.BufferSizes.Length);
        Assert.Contains("2M", w.BufferSizes);
        Assert.StartsWith("sizes drawn from [", w.Buffers);
        Assert.Contains("2M", w.Describe());
    }

    [Fact]
    public void One_page_buffers_replace_the_mix()
    {
        var w = BenchWorkload.Of(SimConfig.Load(null, ["hviommu.workload.buffer-pages = 1"]));

        Assert.Equal(1, w.BufferPages);
        Assert.Empty(w.BufferSizes);
        Assert.Equal("1 page each", w.Buffers);
    }

    [Fact]
    public void A_given_topology_is_described_by_its_own_counts_and_modes()
    {
        const string text = """
            hviommu {
              vm { vcpus = 2 }
              driver.dma-mode = lazy
              domains = [ { name = "a" }, { name = "b" }, { name = "c" } ]
              devices = [ { name = "d0", domain = "a" } ]
              workload { buffer-sizes = ["8K-64K"], dma-per-op = 3, dma-bytes = 128, outstanding-per-vcpu = 5 }
            }
            """;
        var w = BenchWorkload.Of(SimConfig.Parse(text, "given.conf"));

        Assert.Equal("given.conf", w.Config);
        Assert.Equal("lazy", w.DmaMode);
        Assert.Equal((2, 1, 3), (w.Vcpus, w.Devices, w.Domains));
        Assert.Equal(new[] { "8K-64K" }, w.BufferSizes.ToArray());
        Assert.Equal((3, 128, 5), (w.DmaPerOp, w.DmaBytes, w.OutstandingPerVcpu));
    }
}
