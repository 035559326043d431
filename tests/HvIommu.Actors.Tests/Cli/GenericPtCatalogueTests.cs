using System.Text.Json;
using HvIommu.Actors.Cli;

namespace HvIommu.Actors.Tests.Cli;

/// <summary>
/// The whole catalogue of 72 page-table cases derived from Linux's generic_pt kunit tests
/// (drivers/iommu/generic_pt/kunit_iommu_pt.h, kunit_generic_pt.h), its x86 format (fmt/x86_64.h) and the core's unmap
/// loop (drivers/iommu/iommu.c __iommu_unmap), each run end to end through <c>pagetable ... --json</c> and judged against
/// what the kernel does. Rows are named as in the catalogue: A (descriptor bits), B (layout and width), C (map over a
/// mapping), D (unmap), K (kunit range tests as single-leaf maps), E (argument contract).
/// </summary>
/// <remarks>
/// Expectation tokens, separated by <c>;</c>: <c>ok</c> (the walk translates), <c>fault=KIND</c>, <c>leaf=0x…</c> (the
/// last entry of the chain), <c>at=LEVEL:INDEX</c> (the last step of the chain), <c>idx=i,j,…</c> (every step's index,
/// top first), <c>depth=N</c> (steps in the chain), <c>gpa=0x…</c>, <c>size=4K|2M|1G</c>, <c>rw=true|false</c>,
/// <c>unmapped=0x…</c> (bytes the last unmap reported), <c>freed=N</c> (tables the last unmap freed),
/// <c>gather=0x…-0x…|none</c> (the last unmap's gather: what it cleared, iommu_pt.h unmap_pages since ee6e69d03255) and
/// <c>error=TEXT</c> (exit 2 with a JSON error containing TEXT).
/// </remarks>
[Trait("Category", "Model")]
public sealed class GenericPtCatalogueTests
{
    private const string Ptr = "P RW U A";

    /// <summary>id, arguments (without --json), expectation.</summary>
    public static readonly (string Id, string Args, string Expect)[] Cases =
    [
        // A: fmt/x86_64.h x86_64_pt_install_table / x86_64_pt_install_leaf_entry / x86_64_pt_iommu_set_prot.
        ("A1", "--map 0x1000=0x200000,4K,rw --walk 0x1000", "ok;leaf=0x0000000000200067;idx=0,0,0,1;size=4K;rw=true"),
        ("A2", "--map 0x1000=0x200000,4K,r --walk 0x1000", "ok;leaf=0x0000000000200025;rw=false"),
        ("A3", "--map 0x200000=0x400000,2M,rw --walk 0x2abcde", "ok;leaf=0x00000000004000e7;at=1:1;gpa=0x4abcde;size=2M"),
        ("A4", "--map 0x200000=0x400000,2M,r --walk 0x200000", "ok;leaf=0x00000000004000a5;at=1:1;rw=false"),
        ("A5", "--map 0x40000000=0x40000000,1G,rw --walk 0x40000123", "ok;leaf=0x00000000400000e7;at=2:1;gpa=0x40000123;size=1G"),
        ("A6", "--map 0x40000000=0x40000000,1G,r --walk 0x40000000", "ok;leaf=0x00000000400000a5;at=2:1;rw=false"),
        ("A7", "--map 0x1000=0x200000,4K,r --walk 0x1000 --write", "fault=WriteToReadOnly"),
        ("A8", "--map 0x1000=0x200000,4K,rw --walk 0x1000 --write", "ok"),
        // B: x86_64_pt_iommu_fmt_init, PT_MAX_VA_ADDRESS_LG2 57, PT_MAX_OUTPUT_ADDRESS_LG2 52, pt_check_range, no sign extension.
        ("B1", "--levels 5 --map 0x1000=0x200000,4K,rw --walk 0x1000", "ok;idx=0,0,0,0,1;at=0:1"),
        ("B2", "--map 0xFFFFFFFFF000=0x200000,4K,rw --walk 0xFFFFFFFFF000", "ok;idx=511,511,511,511"),
        ("B3", "--levels 5 --map 0x1FFFFFFFFFFF000=0x200000,4K,rw --walk 0x1FFFFFFFFFFF000", "ok;idx=511,511,511,511,511"),
        ("B4", "--map 0x1000000000000=0x200000,4K,rw --walk 0", "error=inside the table's width"),
        ("B5", "--levels 5 --map 0x200000000000000=0x200000,4K,rw --walk 0", "error=inside the table's width"),
        ("B6", "--map 0xFFFF800000000000=0x200000,4K,rw --walk 0", "error=inside the table's width"),
        ("B7", "--levels 5 --map 0xFF00000000000000=0x200000,4K,rw --walk 0", "error=inside the table's width"),
        ("B8", "--map 0x1000=0x200000,4K,rw --walk 0x1000000000000", "fault=OutsideAperture;depth=0"),
        ("B9", "--map 0x1000=0x200000,4K,rw --walk 0xFFFFFFFFFFFFF000", "fault=OutsideAperture;depth=0"),
        ("B10", "--map 0xFFFFC0000000=0x40000000,1G,rw --walk 0xFFFFFFFFFFFF", "ok;idx=511,511;gpa=0x7fffffff;size=1G"),
        ("B11", "--levels 5 --map 0x1000000000000=0x200000,4K,rw --walk 0x1000000000000", "ok;idx=1,0,0,0,0"),
        ("B12", "--levels 3 --walk 0", "error=--levels '3' is not a whole number in [4, 5]"),
        ("B13", "--levels 6 --walk 0", "error=--levels '6' is not a whole number in [4, 5]"),
        ("B14", "--map 0x1000=0x10000000000000,4K,rw --walk 0", "error=GPA below 2^52"),
        ("B15", "--map 0x1000=0xFFFFFFFFFF000,4K,rw --walk 0x1000", "ok;leaf=0x000ffffffffff067;gpa=0xffffffffff000"),
        ("B16", "--map 0xfef80000=0x208b95d000,4K,rw --walk 0xfef80000", "ok;leaf=0x000000208b95d067;gpa=0x208b95d000"),
        // C: iommu_pt.h __map_range / clear_contig with check_mapped: a map over a mapping is -EADDRINUSE.
        ("C1", "--map 0x1000=0x200000,4K,rw --map 0x1000=0x300000,4K,rw --walk 0", "error=overlaps an earlier mapping"),
        ("C2", "--map 0x200000=0x400000,2M,rw --map 0x201000=0x300000,4K,rw --walk 0", "error=overlaps an earlier mapping"),
        ("C3", "--map 0x201000=0x300000,4K,rw --map 0x200000=0x400000,2M,rw --walk 0", "error=overlaps an earlier mapping"),
        ("C4", "--map 0x40200000=0x400000,2M,rw --map 0x40000000=0x40000000,1G,rw --walk 0", "error=overlaps an earlier mapping"),
        ("C5", "--map 0x200000=0x400000,2M,rw --map 0x200000=0x600000,2M,rw --walk 0", "error=overlaps an earlier mapping"),
        ("C6", "--map 0x40000000=0x40000000,1G,rw --map 0x40000000=0x80000000,1G,rw --walk 0", "error=overlaps an earlier mapping"),
        ("C7", "--map 0x40000000=0x40000000,1G,rw --map 0x40001000=0x300000,4K,rw --walk 0", "error=overlaps an earlier mapping"),
        ("C8", "--map 0x200000=0x400000,2M,rw --map 0x400000=0x600000,2M,rw --walk 0x400000", "ok;leaf=0x00000000006000e7;at=1:2"),
        // D: iommu_pt.h __unmap_range / unmap_pages, iommu.c __iommu_unmap; kunit test_unmap_split, test_map_table_to_oa.
        ("D1", "--map 0x200000=0x400000,2M,rw --unmap 0x200000,4K --walk 0x3ff000", "fault=NotPresent;at=1:1;leaf=0x0000000000000000;unmapped=0x200000;gather=0x200000-0x3fffff"),
        ("D2", "--map 0x200000=0x400000,2M,rw --map 0x400000=0x600000,2M,rw --unmap 0x200000,4K --walk 0x400000", "ok;at=1:2;unmapped=0x200000"),
        ("D2b", "--map 0x200000=0x400000,2M,rw --map 0x400000=0x600000,2M,rw --unmap 0x200000,4K --walk 0x200000", "fault=NotPresent;at=1:1"),
        ("D3", "--map 0x40000000=0x40000000,1G,rw --unmap 0x40000000,4K --walk 0x7ffff000", "fault=NotPresent;at=2:1;unmapped=0x40000000"),
        ("D4", "--map 0x40000000=0x40000000,1G,rw --map 0x80000000=0x80000000,1G,rw --unmap 0x40000000,2M --walk 0x80000000", "ok;at=2:2;unmapped=0x40000000"),
        ("D4b", "--map 0x40000000=0x40000000,1G,rw --unmap 0x40000000,2M --walk 0x40000000", "fault=NotPresent;at=2:1;unmapped=0x40000000"),
        ("D5", "--map 0x200000=0x400000,2M,rw --unmap 0x201000,4K --walk 0x200000", "ok;size=2M;unmapped=0x0;gather=none"),
        ("D6", "--map 0x40000000=0x40000000,1G,rw --unmap 0x40200000,2M --walk 0x40000000", "ok;size=1G;unmapped=0x0"),
        ("D7", "--map 0x1000=0x200000,4K,rw --map 0x3000=0x202000,4K,rw --unmap 0x1000,0x3000 --walk 0x3000", "ok;unmapped=0x1000;gather=0x1000-0x1fff"),
        ("D7b", "--map 0x1000=0x200000,4K,rw --map 0x3000=0x202000,4K,rw --unmap 0x1000,0x3000 --walk 0x1000", "fault=NotPresent;at=0:1"),
        ("D8", "--map 0x3000=0x202000,4K,rw --unmap 0x1000,0x3000 --walk 0x3000", "ok;unmapped=0x0"),
        ("D9", "--map 0x200000=0x400000,4K,rw --unmap 0x200000,2M --walk 0x200000", "fault=NotPresent;at=0:0;unmapped=0x1000;freed=0"),
        ("D10", "--map 0x1000=0x200000,4K,rw --unmap 0x1000,0 --walk 0x1000", "ok;unmapped=0x0"),
        ("D11", "--map 0x1000=0x200000,4K,rw --unmap 0x1000,0xFFFFFFFFFFFFFFFF --walk 0x1000", "ok;unmapped=0x0"),
        ("D12", "--map 0x1000=0x200000,4K,rw --unmap 0x1000,0x1000000000000 --walk 0x1000", "fault=NotPresent;at=0:1;unmapped=0x1000"),
        ("D13", "--map 0x1000=0x200000,4K,rw --unmap 0x1000000000000,4K --walk 0x1000", "ok;unmapped=0x0"),
        ("D14", "--map 0x1000=0x200000,4K,rw --map 0x200000=0x400000,2M,rw --unmap 0x1000,0x200000 --walk 0x200000", "ok;size=2M;unmapped=0x1000"),
        ("D15", "--map 0x1000=0x200000,4K,rw --unmap 0x1000,0x800 --walk 0x1000", "ok;unmapped=0x0"),
        ("D16", Fill512 + " --unmap 0x200000,2M --walk 0x200000", "fault=NotPresent;at=1:1;leaf=0x0000000000000000;unmapped=0x200000;freed=1"),
        ("D17", Fill512 + " --unmap 0x200000,0x100000 --walk 0x300000", "ok;at=0:256;unmapped=0x100000;freed=0"),
        ("D17b", Fill512 + " --unmap 0x200000,0x100000 --walk 0x200000", "fault=NotPresent;at=0:0"),
        // K: kunit test_pgsize_boundary and test_mixed replayed as single-leaf maps (identity for test_mixed).
        ("K1", PgsizeBoundary + " --walk 0xfef9f000", "ok;leaf=0x000000208b97c067;gpa=0x208b97c000"),
        ("K2", Mixed + " --walk 0x4bfffffff", "ok;at=2:18;size=1G;gpa=0x4bfffffff"),
        // E: the command's argument contract.
        ("E1", "--map 0x1000=0x200000,2M,rw --walk 0", "error=must both be 2M-aligned"),
        ("E2", "--map 0x200000=0x401000,2M,rw --walk 0", "error=must both be 2M-aligned"),
        ("E3", "--map 0x800=0x5000,4K,rw --walk 0", "error=must both be 4K-aligned"),
        ("E4", "--map 0x1000=0x5000,8K,rw --walk 0", "error=SIZE '8K' is not 4K, 2M or 1G"),
        ("E5", "--map 0x1000=0x5000,4K,w --walk 0", "error=PERMS 'w' is not r or rw"),
        ("E6", "--map 0x1000=0x5000,4K, --walk 0", "error=PERMS '' is not r or rw"),
        ("E7", "--map 0x1000 --walk 0", "error=is not IOVA=GPA,SIZE,PERMS"),
        ("E8", "--map 0x1000=0x5000,4K,rw", "error=--walk IOVA is required"),
        ("E9", "--walk foo", "error=--walk 'foo' is not a number"),
        ("E10", "--map -1=0x5000,4K,rw --walk 0", "error=is not a number"),
        ("E11", "--walk 18446744073709551616", "error=is not a number"),
        ("E12", "--bogus 1 --walk 0", "error=--bogus"),
        ("E13", "--unmap 0x1000 --walk 0", "error=is not IOVA,SIZE"),
        ("E14", "--walk 0x1000", "fault=NotPresent;depth=1;at=3:0"),
        ("E15", "--map 0x1000=0x200000,4K,rw --walk 0x2000", "fault=NotPresent;at=0:2;leaf=0x0000000000000000"),
        ("E16", "--map 0x1000=0x5000,4k,RW --walk 0", "error=PERMS 'RW' is not r or rw"),
        ("E17", "--map 0x1000=0x200000,4K,rw --walk 0x1abc", "ok;gpa=0x200abc"),
    ];

    /// <summary>512 × 4 KiB filling 0x200000–0x3fffff (one whole level-0 table).</summary>
    private static string Fill512 => string.Join(' ', Enumerable.Range(0, 512).Select(i => $"--map 0x{0x20_0000 + i * 0x1000:x}=0x{0x40_0000 + i * 0x1000:x},4K,rw"));

    /// <summary>kunit test_pgsize_boundary: 32 pages from 0xfef80000 to 0x208b95d000.</summary>
    private static string PgsizeBoundary => string.Join(' ', Enumerable.Range(0, 32).Select(i => $"--map 0x{0xfef8_0000UL + (ulong)i * 0x1000:x}=0x{0x20_8b95_d000UL + (ulong)i * 0x1000:x},4K,rw"));

    /// <summary>kunit test_mixed over 0x3fe400000–0x4c0600000: 14 × 2M, 3 × 1G, 3 × 2M, identity.</summary>
    private static string Mixed
    {
        get
        {
            var maps = new List<string>();
            var at = 0x3_fe40_0000UL;
            foreach (var (count, size, name) in new[] { (14, 0x20_0000UL, "2M"), (3, 0x4000_0000UL, "1G"), (3, 0x20_0000UL, "2M") })
                for (var i = 0; i < count; i++, at += size)
                    maps.Add($"--map 0x{at:x}=0x{at:x},{name},rw");
            return string.Join(' ', maps);
        }
    }

    public static IEnumerable<object[]> Rows => Cases.Select(c => new object[] { c.Id });

    [Fact]
    public void The_catalogue_holds_all_72_cases_once()
    {
        Assert.Equal(72, Cases.Length);
        Assert.Equal(72, Cases.Select(c => c.Id).Distinct().Count());
        var expected = Ids("A", 8).Concat(Ids("B", 16)).Concat(Ids("C", 8)).Concat(Ids("D", 17)).Concat(["D2b", "D4b", "D7b", "D17b"])
            .Concat(Ids("K", 2)).Concat(Ids("E", 17));
        Assert.Equal(expected.Order(), Cases.Select(c => c.Id).Order());
    }

    private static IEnumerable<string> Ids(string letter, int count) => Enumerable.Range(1, count).Select(i => letter + i);

    [Theory]
    [MemberData(nameof(Rows))]
    public void Case_runs_through_pagetable_json_as_the_kernel_does(string id)
    {
        var (_, args, expect) = Cases.Single(c => c.Id == id);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = CommandLine.Run(["pagetable", .. args.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--json"], stdout, stderr);
        var root = JsonDocument.Parse(stdout.ToString()).RootElement;
        var tokens = expect.Split(';').Select(t => t.Split('=', 2)).ToList();
        if (tokens[0][0] == "error")
        {
            Assert.True(code == 2, $"{id}: exit {code}, expected 2");
            Assert.Contains(tokens[0][1], root.GetProperty("error").GetString());
            return;
        }
        Assert.True(code == 0, $"{id}: exit {code}: {stderr}");
        var result = root.GetProperty("result");
        var chain = root.GetProperty("levels").EnumerateArray().ToList();
        var unmaps = root.GetProperty("operations").EnumerateArray().Where(o => o.GetProperty("op").GetString() == "unmap").ToList();
        foreach (var token in tokens)
        {
            var (key, value) = (token[0], token.Length > 1 ? token[1] : "");
            var actual = key switch
            {
                "ok" => result.GetProperty("ok").GetBoolean() ? "" : "fault " + result.GetProperty("fault").GetString(),
                "fault" => result.GetProperty("ok").GetBoolean() ? "ok" : result.GetProperty("fault").GetString(),
                "leaf" => chain[^1].GetProperty("entry").GetString(),
                "at" => $"{chain[^1].GetProperty("level").GetInt32()}:{chain[^1].GetProperty("index").GetInt32()}",
                "idx" => string.Join(',', chain.Select(s => s.GetProperty("index").GetInt32())),
                "depth" => chain.Count.ToString(),
                "gpa" => result.GetProperty("gpa").GetString(),
                "size" => result.GetProperty("pageSize").GetString(),
                "rw" => result.GetProperty("writable").GetBoolean() ? "true" : "false",
                "unmapped" => unmaps[^1].GetProperty("unmapped").GetString(),
                "freed" => unmaps[^1].GetProperty("freedTables").GetInt32().ToString(),
                "gather" => unmaps[^1].TryGetProperty("gatherStart", out var gs) ? $"{gs.GetString()}-{unmaps[^1].GetProperty("gatherEnd").GetString()}" : "none",
                _ => throw new ArgumentException($"{id}: unknown expectation '{key}'"),
            };
            Assert.True(value == actual, $"{id}: {key} is '{actual}', the kernel gives '{value}'");
        }
        // Every table pointer above the last step is P|RW|U|A (x86_64_pt_install_table).
        Assert.All(chain.Take(chain.Count - 1), s => Assert.Equal(Ptr, s.GetProperty("flags").GetString()));
    }
}
