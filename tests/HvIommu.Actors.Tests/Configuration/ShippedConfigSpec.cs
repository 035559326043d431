using HvIommu.Actors.Configuration;
using HvIommu.Model.Settings;

namespace HvIommu.Actors.Tests.Configuration;

/// <summary>The configurations the repository ships load without a problem and say what their headers claim.</summary>
[Trait("Category", "Model")]
public sealed class ShippedConfigSpec
{
    public static TheoryData<string> Topologies()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(RepoFiles.Path("config", "topologies"), "*.conf").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void The_embedded_default_is_the_small_interesting_vm()
    {
        var loaded = SimConfig.Load(null);
        Assert.Equal("default.conf (embedded)", loaded.File);
        var s = loaded.Settings;
        Assert.Equal(4, s.Vm.Vcpus);
        Assert.Equal(DmaMode.Strict, s.Driver.DmaMode);
        Assert.Equal(Expectation.Clean, s.Expect);
        Assert.Equal(["net", "storage"], s.Domains.Select(d => d.Name));
        Assert.Equal(["nic0:net", "nic1:net", "nvme0:storage", "nvme1:storage"], s.Devices.Select(d => $"{d.Name}:{d.Domain}"));
        Assert.Equal(["nic0"], s.Devices.Where(d => d.Ats).Select(d => d.Name));
    }

    [Fact]
    public void The_embedded_default_is_the_file_in_the_repository()
    {
        Assert.Equal(File.ReadAllText(RepoFiles.Path("config", "default.conf")), SimConfig.DefaultText);
        var fromFile = SimConfig.Load(RepoFiles.Path("config", "default.conf")).Settings;
        Assert.Equal(SimConfig.Load(null).Settings.Devices.ToArray(), fromFile.Devices.ToArray());
    }

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Every_topology_loads_and_has_a_header_citing_the_brief(string name)
    {
        var path = RepoFiles.Path("config", "topologies", name);
        var loaded = SimConfig.Load(path);
        Assert.NotEmpty(loaded.Settings.Devices);
        var header = File.ReadLines(path).TakeWhile(l => l.StartsWith('#')).ToList();
        Assert.True(header.Count >= 2, $"{name} needs a header comment");
        Assert.Contains(header, l => l.Contains('§'));
    }

    [Fact]
    public void The_shapes_are_the_ones_their_names_promise()
    {
        Settings("one-device.conf", s => Assert.Single(s.Devices));
        Settings("shared-domain.conf", s =>
        {
            Assert.Single(s.Domains);
            Assert.True(s.Devices.Length > 2);
        });
        Settings("ats.conf", s => Assert.True(s.Devices.Length > 1 && s.Devices.All(d => d.Ats)));
        Settings("lazy.conf", s => Assert.Equal(DmaMode.Lazy, s.Driver.DmaMode));
        Settings("large.conf", s =>
        {
            Assert.Equal(64, s.Vm.Vcpus);
            Assert.Equal(256, s.Devices.Length);
            Assert.Equal(16, s.Domains.Length);
            Assert.All(s.Devices.GroupBy(d => d.Domain), g => Assert.Equal(16, g.Count()));
            Assert.Equal(20000, s.Run.Ops);
        });
    }

    [Fact]
    public void Large_has_memory_for_every_outstanding_operation_with_room_to_spare()
    {
        var s = SimConfig.Load(RepoFiles.Path("config", "topologies", "large.conf")).Settings;
        // Each outstanding operation holds its buffer pages plus at most a page-table page per level; each
        // domain has its root. A quarter of guest memory must cover that.
        long pagesPerOp = s.Workload.BufferPages + HvIommu.Model.Driver.TableDepth.For(s).Levels;
        long worstPages = s.Vm.Vcpus * s.Workload.OutstandingPerVcpu * pagesPerOp + s.Domains.Length;
        Assert.True(worstPages * 4096 * 4 < s.Vm.MemoryMib * (1L << 20));
    }

    private static void Settings(string name, Action<SimSettings> check) =>
        check(SimConfig.Load(RepoFiles.Path("config", "topologies", name)).Settings);
}
