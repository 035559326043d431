namespace HvIommu.Model.Memory;

/// <summary>
/// Guest physical memory of the child partition (brief §3, §4): sparse 4 KiB frames addressed by GPA.
/// 64-bit loads, stores and compare-exchange are truly atomic across threads, because in stress mode
/// the vCPUs writing stage-1 entries and the IOMMU walker reading them really race on this memory
/// (brief §3.1: leaf writes are WRITE_ONCE, table installs are cmpxchg64_release, the walker READ_ONCEs).
/// </summary>
public sealed class GuestMemory
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    public const ulong PageMask = PageSize - 1;
    private const int WordsPerFrame = PageSize / sizeof(long);

    private readonly long[]?[] _frames;

    public GuestMemory(ulong sizeBytes)
    {
        if (sizeBytes == 0 || (sizeBytes & PageMask) != 0)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "guest memory size must be a non-zero multiple of 4 KiB");
        if (sizeBytes >> PageShift > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "guest memory larger than 8 TiB is not supported");
        SizeBytes = sizeBytes;
        _frames = new long[]?[sizeBytes >> PageShift];
    }

    /// <summary>
    /// Every byte back to zero, as a new memory of this size reads: the frames written so far are cleared and kept
    /// rather than dropped, so an explorer's next schedule on the same topology reuses them instead of allocating
    /// its own. Only while nothing else touches the memory (between deterministic schedules).
    /// </summary>
    /// <remarks>Its cost is the frames written since the memory was built, not its size.</remarks>
    public void Reset()
    {
        lock (_materialized)
        {
            foreach (var frame in _materialized)
                Array.Clear(frame);
        }
    }

    // Every frame backed so far, in the order it was first written (the frame table is sparse: a reset clears these
    // rather than walking every slot of it).
    private readonly List<long[]> _materialized = new();

    /// <summary>Bytes of guest physical address space, starting at GPA 0.</summary>
    public ulong SizeBytes { get; }

    /// <summary>Number of 4 KiB guest frames.</summary>
    public ulong FrameCount => SizeBytes >> PageShift;

    public bool Contains(ulong gpa) => gpa < SizeBytes;

    /// <summary>An aligned 64-bit load with acquire semantics (READ_ONCE).</summary>
    public ulong Load64(ulong gpa)
    {
        var frame = FrameOrNull(gpa, out var word);
        return frame is null ? 0 : (ulong)Volatile.Read(ref frame[word]);
    }

    /// <summary>An aligned 64-bit store with release semantics (WRITE_ONCE).</summary>
    public void Store64(ulong gpa, ulong value)
    {
        var frame = Frame(gpa, out var word);
        Volatile.Write(ref frame[word], (long)value);
    }

    /// <summary>An aligned 64-bit compare-exchange (cmpxchg64, full barrier); returns the value found.</summary>
    public ulong CompareExchange64(ulong gpa, ulong expected, ulong desired)
    {
        var frame = Frame(gpa, out var word);
        return (ulong)Interlocked.CompareExchange(ref frame[word], (long)desired, (long)expected);
    }

    /// <summary>Reads bytes (a DMA read or a CPU memcpy); the range may span frames.</summary>
    public void Read(ulong gpa, Span<byte> destination)
    {
        CheckRange(gpa, (ulong)destination.Length);
        while (!destination.IsEmpty)
        {
            var offset = (int)(gpa & PageMask);
            var chunk = Math.Min(destination.Length, PageSize - offset);
            var frame = _frames[gpa >> PageShift];
            if (frame is null)
                destination[..chunk].Clear();
            else
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(frame.AsSpan()).Slice(offset, chunk).CopyTo(destination);
            destination = destination[chunk..];
            gpa += (ulong)chunk;
        }
    }

    /// <summary>Writes bytes (a DMA write or a CPU memcpy); the range may span frames.</summary>
    public void Write(ulong gpa, ReadOnlySpan<byte> source)
    {
        CheckRange(gpa, (ulong)source.Length);
        while (!source.IsEmpty)
        {
            var offset = (int)(gpa & PageMask);
            var chunk = Math.Min(source.Length, PageSize - offset);
            var frame = Frame(gpa, out _);
            source[..chunk].CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(frame.AsSpan()).Slice(offset, chunk));
            source = source[chunk..];
            gpa += (ulong)chunk;
        }
    }

    /// <summary>Fills a whole 4 KiB frame with one 64-bit pattern (zero for a fresh page-table page).</summary>
    public void FillFrame(ulong frameGpa, ulong pattern)
    {
        if ((frameGpa & PageMask) != 0)
            throw new ArgumentException($"frame address 0x{frameGpa:x} is not 4 KiB aligned", nameof(frameGpa));
        var frame = Frame(frameGpa, out _);
        for (var i = 0; i < WordsPerFrame; i++)
            Volatile.Write(ref frame[i], (long)pattern);
    }

    public void ZeroFrame(ulong frameGpa) => FillFrame(frameGpa, 0);

    private long[]? FrameOrNull(ulong gpa, out int word)
    {
        CheckAligned(gpa);
        word = (int)((gpa & PageMask) >> 3);
        return Volatile.Read(ref _frames[gpa >> PageShift]);
    }

    private long[] Frame(ulong gpa, out int word)
    {
        CheckAligned(gpa);
        word = (int)((gpa & PageMask) >> 3);
        ref var slot = ref _frames[gpa >> PageShift];
        var frame = Volatile.Read(ref slot);
        if (frame is not null)
            return frame;
        var fresh = new long[WordsPerFrame];
        if (Interlocked.CompareExchange(ref slot, fresh, null) is { } other)
            return other;
        lock (_materialized)
            _materialized.Add(fresh);
        return fresh;
    }

    private void CheckAligned(ulong gpa)
    {
        if (gpa >= SizeBytes)
            throw new GuestPhysicalAddressException(gpa, SizeBytes);
        if ((gpa & 7) != 0)
            throw new ArgumentException($"GPA 0x{gpa:x} is not 8-byte aligned", nameof(gpa));
    }

    private void CheckRange(ulong gpa, ulong length)
    {
        if (gpa >= SizeBytes || length > SizeBytes - gpa)
            throw new GuestPhysicalAddressException(gpa, SizeBytes);
    }
}

/// <summary>An access outside the guest's physical address space.</summary>
public sealed class GuestPhysicalAddressException(ulong gpa, ulong sizeBytes)
    : Exception($"GPA 0x{gpa:x} is outside guest memory [0x0, 0x{sizeBytes:x})")
{
    public ulong Gpa { get; } = gpa;
}
