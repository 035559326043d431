using HvIommu.Actors.Runs;
using HvIommu.Model.Oracle;

namespace HvIommu.Actors.Tests.Architecture;

/// <summary>
/// Neither assembly has a namespace cycle (docs/design.md "Layers"): read from the compiled metadata, so every
/// reference counts, in signatures and in method bodies alike. A failure names each cycle and the type reference
/// behind every edge of it.
/// </summary>
[Trait("Category", "Actors")]
public sealed class NamespaceCycleTests
{
    private static NamespaceGraph Model() => NamespaceGraph.Read(typeof(DmaOracle).Assembly.Location, "HvIommu.Model");

    private static NamespaceGraph Actors() => NamespaceGraph.Read(typeof(RunOutcome).Assembly.Location, "HvIommu.Actors");

    [Fact]
    public void The_model_has_no_namespace_cycle()
    {
        var cycles = Model().Cycles();
        Assert.True(cycles.Count == 0, "namespace cycles in src/Model:\n" + string.Join("\n", cycles));
    }

    [Fact]
    public void The_actors_have_no_namespace_cycle()
    {
        var cycles = Actors().Cycles();
        Assert.True(cycles.Count == 0, "namespace cycles in src/Actors:\n" + string.Join("\n", cycles));
    }

    [Fact]
    public void The_graph_sees_references_in_signatures_and_method_bodies()
    {
        var model = Model();
        // DmaOracle observes the event stream and names DmaTranslation; the translator emits to the stream and
        // knows nothing of the oracle.
        Assert.True(model.DependsOn("HvIommu.Model.Oracle", "HvIommu.Model.Events"));
        Assert.True(model.DependsOn("HvIommu.Model.Iommu", "HvIommu.Model.Events"));
        Assert.True(model.DependsOn("HvIommu.Model.Oracle", "HvIommu.Model.Translation"));
        Assert.False(model.DependsOn("HvIommu.Model.Iommu", "HvIommu.Model.Oracle"));
        Assert.False(model.DependsOn("HvIommu.Model.Events", "HvIommu.Model.Oracle"));
        Assert.False(model.DependsOn("HvIommu.Model.Events", "HvIommu.Model.Iommu"));

        var actors = Actors();
        // RunSupervisor creates the actors in a method body (VcpuActor.Props(...) in a lambda of a LINQ Select).
        Assert.True(actors.DependsOn("HvIommu.Actors.Runs", "HvIommu.Actors.Vcpu"));
        // A request and its answer live with the actor that serves it: the vCPU traps into the hypervisor's
        // protocol, the flush handler asks the device's; the answer to a hypercall is below both host actors.
        Assert.True(actors.DependsOn("HvIommu.Actors.Vcpu", "HvIommu.Actors.Hypervisor"));
        Assert.True(actors.DependsOn("HvIommu.Actors.Vcpu", "HvIommu.Actors.VmExit"));
        Assert.True(actors.DependsOn("HvIommu.Actors.Hypervisor", "HvIommu.Actors.FlushHandler"));
        Assert.True(actors.DependsOn("HvIommu.Actors.FlushHandler", "HvIommu.Actors.VmExit"));
        Assert.True(actors.DependsOn("HvIommu.Actors.FlushHandler", "HvIommu.Actors.PciDevice"));
        Assert.False(actors.DependsOn("HvIommu.Actors.FlushHandler", "HvIommu.Actors.Hypervisor"));
        Assert.False(actors.DependsOn("HvIommu.Actors.PciDevice", "HvIommu.Actors.FlushHandler"));
        // Messages name themselves for the trace (ITracedMessage): the trace knows no actor's protocol.
        Assert.True(actors.DependsOn("HvIommu.Actors.Hypervisor", "HvIommu.Actors.Tracing"));
        Assert.True(actors.DependsOn("HvIommu.Actors.VmExit", "HvIommu.Actors.Tracing"));
        foreach (var actor in new[] { "Vcpu", "Hypervisor", "FlushHandler", "PciDevice", "VmExit" })
        {
            Assert.False(actors.DependsOn("HvIommu.Actors.Tracing", "HvIommu.Actors." + actor));
        }
    }

    [Fact]
    public void The_graph_sees_a_typeof_among_attribute_arguments()
    {
        const string root = "HvIommu.Actors.Tests.Architecture.AttributeFixture";
        var fixture = NamespaceGraph.Read(typeof(NamespaceCycleTests).Assembly.Location, root);
        // The attribute's own constructor, and every typeof: on the type, a parameter, the return value, in an array
        // given after a named argument of a one-byte enum (itself named by its type's name, in its own namespace).
        foreach (var target in new[] { "Names", "OnType", "OnParameter", "OnReturn", "InArray", "Sizes" })
        {
            Assert.True(fixture.DependsOn(root + ".User", root + "." + target), "User → " + target);
        }
    }

    [Theory]
    [InlineData("src/Actors", "HvIommu.Actors")]
    [InlineData("src/Model", "HvIommu.Model")]
    public void Every_source_file_declares_its_folders_namespace(string folder, string rootNamespace)
    {
        // The graph is over namespaces; a folder that shares another's namespace (as every protocol file once
        // declared one Protocol namespace) would hide a cycle between folders from it.
        var root = Path.Combine(HvIommu.Actors.Tests.Simulation.RunEndToEndTests.RepoRoot(), folder);
        var wrong = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file);
            var top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "obj" or "bin")
            {
                continue;
            }
            var directory = Path.GetDirectoryName(relative)!;
            var expected = directory.Length == 0 ? rootNamespace : rootNamespace + "." + directory.Replace(Path.DirectorySeparatorChar, '.');
            var declared = File.ReadLines(file)
                .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^namespace\s+([\w.]+)\s*;"))
                .FirstOrDefault(m => m.Success)?.Groups[1].Value;
            if (declared is not null && declared != expected)
            {
                wrong.Add($"{folder}/{relative}: namespace {declared}, folder says {expected}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void A_cycle_is_named_with_the_reference_behind_each_edge()
    {
        var graph = new NamespaceGraph();
        graph.Add("A", "B", "A1 → B1");
        graph.Add("B", "C", "B1 → C1");
        graph.Add("C", "A", "C1 → A1");
        graph.Add("C", "D", "C1 → D1");
        graph.Add("D", "E", "D1 → E1");
        graph.Add("E", "D", "E1 → D1");

        var cycles = graph.Cycles();

        Assert.Equal(2, cycles.Count);
        Assert.Contains("{A, B, C}: A → B (A1 → B1); B → C (B1 → C1); C → A (C1 → A1)", cycles);
        Assert.Contains("{D, E}: D → E (D1 → E1); E → D (E1 → D1)", cycles);
        Assert.Empty(new NamespaceGraph().Cycles());
    }
}
