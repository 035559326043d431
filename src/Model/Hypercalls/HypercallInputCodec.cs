using System.Buffers.Binary;
using System.Collections.Immutable;

namespace HvIommu.Model.Hypercalls;

/// <summary>
/// The bytes of a hypercall's input page (brief §2.1, §2.2: every struct is <c>__packed</c>, little-endian). A guest
/// hypercall passes only the control word (RCX: call code, rep count) and the GPA of its per-CPU input page (RDX,
/// <c>hyperv_pcpu_input_arg</c>); the host reads the input from that page when it handles the call. So what the host
/// executes is whatever the page holds at the trap, decoded as the control word's call code says (H17).
/// </summary>
public static class HypercallInputCodec
{
    /// <summary>HV_HYP_PAGE_SIZE: one input page.</summary>
    public const int PageBytes = 4096;

    /// <summary>The bytes before FLUSH_DEVICE_DOMAIN_LIST's iova_list[]: domain (24), flags (4), reserved (4).</summary>
    public const int FlushListHeaderBytes = HvInputDeviceDomain.SizeBytes + 8;

    /// <summary>Entries of iova_list[] that fit one input page after the header (508).</summary>
    public const int MaxFlushListEntries = (PageBytes - FlushListHeaderBytes) / 8;

    /// <summary>
    /// Writes <paramref name="input"/> into <paramref name="page"/> as the driver fills the per-CPU page: the fixed
    /// part (memset to zero first, as the wrappers do), and for the rep call its iova_list[] entries. Returns the
    /// control word to trap with (the rep count of a list flush = its entries).
    /// </summary>
    /// <exception cref="ArgumentException">The page is smaller than <see cref="PageBytes"/>, or a list flush has more
    /// entries than fit (<see cref="MaxFlushListEntries"/>) or more than a rep count can hold.</exception>
    public static HypercallControl Write(IHypercallInput input, Span<byte> page)
    {
        if (page.Length < PageBytes)
            throw new ArgumentException($"an input page is {PageBytes} bytes, got {page.Length}", nameof(page));
        var reps = input is FlushDeviceDomainListInput l ? l.IovaList.Length : 0;
        if (reps > Math.Min(MaxFlushListEntries, HypercallControl.MaxReps))
            throw new ArgumentException($"{reps} flush entries do not fit one input page (at most {MaxFlushListEntries})", nameof(input));
        page[..FixedBytes(input.Code)].Clear();
        switch (input)
        {
            case GetIommuCapabilitiesInput i:
                U64(page, 0, i.PartitionId);
                break;
            case GetLogicalDevicePropertyInput i:
                U64(page, 0, i.PartitionId);
                U64(page, 8, i.LogicalDeviceId);
                U32(page, 16, (uint)i.PropertyCode);
                break;
            case CreateDeviceDomainInput i:
                Domain(page, i.Domain);
                U32(page, 24, (i.ForwardProgressRequired ? 1u : 0) | (i.InheritOwningVtl ? 2u : 0));
                break;
            case ConfigureDeviceDomainInput i:
                Domain(page, i.Domain);
                U64(page, 24, (i.Settings.TranslationEnabled ? 1UL : 0) | (i.Settings.Blocked ? 2UL : 0) | ((ulong)i.Settings.FirstStagePagingMode << 2));
                U64(page, 32, i.Settings.PageTableRoot);
                break;
            case AttachDeviceDomainInput i:
                Domain(page, i.Domain);
                U64(page, 24, i.DeviceId);
                break;
            case DetachDeviceDomainInput i:
                U64(page, 0, i.PartitionId);
                U64(page, 8, i.DeviceId);
                break;
            case DeleteDeviceDomainInput i:
                Domain(page, i.Domain);
                break;
            case FlushDeviceDomainInput i:
                Domain(page, i.Domain);
                U32(page, 24, i.Flags);
                break;
            case FlushDeviceDomainListInput i:
                Domain(page, i.Domain);
                U32(page, 24, (uint)i.Flags);
                for (var k = 0; k < i.IovaList.Length; k++)
                    U64(page, FlushListHeaderBytes + 8 * k, i.IovaList[k].Encode());
                break;
            default:
                throw new ArgumentException($"no input layout for {input.Code}", nameof(input));
        }
        return new HypercallControl(input.Code, RepCount: reps);
    }

    /// <summary>
    /// The host's reading of the page for <paramref name="control"/>: the input of the control word's call code, with
    /// the rep call's entries counted by its rep count. Null for a code with no pvIOMMU input layout (the host answers
    /// HV_STATUS_INVALID_HYPERCALL_CODE) or a rep count that overruns the page.
    /// </summary>
    public static IHypercallInput? Read(HypercallControl control, ReadOnlySpan<byte> page)
    {
        switch (control.Code)
        {
            case HypercallCode.GetIommuCapabilities:
                return new GetIommuCapabilitiesInput(U64(page, 0));
            case HypercallCode.GetLogicalDeviceProperty:
                return new GetLogicalDevicePropertyInput(U64(page, 0), U64(page, 8), (LogicalDeviceProperty)U32(page, 16));
            case HypercallCode.CreateDeviceDomain:
                var flags = U32(page, 24);
                return new CreateDeviceDomainInput(Domain(page), (flags & 1) != 0, (flags & 2) != 0);
            case HypercallCode.ConfigureDeviceDomain:
                var settings = U64(page, 24);
                return new ConfigureDeviceDomainInput(Domain(page),
                    new DeviceDomainSettings((settings & 1) != 0, (settings & 2) != 0, (FirstStagePagingMode)((settings >> 2) & 1), U64(page, 32)));
            case HypercallCode.AttachDeviceDomain:
                return new AttachDeviceDomainInput(Domain(page), U64(page, 24));
            case HypercallCode.DetachDeviceDomain:
                return new DetachDeviceDomainInput(U64(page, 0), U64(page, 8));
            case HypercallCode.DeleteDeviceDomain:
                return new DeleteDeviceDomainInput(Domain(page));
            case HypercallCode.FlushDeviceDomain:
                return new FlushDeviceDomainInput(Domain(page), U32(page, 24));
            case HypercallCode.FlushDeviceDomainList:
                if (control.RepCount > MaxFlushListEntries)
                    return null;
                var list = ImmutableArray.CreateBuilder<FlushVa>(control.RepCount);
                for (var k = 0; k < control.RepCount; k++)
                    list.Add(FlushVa.Decode(U64(page, FlushListHeaderBytes + 8 * k)));
                return new FlushDeviceDomainListInput(Domain(page), (FlushDeviceDomainListFlags)U32(page, 24), list.MoveToImmutable());
            default:
                return null;
        }
    }

    /// <summary>
    /// The host's read of a trapped call's input page in place (hv_do_hypercall's RDX, brief §2.1): the call's own
    /// <paramref name="filled"/> input when the page still holds it — decided field by field on the bytes
    /// (<see cref="Holds"/>), so the hot path builds no input record — else the page decoded as <see cref="Read"/> does
    /// (H17: an interrupt refilled the page before the trap), with <paramref name="replaced"/> set.
    /// </summary>
    /// <param name="memory">Guest memory holding the page.</param>
    /// <param name="gpa">The input page's guest-physical address (page-aligned).</param>
    /// <param name="control">The control word trapped with (call code, rep count).</param>
    /// <param name="filled">The input the driver wrote into the page before the trap.</param>
    /// <returns>The input the host executes; null for a code with no input layout or a rep count past the page.</returns>
    /// <exception cref="GuestPhysicalAddressException">The page lies outside guest memory.</exception>
    public static IHypercallInput? ReadInPlace(Memory.GuestMemory memory, ulong gpa, HypercallControl control, IHypercallInput filled, out bool replaced)
    {
        // Only what the call code's layout covers is read (the rep count's entries, never past the page).
        Span<byte> page = stackalloc byte[LayoutBytes(control)];
        memory.Read(gpa, page);
        replaced = !Holds(control, page, filled);
        return replaced ? Read(control, page) : filled;
    }

    /// <summary>Bytes of the page the host reads for <paramref name="control"/>: the fixed part and the rep count's
    /// entries, at most one page.</summary>
    public static int LayoutBytes(HypercallControl control) => (int)Math.Min(PageBytes, FixedBytes(control.Code) + 8L * control.RepCount);

    /// <summary>
    /// True when <see cref="Read"/> of <paramref name="page"/> for <paramref name="control"/> would give an input equal
    /// to <paramref name="expected"/> (as <see cref="SameInput"/> compares), decided on the bytes without building one.
    /// </summary>
    public static bool Holds(HypercallControl control, ReadOnlySpan<byte> page, IHypercallInput? expected)
    {
        // No second decoder: the expected input is encoded with the driver's own layout (Write) and the bytes the
        // host reads are compared. Every field Read decodes is written whole by Write, so equal bytes are equal inputs.
        if (expected is null)
            return Read(control, page) is null; // a code with no layout or a rep count past the page: not the hot path
        if (expected.Code != control.Code)
            return false;
        Span<byte> encoded = stackalloc byte[PageBytes];
        if (Write(expected, encoded).RepCount != control.RepCount)
            return false;
        var bytes = LayoutBytes(control);
        return page.Length >= bytes && page[..bytes].SequenceEqual(encoded[..bytes]);
    }

    /// <summary>Value equality of two inputs, the list flush's entries compared element by element.</summary>
    public static bool SameInput(IHypercallInput? a, IHypercallInput? b) => (a, b) switch
    {
        (FlushDeviceDomainListInput x, FlushDeviceDomainListInput y) => x.Domain == y.Domain && x.Flags == y.Flags && x.IovaList.SequenceEqual(y.IovaList),
        _ => Equals(a, b),
    };

    /// <summary>The fixed part of a call's input (what the wrappers' memset covers; the list flush's entries follow it).</summary>
    public static int FixedBytes(HypercallCode code) => code switch
    {
        HypercallCode.GetIommuCapabilities or HypercallCode.DetachDeviceDomain => 16,
        HypercallCode.GetLogicalDeviceProperty => 24,
        HypercallCode.CreateDeviceDomain => HvInputDeviceDomain.SizeBytes + 4,
        HypercallCode.ConfigureDeviceDomain => HvInputDeviceDomain.SizeBytes + 16,
        HypercallCode.AttachDeviceDomain => HvInputDeviceDomain.SizeBytes + 8,
        HypercallCode.DeleteDeviceDomain => HvInputDeviceDomain.SizeBytes,
        HypercallCode.FlushDeviceDomain or HypercallCode.FlushDeviceDomainList => FlushListHeaderBytes,
        _ => 0,
    };

    private static void Domain(Span<byte> page, HvInputDeviceDomain d)
    {
        U64(page, 0, d.PartitionId);
        page[8] = d.OwnerVtl;
        U64(page, 16, d.DomainId.Pack());
    }

    private static HvInputDeviceDomain Domain(ReadOnlySpan<byte> page)
    {
        // Reserved bits of the domain id are kept as read: the host's own checks refuse what it must.
        DeviceDomainId.TryUnpack(U64(page, 16), out var id);
        return new HvInputDeviceDomain(U64(page, 0), page[8], id);
    }

    private static void U64(Span<byte> page, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(page[offset..], value);

    private static void U32(Span<byte> page, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(page[offset..], value);

    private static ulong U64(ReadOnlySpan<byte> page, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(page[offset..]);

    private static uint U32(ReadOnlySpan<byte> page, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(page[offset..]);
}
