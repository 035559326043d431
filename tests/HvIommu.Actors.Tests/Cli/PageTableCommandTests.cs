using System.Text.Json;
using HvIommu.Actors.Cli;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>The <c>pagetable</c> command: hand-computed entries in JSON and text, and usage errors (exit 2).</summary>
[Trait("Category", "Model")]
public sealed class PageTableCommandTests
{
    /// <summary>The command's table frames start at 4 GiB − 16 MiB.</summary>
    private const ulong Root = 0xFF00_0000;

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = CommandLine.Run(["pagetable", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("4", "0x201000=0x1000000,4K,rw", "0x201234", "4K", true, "0x1000067", new[] { 0, 0, 1, 1 })]
    [InlineData("4", "0x201000=0x1000000,4K,r", "0x201234", "4K", false, "0x1000025", new[] { 0, 0, 1, 1 })]
    [InlineData("4", "0x40200000=0x1000000,2M,rw", "0x40201234", "2M", true, "0x10000e7", new[] { 0, 1, 1 })]
    [InlineData("4", "0x80000000=0x40000000,1G,r", "0x80001234", "1G", false, "0x400000a5", new[] { 0, 2 })]
    [InlineData("5", "0x201000=0x1000000,4K,rw", "0x201234", "4K", true, "0x1000067", new[] { 0, 0, 0, 1, 1 })]
    [InlineData("5", "0x1000000200000=0x1000000,2M,r", "0x1000000200010", "2M", false, "0x10000a5", new[] { 1, 0, 0, 1 })]
    public void Json_output_carries_the_hand_computed_entries(string levels, string map, string walk, string size, bool writable, string leaf, int[] indices)
    {
        var (code, stdout, _) = Run("--levels", levels, "--map", map, "--walk", walk, "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var steps = doc.RootElement.GetProperty("levels").EnumerateArray().ToList();
        Assert.Equal(indices.Length, steps.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            Assert.Equal(int.Parse(levels) - 1 - i, steps[i].GetProperty("level").GetInt32());
            Assert.Equal(indices[i], steps[i].GetProperty("index").GetInt32());
            Assert.Equal($"0x{Root + ((ulong)i << 12):x}", steps[i].GetProperty("tableGpa").GetString());
            var expected = i == steps.Count - 1 ? Convert.ToUInt64(leaf, 16) : (Root + ((ulong)(i + 1) << 12)) | 0x27;
            Assert.Equal($"0x{expected:x16}", steps[i].GetProperty("entry").GetString());
        }
        var result = doc.RootElement.GetProperty("result");
        Assert.True(result.GetProperty("ok").GetBoolean());
        Assert.Equal(size, result.GetProperty("pageSize").GetString());
        Assert.Equal(writable, result.GetProperty("writable").GetBoolean());
    }

    [Fact]
    public void Text_output_lists_each_level_and_the_translation()
    {
        var (code, stdout, _) = Run("--map", "0x200000=0x1000000,2M,rw", "--walk", "0x201234");
        Assert.Equal(0, code);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("PML4E  table 0xff000000  index   0  entry 0x00000000ff001027  P RW U A", lines[0]);
        Assert.StartsWith("PDPTE  table 0xff001000  index   0  entry 0x00000000ff002027", lines[1]);
        Assert.StartsWith("PDE    table 0xff002000  index   1  entry 0x00000000010000e7  P RW U A D PS", lines[2]);
        Assert.Contains("GPA 0x1001234 -> HPA 0x1001001234  size 2M  rw  (19 memory references)", lines[3]);
    }

    [Fact]
    public void Unmapped_walk_reports_the_fault_and_the_level()
    {
        var (code, stdout, _) = Run("--map", "0x1000=0x5000,4K,rw", "--unmap", "0x1000,4K", "--walk", "0x1000", "--write");
        Assert.Equal(0, code);
        Assert.Contains("fault NotPresent: PTE index 1 is not present", stdout);
        var (_, json, _) = Run("--map", "0x1000=0x5000,4K,r", "--walk", "0x1000", "--write", "--json");
        Assert.Equal("WriteToReadOnly", JsonDocument.Parse(json).RootElement.GetProperty("result").GetProperty("fault").GetString());
    }

    [Theory]
    [InlineData("--levels 4 --map 0x1000=0x5000,4K,rw", "--walk IOVA is required")]
    [InlineData("--map 0x1000=0x5000,8K,rw --walk 0", "SIZE '8K' is not 4K, 2M or 1G")]
    [InlineData("--map 0x1000=0x5000,2M,rw --walk 0", "must both be 2M-aligned")]
    [InlineData("--map 0x1000=0x5000,4K,rw --map 0x1000=0x6000,4K,r --walk 0", "--map '0x1000=0x6000,4K,r' failed: IOVA 0x1000 overlaps")]
    [InlineData("--levels 3 --walk 0", "--levels '3' is not a whole number in [4, 5]")]
    [InlineData("--map 0x1000=0xZZ,4K,rw --walk 0", "--map GPA '0xZZ' is not a number")]
    [InlineData("--map 0x1000=0x5000,4K,x --walk 0", "PERMS 'x' is not r or rw")]
    [InlineData("--map 0x1000000000000=0,4K,r --walk 0", "inside the table's width")]
    [InlineData("--unmap 0x1000 --walk 0", "--unmap '0x1000' is not IOVA,SIZE")]
    [InlineData("--walk 12q", "--walk '12q' is not a number")]
    public void Bad_arguments_exit_2_naming_the_argument(string args, string message)
    {
        var (code, _, stderr) = Run(args.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
    }

    // ---- E rows of the generic_pt case list (argument contract) and the command's semantics ----

    [Theory]
    [InlineData("E1", "--map 0x1000=0x200000,2M,rw --walk 0", "must both be 2M-aligned")]
    [InlineData("E2", "--map 0x200000=0x401000,2M,rw --walk 0", "must both be 2M-aligned")]
    [InlineData("E3", "--map 0x800=0x5000,4K,rw --walk 0", "must both be 4K-aligned")]
    [InlineData("E4", "--map 0x1000=0x5000,8K,rw --walk 0", "SIZE '8K' is not 4K, 2M or 1G")]
    [InlineData("E5", "--map 0x1000=0x5000,4K,w --walk 0", "PERMS 'w' is not r or rw")]
    [InlineData("E6", "--map 0x1000=0x5000,4K, --walk 0", "PERMS '' is not r or rw")]
    [InlineData("E7", "--map 0x1000 --walk 0", "is not IOVA=GPA,SIZE,PERMS")]
    [InlineData("E8", "--map 0x1000=0x5000,4K,rw", "--walk IOVA is required")]
    [InlineData("E9", "--walk foo", "--walk 'foo' is not a number")]
    [InlineData("E10", "--map -1=0x5000,4K,rw --walk 0", "is not a number")]
    [InlineData("E11", "--walk 18446744073709551616", "is not a number")]
    [InlineData("E12", "--bogus 1 --walk 0", "Unrecognized command or argument '--bogus'")]
    [InlineData("E13", "--unmap 0x1000 --walk 0", "is not IOVA,SIZE")]
    [InlineData("E16", "--map 0x1000=0x5000,4k,RW --walk 0", "PERMS 'RW' is not r or rw")]
    public void E_bad_arguments_exit_2(string id, string args, string message)
    {
        var (code, _, stderr) = Run(args.Split(' '));
        Assert.True(code == 2, id);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void E14_E15_E17_walks_of_empty_slots_and_sub_page_offsets()
    {
        var (_, empty, _) = Run("--walk", "0x1000", "--json");
        var chain = JsonDocument.Parse(empty).RootElement.GetProperty("levels");
        Assert.Equal(1, chain.GetArrayLength());
        var (_, neighbour, _) = Run("--map", "0x1000=0x200000,4K,rw", "--walk", "0x2000", "--json");
        var last = JsonDocument.Parse(neighbour).RootElement.GetProperty("levels").EnumerateArray().Last();
        Assert.Equal((2, "0x0000000000000000"), (last.GetProperty("index").GetInt32(), last.GetProperty("entry").GetString()));
        var (_, offset, _) = Run("--map", "0x1000=0x200000,4K,rw", "--walk", "0x1abc", "--json");
        Assert.Equal("0x200abc", JsonDocument.Parse(offset).RootElement.GetProperty("result").GetProperty("gpa").GetString());
    }

    [Theory]
    [InlineData("D5", "--map 0x200000=0x400000,2M,rw --unmap 0x201000,4K --walk 0x200000", "0x0", true)]
    [InlineData("D7", "--map 0x1000=0x200000,4K,rw --map 0x3000=0x202000,4K,rw --unmap 0x1000,0x3000 --walk 0x3000", "0x1000", true)]
    [InlineData("D9", "--map 0x200000=0x400000,4K,rw --unmap 0x200000,2M --walk 0x200000", "0x1000", false)]
    [InlineData("D11", "--map 0x1000=0x200000,4K,rw --unmap 0x1000,0xFFFFFFFFFFFFFFFF --walk 0x1000", "0x0", true)]
    [InlineData("D14", "--map 0x1000=0x200000,4K,rw --map 0x200000=0x400000,2M,rw --unmap 0x1000,0x200000 --walk 0x200000", "0x1000", true)]
    [InlineData("D15", "--map 0x1000=0x200000,4K,rw --unmap 0x1000,0x800 --walk 0x1000", "0x0", true)]
    [InlineData("D1", "--map 0x200000=0x400000,2M,rw --unmap 0x200000,4K --walk 0x3ff000", "0x200000", false)]
    public void Unmap_prints_the_bytes_it_unmapped(string id, string args, string unmapped, bool walkOk)
    {
        var (code, stdout, _) = Run([.. args.Split(' '), "--json"]);
        Assert.True(code == 0, id);
        var root = JsonDocument.Parse(stdout).RootElement;
        var unmap = root.GetProperty("operations").EnumerateArray().Single(o => o.GetProperty("op").GetString() == "unmap");
        Assert.Equal(unmapped, unmap.GetProperty("unmapped").GetString());
        Assert.Equal(walkOk, root.GetProperty("result").GetProperty("ok").GetBoolean());
        var (_, text, _) = Run(args.Split(' '));
        Assert.Contains($": {unmapped} bytes unmapped", text);
    }

    [Fact]
    public void D9_keeps_the_partly_populated_table_linked()
    {
        var (_, stdout, _) = Run("--map", "0x200000=0x400000,4K,rw", "--unmap", "0x200000,2M", "--walk", "0x200000", "--json");
        var last = JsonDocument.Parse(stdout).RootElement.GetProperty("levels").EnumerateArray().Last();
        Assert.Equal(0, last.GetProperty("level").GetInt32());
    }

    [Fact]
    public void Operations_apply_in_command_line_order_so_a_map_may_follow_an_unmap()
    {
        var (code, stdout, _) = Run("--map", "0x200000=0x400000,4K,rw", "--unmap", "0x200000,4K", "--map", "0x200000=0x600000,2M,rw", "--walk", "0x200000", "--json");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(["map", "unmap", "map"], root.GetProperty("operations").EnumerateArray().Select(o => o.GetProperty("op").GetString()));
        // test_map_table_to_oa: the 2M leaf replaced the emptied table, which went to the gather and was freed.
        var map = root.GetProperty("operations")[2];
        Assert.Equal((1, "0x200000", "0x3fffff"), (map.GetProperty("freedTables").GetInt32(), map.GetProperty("gatherStart").GetString(), map.GetProperty("gatherEnd").GetString()));
        Assert.Equal("2M", root.GetProperty("result").GetProperty("pageSize").GetString());
        var (_, reversed, _) = Run("--unmap", "0x200000,4K", "--map", "0x200000=0x400000,4K,rw", "--walk", "0x200000", "--json");
        Assert.True(JsonDocument.Parse(reversed).RootElement.GetProperty("result").GetProperty("ok").GetBoolean());
    }

    [Fact]
    public void With_an_unmap_the_walk_is_optional_and_the_unmap_result_is_the_answer()
    {
        // A 4K unmap inside a 2M leaf: iommu_unmap never splits a leaf, so nothing is unmapped — the answer wanted.
        var (code, text, err) = Run("--map", "0x200000=0x1000000,2M,rw", "--unmap", "0x201000,4K");
        Assert.True(code == 0, err);
        Assert.Equal("unmap 0x201000,4K: 0x0 bytes unmapped", text.Trim());
        var (jsonCode, json, _) = Run("--map", "0x200000=0x1000000,2M,rw", "--unmap", "0x200000,2M", "--json");
        Assert.Equal(0, jsonCode);
        var root = JsonDocument.Parse(json).RootElement;
        Assert.Equal("0x200000", root.GetProperty("operations")[1].GetProperty("unmapped").GetString());
        Assert.Empty(root.GetProperty("levels").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("result").ValueKind);
        // Without an unmap there is nothing to show but the walk.
        var (noWalk, _, why) = Run("--map", "0x200000=0x1000000,2M,rw");
        Assert.Equal(2, noWalk);
        Assert.Contains("--walk IOVA is required unless --unmap is given", why);
    }

    [Fact]
    public void Json_carries_decoded_flags_and_gpas_anywhere_below_2_to_the_52()
    {
        var (code, stdout, _) = Run("--map", "0xfef80000=0xffffffffff000,4K,rw", "--walk", "0xfef80010", "--json");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(stdout).RootElement;
        var levels = root.GetProperty("levels").EnumerateArray().ToList();
        Assert.All(levels.Take(3), l => Assert.Equal("P RW U A", l.GetProperty("flags").GetString()));
        Assert.Equal("P RW U A D", levels[^1].GetProperty("flags").GetString());
        Assert.Equal("0xffffffffff010", root.GetProperty("result").GetProperty("gpa").GetString());
    }

    [Fact]
    public void Errors_under_json_are_a_json_object()
    {
        var (code, stdout, stderr) = Run("--map", "0x1000=0x5000,4K,rw", "--map", "0x1000=0x6000,4K,r", "--walk", "0", "--json");
        Assert.Equal(2, code);
        Assert.Contains("overlaps an earlier mapping", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());
        Assert.Contains("overlaps", stderr);
        var (code2, stdout2, _) = Run("--levels", "9", "--walk", "0", "--json");
        Assert.Equal(2, code2);
        Assert.Contains("--levels '9'", JsonDocument.Parse(stdout2).RootElement.GetProperty("error").GetString());
    }
}
