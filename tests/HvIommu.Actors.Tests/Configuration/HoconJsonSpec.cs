using System.Text.Json;
using Akka.Configuration;
using HvIommu.Actors.Configuration;

namespace HvIommu.Actors.Tests.Configuration;

/// <summary>The merged HOCON tree as JSON: objects, lists, numbers and switches typed, everything else as written.</summary>
[Trait("Category", "Model")]
public sealed class HoconJsonSpec
{
    [Fact]
    public void The_resolved_default_tree_carries_typed_values()
    {
        var json = HoconJson.ToJson(SimConfig.Load(null, ["hviommu.seed = 7"]).Merged);
        Assert.Equal(JsonValueKind.Object, json.ValueKind);
        Assert.Equal(7, json.GetProperty("seed").GetInt64());
        Assert.Equal(4, json.GetProperty("vm").GetProperty("vcpus").GetInt32());
        Assert.Equal("strict", json.GetProperty("driver").GetProperty("dma-mode").GetString());
        Assert.Equal("10ms", json.GetProperty("driver").GetProperty("flush-queue").GetProperty("timeout").GetString());
        Assert.True(json.GetProperty("run").GetProperty("stop-on-first-violation").GetBoolean());
        Assert.Equal(0.5, json.GetProperty("workload").GetProperty("write-fraction").GetDouble());
        Assert.Equal(["4K", "2M", "1G"], json.GetProperty("iommu").GetProperty("page-sizes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Array, json.GetProperty("faults").ValueKind);
        Assert.Equal(0, json.GetProperty("faults").GetArrayLength());
        var devices = json.GetProperty("devices").EnumerateArray().ToList();
        Assert.Equal(4, devices.Count);
        Assert.Equal("nic0", devices[0].GetProperty("name").GetString());
        Assert.True(devices[0].GetProperty("ats").GetBoolean());
        Assert.Equal("", json.GetProperty("expect-kind").GetString());
    }

    [Theory]
    [InlineData("12", "12")]
    [InlineData("-3", "-3")]
    [InlineData("18446744073709551615", "18446744073709551615")]
    [InlineData("0.25", "0.25")]
    [InlineData("1e3", "1000")]
    [InlineData("on", "true")]
    [InlineData("off", "false")]
    [InlineData("true", "true")]
    [InlineData("0x10", "\"0x10\"")]
    [InlineData("007", "\"007\"")]
    [InlineData("4K", "\"4K\"")]
    [InlineData("1_000", "\"1_000\"")]
    [InlineData("99999999999999999999999", "\"99999999999999999999999\"")]
    [InlineData("\"quoted text\"", "\"quoted text\"")]
    public void Scalars(string hocon, string json)
    {
        var element = HoconJson.ToJson(ConfigurationFactory.ParseString($"a.b = {hocon}"), "a.b");
        Assert.Equal(json, element.GetRawText());
    }

    [Fact]
    public void An_unknown_path_is_refused() =>
        Assert.Throws<ArgumentException>(() => HoconJson.ToJson(ConfigurationFactory.ParseString("a = 1"), "hviommu"));
}
