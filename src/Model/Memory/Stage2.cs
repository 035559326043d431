namespace HvIommu.Model.Memory;

/// <summary>
/// The host's stage-2 (GPA → HPA) translation for the child partition, owned by the hypervisor (brief §4).
/// By default every guest frame is backed by host frame <c>GPA + HostOffset</c>; the host may move a frame
/// (<see cref="Remap"/>), which bumps <see cref="Version"/>. Nested IOTLB entries derived from the old
/// backing must then be invalidated by the host (hazard H14). Lookups are lock-free.
/// </summary>
public sealed class Stage2
{
    /// <summary>Default distance between a guest frame and its host backing (64 GiB): keeps HPAs visibly different from GPAs in traces.</summary>
    public const ulong DefaultHostOffset = 0x10_0000_0000;

    private const ulong Unmapped = ulong.MaxValue;
    /// <summary>Null while every frame below <see cref="_frames"/> is at its default backing: always for a <see cref="Flat"/>
    /// stage 2, and for the others until the first <see cref="Remap"/> (most runs never remap, and an explorer builds a
    /// stage 2 per schedule), which materializes the per-frame table.</summary>
    private volatile ulong[]? _hpaFrameByGfn;
    private readonly ulong _frames;
    private readonly bool _flat;
    private readonly Dictionary<ulong, ulong> _gfnByMovedHpaFrame = new();
    private readonly object _lock = new();
    private long _version;

    public Stage2(ulong guestSizeBytes, ulong hostOffset = DefaultHostOffset)
    {
        if ((hostOffset & GuestMemory.PageMask) != 0)
            throw new ArgumentException($"host offset 0x{hostOffset:x} is not 4 KiB aligned", nameof(hostOffset));
        HostOffset = hostOffset;
        _frames = guestSizeBytes >> GuestMemory.PageShift;
    }

    private Stage2(ulong guestSizeBytes, ulong hostOffset, bool flat)
    {
        HostOffset = hostOffset;
        _frames = guestSizeBytes >> GuestMemory.PageShift;
        _flat = flat;
    }

    /// <summary>
    /// A stage 2 that backs every frame of [0, <paramref name="guestSizeBytes"/>) at GPA + <paramref name="hostOffset"/>
    /// without a per-frame array, so it can cover the whole 52-bit GPA space (the <c>pagetable</c> command's
    /// scratch VM). It cannot <see cref="Remap"/>.
    /// </summary>
    public static Stage2 Flat(ulong guestSizeBytes, ulong hostOffset = DefaultHostOffset) => new(guestSizeBytes, hostOffset, flat: true);

    public ulong HostOffset { get; }

    /// <summary>Bumped by every change; nested caches may record it.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>GPA → HPA; false when the GPA is outside the partition or unmapped by the host.</summary>
    public bool TryTranslate(ulong gpa, out ulong hpa)
    {
        var gfn = gpa >> GuestMemory.PageShift;
        if (gfn >= _frames)
        {
            hpa = 0;
            return false;
        }
        var table = _hpaFrameByGfn;
        var hfn = table is null ? gfn + (HostOffset >> GuestMemory.PageShift) : Volatile.Read(ref table[gfn]);
        hpa = (hfn << GuestMemory.PageShift) | (gpa & GuestMemory.PageMask);
        return hfn != Unmapped;
    }

    /// <summary>HPA → GPA, for the DMA engine to find guest memory behind a host address. False when the
    /// host frame backs no guest frame any more (for example after <see cref="Remap"/> moved it).</summary>
    public bool TryReverse(ulong hpa, out ulong gpa)
    {
        var hfn = hpa >> GuestMemory.PageShift;
        var defaultGfn = hfn - (HostOffset >> GuestMemory.PageShift);
        var table = _hpaFrameByGfn;
        if (hfn >= HostOffset >> GuestMemory.PageShift && defaultGfn < _frames
            && (table is null || Volatile.Read(ref table[defaultGfn]) == hfn))
        {
            gpa = (defaultGfn << GuestMemory.PageShift) | (hpa & GuestMemory.PageMask);
            return true;
        }
        lock (_lock)
        {
            if (_gfnByMovedHpaFrame.TryGetValue(hfn, out var gfn) && _hpaFrameByGfn is not null && _hpaFrameByGfn[gfn] == hfn)
            {
                gpa = (gfn << GuestMemory.PageShift) | (hpa & GuestMemory.PageMask);
                return true;
            }
        }
        gpa = 0;
        return false;
    }

    /// <summary>The host moves guest frame <paramref name="gpa"/> to host frame <paramref name="newHpa"/>
    /// (page migration, compaction). Returns the old HPA.</summary>
    public ulong Remap(ulong gpa, ulong newHpa)
    {
        if ((gpa & GuestMemory.PageMask) != 0 || (newHpa & GuestMemory.PageMask) != 0)
            throw new ArgumentException("stage-2 remap takes 4 KiB aligned addresses");
        if (_flat)
            throw new InvalidOperationException("a flat stage 2 cannot remap frames");
        var gfn = gpa >> GuestMemory.PageShift;
        if (gfn >= _frames)
            throw new GuestPhysicalAddressException(gpa, _frames << GuestMemory.PageShift);
        lock (_lock)
        {
            var table = _hpaFrameByGfn ?? DefaultTable();
            var old = table[gfn];
            _gfnByMovedHpaFrame.Remove(old);
            var hfn = newHpa >> GuestMemory.PageShift;
            _gfnByMovedHpaFrame[hfn] = gfn;
            Volatile.Write(ref table[gfn], hfn);
            // Published after its entries: a lock-free reader sees either no table (every frame at its default
            // backing, as the table says) or the whole table.
            _hpaFrameByGfn = table;
            Interlocked.Increment(ref _version);
            return old << GuestMemory.PageShift;
        }
    }

    /// <summary>The per-frame table with every frame at its default backing (the first remap's starting point).</summary>
    private ulong[] DefaultTable()
    {
        var table = new ulong[_frames];
        var first = HostOffset >> GuestMemory.PageShift;
        for (ulong gfn = 0; gfn < _frames; gfn++)
            table[gfn] = gfn + first;
        return table;
    }
}
