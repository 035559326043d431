using System.Buffers.Binary;
using System.Collections.Immutable;
using HvIommu.Model.Hypercalls;
using HvIommu.Model.Oracle;
using HvIommu.Model.Tests.Iommu;

namespace HvIommu.Model.Tests.Hypercalls;

/// <summary>
/// The per-vCPU hypercall input page (hyperv_pcpu_input_arg, brief §2.1, §2.2 — packed little-endian structs): what
/// the driver writes, what the host reads back for the control word it traps with, and H17 — a page refilled before
/// the trap is read as the interrupted call's code.
/// </summary>
[Trait("Category", "Model")]
public sealed class HypercallInputCodecTests
{
    private static readonly HvInputDeviceDomain A = HvInputDeviceDomain.Self(DeviceDomainId.S1(3));
    private static readonly HvInputDeviceDomain B = HvInputDeviceDomain.Self(DeviceDomainId.S1(4));

    public static TheoryData<IHypercallInput> Inputs() =>
    [
        new GetIommuCapabilitiesInput(),
        new GetLogicalDevicePropertyInput(HvInputDeviceDomain.PartitionIdSelf, 0x44d5_4e68),
        new CreateDeviceDomainInput(A),
        new CreateDeviceDomainInput(A, ForwardProgressRequired: false, InheritOwningVtl: true),
        new ConfigureDeviceDomainInput(A, DeviceDomainSettings.Paging(0x1234_5000, FirstStagePagingMode.FiveLevel)),
        new ConfigureDeviceDomainInput(B, DeviceDomainSettings.BlockAll),
        new ConfigureDeviceDomainInput(B, DeviceDomainSettings.Identity),
        new AttachDeviceDomainInput(A, 0x44d5_4e68),
        new DetachDeviceDomainInput(HvInputDeviceDomain.PartitionIdSelf, 0x44d5_4e68),
        new DeleteDeviceDomainInput(B),
        new FlushDeviceDomainInput(A),
        new FlushDeviceDomainListInput(B, FlushDeviceDomainListFlags.IommuFormat, [FlushVa.FromRange(0x20_0000, 0x3f_ffff), new FlushVa(0x1234, 0)]),
    ];

    [Theory]
    [MemberData(nameof(Inputs))]
    public void What_the_driver_writes_the_host_reads_back(IHypercallInput input)
    {
        var page = new byte[HypercallInputCodec.PageBytes];
        var control = HypercallInputCodec.Write(input, page);

        Assert.Equal(input.Code, control.Code);
        var read = HypercallInputCodec.Read(control, page);
        Assert.True(HypercallInputCodec.SameInput(input, read), $"{input} read back as {read}");
    }

    [Fact]
    public void Attach_lays_out_hv_input_device_domain_then_the_device_id()
    {
        var page = new byte[HypercallInputCodec.PageBytes];
        page.AsSpan().Fill(0xAA); // stale bytes of an earlier call: the fixed part is zeroed first
        HypercallInputCodec.Write(new AttachDeviceDomainInput(A, 0x44d5_4e68), page);

        Assert.Equal(ulong.MaxValue, BinaryPrimitives.ReadUInt64LittleEndian(page)); // partition_id = HV_PARTITION_ID_SELF
        Assert.Equal(0, page[8]); // owner_vtl
        Assert.All(page[9..16], b => Assert.Equal(0, b)); // padding[7]
        Assert.Equal((3UL << 32) | 1, BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(16))); // id:32 upper dword, type S1
        Assert.Equal(0x44d5_4e68UL, BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(24)));
        Assert.Equal(0xAA, page[32]); // beyond the 32-byte input: untouched
    }

    [Fact]
    public void A_list_flush_traps_with_one_rep_per_entry_after_a_32_byte_header()
    {
        var page = new byte[HypercallInputCodec.PageBytes];
        var entries = Enumerable.Range(0, HypercallInputCodec.MaxFlushListEntries).Select(i => new FlushVa((ulong)i, 0)).ToImmutableArray();
        var control = HypercallInputCodec.Write(new FlushDeviceDomainListInput(A, FlushDeviceDomainListFlags.IommuFormat, entries), page);

        Assert.Equal((508, 508), (HypercallInputCodec.MaxFlushListEntries, control.RepCount));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(24))); // HV_FLUSH_DEVICE_DOMAIN_LIST_IOMMU_FORMAT
        Assert.Equal(new FlushVa(7, 0).Encode(), BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(32 + 7 * 8)));
        Assert.Throws<ArgumentException>(() => HypercallInputCodec.Write(
            new FlushDeviceDomainListInput(A, FlushDeviceDomainListFlags.IommuFormat, entries.Add(new FlushVa(9999, 0))), page));
        Assert.Null(HypercallInputCodec.Read(control with { RepCount = 509 }, page));
    }

    [Fact]
    public void A_page_refilled_before_the_trap_is_executed_as_the_interrupted_calls_code()
    {
        var page = new byte[HypercallInputCodec.PageBytes];
        var control = HypercallInputCodec.Write(new FlushDeviceDomainInput(A), page);
        // An interrupt's unmap fills the same page with its flush of B and traps first.
        HypercallInputCodec.Write(new FlushDeviceDomainInput(B), page);
        Assert.Equal(new FlushDeviceDomainInput(B), HypercallInputCodec.Read(control, page));

        // An interrupt's call of another kind leaves its bytes, read through the interrupted call's layout.
        HypercallInputCodec.Write(new AttachDeviceDomainInput(B, 0x1234), page);
        Assert.Equal(new FlushDeviceDomainInput(B, Flags: 0x1234), HypercallInputCodec.Read(control, page));
    }

    [Fact]
    public void Holds_agrees_with_reading_the_page_for_every_pair_of_filled_and_expected_inputs()
    {
        var inputs = ((IEnumerable<object[]>)Inputs()).Select(row => (IHypercallInput)row[0]).ToList();
        foreach (var filled in inputs)
        {
            var page = new byte[HypercallInputCodec.PageBytes];
            page.AsSpan().Fill(0xAA);
            var control = HypercallInputCodec.Write(filled, page);
            // The host's read covers the layout alone: decoding within exactly that many bytes must not overrun.
            var layout = page.AsSpan(0, HypercallInputCodec.LayoutBytes(control));
            var read = HypercallInputCodec.Read(control, layout);
            foreach (var expected in inputs)
                Assert.True(HypercallInputCodec.SameInput(read, expected) == HypercallInputCodec.Holds(control, layout, expected),
                    $"page filled with {filled}, expected {expected}");
        }
    }

    [Fact]
    public void The_host_decodes_the_input_page_in_place_and_allocates_nothing_when_it_holds_the_callers_input()
    {
        var memory = new Model.Memory.GuestMemory(1UL << 20);
        const ulong gpa = 0x8000;
        var flush = new FlushDeviceDomainInput(A);
        var list = new FlushDeviceDomainListInput(B, FlushDeviceDomainListFlags.IommuFormat, [FlushVa.FromRange(0x20_0000, 0x3f_ffff), new FlushVa(0x1234, 0)]);
        var page = new byte[HypercallInputCodec.PageBytes];
        var flushControl = HypercallInputCodec.Write(flush, page);
        memory.Write(gpa, page);
        var listControl = HypercallInputCodec.Write(list, page);
        memory.Write(gpa + 0x1000, page);

        // First calls outside the measurement (type initialisation); then the allocation counter of this thread only.
        HypercallInputCodec.ReadInPlace(memory, gpa, flushControl, flush, out _);
        HypercallInputCodec.ReadInPlace(memory, gpa + 0x1000, listControl, list, out _);
        var replacedAny = false;
        var allocated = SteadyAllocation.Bytes(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                var a = HypercallInputCodec.ReadInPlace(memory, gpa, flushControl, flush, out var r1);
                var b = HypercallInputCodec.ReadInPlace(memory, gpa + 0x1000, listControl, list, out var r2);
                replacedAny |= r1 | r2 | !ReferenceEquals(a, flush) | !ReferenceEquals(b, list);
            }
        });

        Assert.False(replacedAny);
        Assert.Equal(0, allocated);

        // H17: an interrupt refilled the page with its flush of B before the trap; the host executes that one.
        HypercallInputCodec.Write(new FlushDeviceDomainInput(B), page);
        memory.Write(gpa, page);
        Assert.Equal(new FlushDeviceDomainInput(B), HypercallInputCodec.ReadInPlace(memory, gpa, flushControl, flush, out var replaced));
        Assert.True(replaced);
    }

    [Fact]
    public void A_code_with_no_pviommu_layout_is_not_read()
    {
        Assert.Null(HypercallInputCodec.Read(new HypercallControl((HypercallCode)0x0002), new byte[HypercallInputCodec.PageBytes]));
    }

    [Fact]
    public void The_freed_buffer_of_a_flush_that_never_ran_is_explained_as_H17_only_when_its_knob_is_on()
    {
        foreach (var (causes, named) in new[] { (HazardCauses.Of(Cause.HypercallInputIrqsOn), true), (HazardCauses.None, false) })
        {
            var rig = new IommuRig().WithPagingDomain();
            var oracle = new DmaOracle(rig.Mappings, rig.Frames, rig.Stage2, rig.Log, causes);
            var record = rig.MapBuffer(0xFFFF_F000);
            rig.Translate(rig.Nic, 0xFFFF_F000);
            rig.Unmap(record, queued: false);
            rig.Frames.Free(record.Gpa); // freed after a "flush" that flushed another domain

            var v = oracle.CheckAccess(rig.Translate(rig.Nic, 0xFFFF_F000), IommuRig.Context(rig.Nic));

            Assert.Equal(ViolationKind.DmaToFreedFrame, v?.Kind);
            Assert.Equal(named, v!.Explanation.Contains("H17", StringComparison.Ordinal));
            Assert.Equal(!named, v.Explanation.StartsWith(HazardCauses.Unexplained, StringComparison.Ordinal));
        }
    }
}
