using System.Collections.Immutable;
using HvIommu.Model.Device;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Iommu;
using HvIommu.Model.Mappings;
using HvIommu.Model.PageTables;
using HvIommu.Model.Randomness;
using HvIommu.Model.Settings;
using HvIommu.Model.Translation;

namespace HvIommu.Model.Tests.Device;

/// <summary>
/// The DMA engine hands a finished transaction out again for a later one: what the port sees of a reused transaction
/// is the new one's alone (its page, its mapping, no id, translation or domain before its own translate), so a fault
/// or an access is judged against the mapping the new descriptor was built for. And a descriptor names its buffer's
/// mappings by leaf: a page's mapping is the leaf that holds it.
/// </summary>
[Trait("Category", "Model")]
public sealed class DmaTransactionReuseTests
{
    private static MappingRecord Leaf(long serial, ulong iova, PageSize size) =>
        new(serial, 1, iova, 0x4000_0000 + iova, size, writable: true, frameGeneration: 0, vcpu: 0, mapTimeNs: 0);

    [Fact]
    public void A_page_s_mapping_is_the_leaf_that_holds_it()
    {
        // 4K at 0x20_0000, a 2M leaf, then 4K: 514 pages named by 3 leaves.
        var a = Leaf(1, 0x1F_F000, PageSize.Size4K);
        var b = Leaf(2, 0x20_0000, PageSize.Size2M);
        var c = Leaf(3, 0x40_0000, PageSize.Size4K);
        var d = new DmaDescriptor(1, 0x1F_F000, 514, 8, 64, 0.5, [a, b, c]);
        Assert.Same(a, d.MappingAt(0));
        Assert.Same(b, d.MappingAt(1));
        Assert.Same(b, d.MappingAt(512));
        Assert.Same(c, d.MappingAt(513));

        // One mapping per page (4 KiB leaves, or a list written page by page) is read by index.
        var perPage = new DmaDescriptor(2, 0x20_0000, 2, 2, 64, 0.5, [b, b]);
        Assert.Same(b, perPage.MappingAt(1));
    }

    [Fact]
    public void A_reused_transaction_carries_only_the_new_descriptor_s_page_and_mapping()
    {
        var port = new RecordingPort();
        var slot = new DeviceSlot("nic", 1, true, null);
        var random = new SeededRandom(7);
        var e = new DmaEngine<string>(new DeviceSpec("nic", "dom", false, 4, DeviceBehaviour.WellBehaved, 0), slot, random,
            new EnvironmentChoices(random, new NoChoice()), replayEngine: false, surpriseRemoveAfter: null, port);

        var first = Leaf(1, 0x20_0000, PageSize.Size4K);
        e.Program(new DmaDescriptor(1, 0x20_0000, 1, 2, 64, 1.0, [first]), "drv");
        foreach (var id in port.Due.ToList())
            e.TransferDue(id);
        var used = port.Translated.Select(t => t.Tx).ToHashSet();

        // The second descriptor's page faults: the fault is judged against its own mapping.
        var second = Leaf(2, 0x30_0000, PageSize.Size4K);
        port.Fault = true;
        port.Translated.Clear();
        e.Program(new DmaDescriptor(2, 0x30_0000, 1, 2, 64, 0.0, [second]), "drv");

        Assert.Equal(2, port.Translated.Count);
        Assert.All(port.Translated, t => Assert.Contains(t.Tx, used)); // reused, not new
        foreach (var t in port.Translated)
        {
            Assert.Same(second, t.Mapping);
            Assert.Equal(0x30_0000UL, t.Iova & ~0xFFFUL);
            Assert.Equal((0L, default(DmaTranslation), (DomainView?)null, AccessKind.Read, false, 64), (t.Id, t.Translation, t.View, t.Access, t.Replay, t.Bytes));
        }
        Assert.Equal(["completed 1 faults 0 -> drv", "completed 2 faults 2 -> drv"], port.Completions);
    }

    private sealed class NoChoice : IChoiceMaker
    {
        public int Choose(int options) => 0;
    }

    private sealed class RecordingPort : IDmaPort<string>
    {
        public readonly List<(DmaTransaction Tx, long Id, ulong Iova, MappingFact? Mapping, DmaTranslation Translation, DomainView? View, AccessKind Access, bool Replay, int Bytes)> Translated = new();
        public readonly List<long> Due = new();
        public readonly List<string> Completions = new();
        public bool Fault;

        public bool Translate(DmaTransaction tx)
        {
            Translated.Add((tx, tx.Id, tx.Iova, tx.Mapping, tx.Translation, tx.View, tx.Access, tx.Replay, tx.Bytes));
            if (Fault)
                return false;
            tx.Translation = new DmaTranslation(true, WalkFault.None, TranslationSource.Iotlb, 1, tx.Iova, tx.Iova, tx.Iova, PageSize.Size4K, true, 0, null);
            return true;
        }

        public void Issued(DmaTransaction tx) { }
        public void TransferDue(long transactionId) => Due.Add(transactionId);
        public void Transfer(DmaTransaction tx) { }
        public void Prefetch(ulong iova) { }
        public void AtcInvalidated(long flushId, ImmutableArray<FlushVa>? blocks) { }
        public void ReplayLater(long ticket, ReplayKind kind) { }
        public void Completed(string replyTo, long descriptorId, int faults) => Completions.Add($"completed {descriptorId} faults {faults} -> {replyTo}");
        public void Answered(string replyTo, long flushId, bool drain) { }
        public void Unanswered(string replyTo, long flushId, bool drain) { }
        public void Quiesced(string replyTo) { }
        public void Removed(int aborted) { }
    }
}
