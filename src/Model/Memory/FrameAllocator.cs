using System.Runtime.CompilerServices;

namespace HvIommu.Model.Memory;

/// <summary>What a guest frame is currently used for; the oracle reads it.</summary>
public enum FrameOwner : byte
{
    Free = 0,
    /// <summary>A stage-1 I/O page-table page (owner id = device-domain id).</summary>
    PageTable = 1,
    /// <summary>A DMA data buffer (owner id = the vCPU that allocated it).</summary>
    DmaBuffer = 2,
    /// <summary>Anything else the guest keeps (hypercall pages, driver structures).</summary>
    Kernel = 3,
}

/// <summary>The allocator's view of one frame: owner, owner id and generation.</summary>
/// <param name="Generation">Bumped on every allocation and every free, so a translation that
/// captured generation g can tell a freed or reused frame from the one it was made for.</param>
public readonly record struct FrameInfo(FrameOwner Owner, int OwnerId, uint Generation);

/// <summary>
/// The guest's page allocator: hands out 4 KiB frames of <see cref="GuestMemory"/>, reusing the most
/// recently freed frame first (LIFO), as a busy kernel's per-CPU free lists do. Quick reuse is what turns
/// a free-before-flush bug (hazards H1, H2, H3, H5) into a visible use-after-free. Thread-safe.
/// </summary>
public sealed class FrameAllocator
{
    private readonly object _lock = new();
    private readonly ulong _baseGpa;
    private readonly ulong[] _freeStack;
    private int _freeCount;
    private readonly FrameOwner[] _owner;
    private readonly int[] _ownerId;
    private readonly uint[] _generation;

    /// <param name="memory">The guest memory the frames live in.</param>
    /// <param name="baseGpa">First GPA the allocator manages (4 KiB aligned).</param>
    /// <param name="frameCount">How many frames it manages from there.</param>
    /// <param name="hugePages2M">2 MiB pages set aside at the top for DMA buffers (a hugetlb pool, below the 1 GiB pool).</param>
    /// <param name="hugePages1G">1 GiB pages set aside at the top of the managed range.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the memory, or too small for the pools
    /// at their natural alignment.</exception>
    public FrameAllocator(GuestMemory memory, ulong baseGpa, ulong frameCount, int hugePages2M = 0, int hugePages1G = 0)
    {
        if ((baseGpa & GuestMemory.PageMask) != 0)
            throw new ArgumentException($"base GPA 0x{baseGpa:x} is not 4 KiB aligned", nameof(baseGpa));
        if (frameCount == 0 || baseGpa + (frameCount << GuestMemory.PageShift) > memory.SizeBytes)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount,
                $"frames [0x{baseGpa:x}, +{frameCount}) must lie inside guest memory of 0x{memory.SizeBytes:x} bytes");
        Memory = memory;
        _baseGpa = baseGpa;
        FrameCount = (int)frameCount;
        _freeStack = new ulong[frameCount];
        _owner = new FrameOwner[frameCount];
        _ownerId = new int[frameCount];
        _generation = new uint[frameCount];
        // The pools take naturally aligned chunks from the top down: 1 GiB pages first, then 2 MiB pages.
        var top = baseGpa + (frameCount << GuestMemory.PageShift);
        _huge1G = new HugePool(top, 1UL << 30, hugePages1G);
        _huge2M = new HugePool(_huge1G.BaseGpa, 1UL << 21, hugePages2M);
        if (_huge2M.BaseGpa < baseGpa || _huge2M.BaseGpa > top)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount,
                $"{hugePages1G} 1 GiB and {hugePages2M} 2 MiB pages do not fit in frames [0x{baseGpa:x}, +{frameCount}) at their alignment");
        _smallFrames = (int)((_huge2M.BaseGpa - baseGpa) >> GuestMemory.PageShift);
        _hugeFrames = (hugePages1G << 18) + (hugePages2M << 9);
        FillFreeLists();
    }

    /// <summary>True when this allocator was built with these arguments (see <see cref="Reset"/>).</summary>
    public bool BuiltWith(GuestMemory memory, ulong baseGpa, ulong frameCount, int hugePages2M, int hugePages1G) =>
        memory == Memory && baseGpa == _baseGpa && frameCount == (ulong)FrameCount && hugePages2M == _huge2M.Chunks && hugePages1G == _huge1G.Chunks;

    /// <summary>
    /// Every frame free again, with generation 0 and the free lists in their first order: the allocator then behaves
    /// exactly as a new one with the same arguments (an explorer reuses it across schedules instead of allocating its
    /// per-frame arrays again). Only while nothing else uses it (between deterministic schedules).
    /// </summary>
    /// <remarks>Its cost is the frames used since the last reset, not the allocator's size: only the frames inside
    /// <see cref="_small"/> and <see cref="_huge"/> can hold an owner, an owner id or a generation, and only the free
    /// list's slots from its low-water mark up were written.</remarks>
    public void Reset()
    {
        lock (_lock)
        {
            _small.Clear(this);
            _huge.Clear(this);
            _huge1G.Reset();
            _huge2M.Reset();
            FillFreeLists(_freeLowWater);
        }
    }

    private void FillFreeLists(int from = 0)
    {
        // Push highest first so the first allocations come out in ascending GPA order (readable traces).
        for (var i = from; i < _smallFrames; i++)
            _freeStack[i] = _baseGpa + ((ulong)(_smallFrames - 1 - i) << GuestMemory.PageShift);
        _freeCount = _smallFrames;
        _freeLowWater = _smallFrames;
        _hugeFreeFrames = _hugeFrames;
    }

    // The fewest frames the small free list held since it was last filled: the slots below it still hold what
    // FillFreeLists wrote (an allocation takes the top slot, a free writes the slot above the count).
    private int _freeLowWater;

    // The frames an allocation reached since the last reset, as one index range for the small frames and one for the
    // hugetlb pools (which lie above them): every frame outside both is Free, with owner id 0 and generation 0.
    private TouchedFrames _small = TouchedFrames.None;
    private TouchedFrames _huge = TouchedFrames.None;

    /// <summary>A range [<see cref="From"/>, <see cref="To"/>) of frame indices, empty when From ≥ To.</summary>
    private struct TouchedFrames
    {
        public int From;
        public int To;

        public static TouchedFrames None => new() { From = int.MaxValue, To = 0 };

        public readonly int Count => Math.Max(0, To - From);

        public void Add(int first, int count)
        {
            From = Math.Min(From, first);
            To = Math.Max(To, first + count);
        }

        public void Clear(FrameAllocator frames)
        {
            if (Count > 0)
            {
                Array.Clear(frames._owner, From, Count);
                Array.Clear(frames._ownerId, From, Count);
                Array.Clear(frames._generation, From, Count);
            }
            this = None;
        }

        public readonly int CountOwnedBy(FrameAllocator frames, FrameOwner owner, int? ownerId)
        {
            var n = 0;
            for (var i = From; i < To; i++)
                if (frames._owner[i] == owner && (ownerId is null || frames._ownerId[i] == ownerId))
                    n++;
            return n;
        }
    }

    private readonly int _smallFrames;
    private readonly int _hugeFrames;

    private readonly HugePool _huge2M;
    private readonly HugePool _huge1G;
    private int _hugeFreeFrames;

    /// <summary>Free pages left in the pool of <paramref name="pageBytes"/>-byte pages (2 MiB or 1 GiB).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Any other size.</exception>
    public int HugePagesFree(ulong pageBytes)
    {
        lock (_lock)
            return Pool(pageBytes).FreeCount;
    }

    /// <summary>
    /// Takes a page of the hugetlb pool of <paramref name="pageBytes"/>-byte pages (2 MiB or 1 GiB, physically contiguous and naturally
    /// aligned): every 4 KiB frame in it becomes <paramref name="owner"/>'s, with its generation bumped. The frames
    /// are given back one by one with <see cref="Free"/>; the page returns to its pool, most recent first, when the
    /// last of them is.
    /// </summary>
    /// <returns>False when the pool is empty.</returns>
    public bool TryAllocateHuge(ulong pageBytes, FrameOwner owner, int ownerId, out ulong gpa)
    {
        if (owner == FrameOwner.Free)
            throw new ArgumentException("cannot allocate a frame for owner Free", nameof(owner));
        lock (_lock)
        {
            var pool = Pool(pageBytes);
            if (!pool.TryTake(out gpa))
                return false;
            var first = Index(gpa);
            var frames = (int)(pool.ChunkBytes >> GuestMemory.PageShift);
            _huge.Add(first, frames);
            for (var i = first; i < first + frames; i++)
            {
                _owner[i] = owner;
                _ownerId[i] = ownerId;
                _generation[i]++;
            }
            _hugeFreeFrames -= frames;
            return true;
        }
    }

    // Memory sits below the page tables, so the pools are named by size in bytes, not by the page-table PageSize.
    private HugePool Pool(ulong pageBytes) => pageBytes switch
    {
        1UL << 21 => _huge2M,
        1UL << 30 => _huge1G,
        _ => throw new ArgumentOutOfRangeException(nameof(pageBytes), pageBytes, "hugetlb pools hold 2 MiB and 1 GiB pages"),
    };

    /// <summary>One hugetlb pool: chunks of <see cref="ChunkBytes"/> from <see cref="BaseGpa"/> up, a LIFO of free ones,
    /// and per chunk the frames still allocated.</summary>
    private sealed class HugePool
    {
        private readonly Stack<ulong> _free = new();
        private readonly int[] _used;

        public HugePool(ulong top, ulong chunkBytes, int chunks)
        {
            ChunkBytes = chunkBytes;
            var alignedTop = top & ~(chunkBytes - 1);
            var bytes = (ulong)chunks * chunkBytes;
            BaseGpa = chunks == 0 ? top : (bytes > alignedTop ? ulong.MaxValue : alignedTop - bytes);
            _used = new int[chunks];
            Reset();
        }

        /// <summary>Every chunk free, the lowest on top, as built.</summary>
        public void Reset()
        {
            _free.Clear();
            Array.Clear(_used);
            for (var i = _used.Length - 1; i >= 0; i--)
                _free.Push(BaseGpa + (ulong)i * ChunkBytes);
        }

        public int Chunks => _used.Length;

        public ulong BaseGpa { get; }
        public ulong ChunkBytes { get; }
        public int FreeCount => _free.Count;

        public bool Contains(ulong gpa) => _used.Length > 0 && gpa >= BaseGpa && gpa - BaseGpa < (ulong)_used.Length * ChunkBytes;

        public bool TryTake(out ulong gpa)
        {
            if (!_free.TryPop(out gpa))
                return false;
            _used[(int)((gpa - BaseGpa) / ChunkBytes)] = (int)(ChunkBytes >> GuestMemory.PageShift);
            return true;
        }

        /// <summary>One frame of a chunk freed; true when it was the chunk's last.</summary>
        public void FrameFreed(ulong gpa)
        {
            var chunk = (int)((gpa - BaseGpa) / ChunkBytes);
            if (--_used[chunk] == 0)
                _free.Push(BaseGpa + (ulong)chunk * ChunkBytes);
        }
    }

    public GuestMemory Memory { get; }
    public int FrameCount { get; }
    /// <summary>Free frames: the small frames' free list and the free frames of the hugetlb pools.</summary>
    public int FreeCount { get { lock (_lock) return _freeCount + _hugeFreeFrames; } }
    public int AllocatedCount => FrameCount - FreeCount;

    /// <summary>Allocates a frame; its contents are whatever the last owner left unless <paramref name="zero"/>.</summary>
    /// <exception cref="GuestMemoryExhaustedException">No frame is free.</exception>
    public ulong Allocate(FrameOwner owner, int ownerId, bool zero = false)
        => TryAllocate(owner, ownerId, out var gpa, zero) ? gpa : throw new GuestMemoryExhaustedException(FrameCount);

    public bool TryAllocate(FrameOwner owner, int ownerId, out ulong gpa, bool zero = false)
    {
        if (owner == FrameOwner.Free)
            throw new ArgumentException("cannot allocate a frame for owner Free", nameof(owner));
        lock (_lock)
        {
            if (_freeCount == 0)
            {
                gpa = 0;
                return false;
            }
            gpa = _freeStack[--_freeCount];
            _freeLowWater = Math.Min(_freeLowWater, _freeCount);
            var i = Index(gpa);
            _small.Add(i, 1);
            _owner[i] = owner;
            _ownerId[i] = ownerId;
            _generation[i]++;
        }
        if (zero)
            Memory.ZeroFrame(gpa);
        return true;
    }

    /// <summary>Returns a frame; the next allocation gets it back first.</summary>
    /// <exception cref="InvalidOperationException">The frame is already free (a double free).</exception>
    public void Free(ulong gpa)
    {
        lock (_lock)
            FreeLocked(gpa);
    }

    /// <summary>
    /// Returns <paramref name="frames"/> consecutive frames from GPA <paramref name="gpa"/> up, lowest first: the same
    /// as that many <see cref="Free"/> calls in ascending order, under one lock (a buffer of 2 MiB is 512 frames, and
    /// a lock per frame was a tenth of a deterministic step's CPU on the default topology).
    /// </summary>
    /// <exception cref="InvalidOperationException">A frame is already free (a double free); the frames below it are freed.</exception>
    public void FreeRun(ulong gpa, int frames)
    {
        lock (_lock)
        {
            for (var k = 0; k < frames; k++)
                FreeLocked(gpa + ((ulong)k << GuestMemory.PageShift));
        }
    }

    private void FreeLocked(ulong gpa)
    {
        var i = Index(gpa);
        if (_owner[i] == FrameOwner.Free)
            throw new InvalidOperationException($"double free of guest frame 0x{gpa:x}");
        _owner[i] = FrameOwner.Free;
        _ownerId[i] = 0;
        _generation[i]++;
        if ((_huge2M.Contains(gpa) ? _huge2M : _huge1G.Contains(gpa) ? _huge1G : null) is { } pool)
        {
            pool.FrameFreed(gpa);
            _hugeFreeFrames++;
            return;
        }
        _freeStack[_freeCount++] = gpa;
    }

    /// <summary>True when <paramref name="gpa"/> lies in a frame this allocator manages.</summary>
    public bool Manages(ulong gpa) => gpa >= _baseGpa && (gpa - _baseGpa) >> GuestMemory.PageShift < (ulong)FrameCount;

    /// <summary>The frame's owner and generation. Lock-free: a racing allocate may be seen half-done,
    /// which only matters for the generation, and that is read last.</summary>
    public FrameInfo GetInfo(ulong gpa)
    {
        if (!Manages(gpa))
            return new FrameInfo(FrameOwner.Kernel, -1, 0);
        var i = Index(gpa & ~GuestMemory.PageMask);
        return new FrameInfo((FrameOwner)Volatile.Read(ref Unsafe.As<FrameOwner, byte>(ref _owner[i])), Volatile.Read(ref _ownerId[i]), Volatile.Read(ref _generation[i]));
    }

    /// <summary>The frame's current generation (see <see cref="FrameInfo.Generation"/>).</summary>
    public uint GenerationOf(ulong gpa) => Manages(gpa) ? Volatile.Read(ref _generation[Index(gpa & ~GuestMemory.PageMask)]) : 0;

    /// <summary>Allocated frames per owner kind, for leak checks at teardown.</summary>
    public int CountOwnedBy(FrameOwner owner, int? ownerId = null)
    {
        lock (_lock)
        {
            // Only the frames allocations reached can be owned; every other frame is Free with owner id 0.
            var n = _small.CountOwnedBy(this, owner, ownerId) + _huge.CountOwnedBy(this, owner, ownerId);
            if (owner == FrameOwner.Free && ownerId is null or 0)
                n += FrameCount - _small.Count - _huge.Count;
            return n;
        }
    }

    private int Index(ulong gpa)
    {
        if (!Manages(gpa) || (gpa & GuestMemory.PageMask) != 0)
            throw new ArgumentOutOfRangeException(nameof(gpa), $"0x{gpa:x} is not a frame managed by this allocator");
        return (int)((gpa - _baseGpa) >> GuestMemory.PageShift);
    }
}

/// <summary>The guest ran out of frames: the configured memory is too small for the topology.</summary>
public sealed class GuestMemoryExhaustedException(int frameCount)
    : Exception($"guest memory exhausted: all {frameCount} frames ({(long)frameCount * 4} KiB) are allocated; raise hviommu.vm.memory-mib")
{
    public int FrameCount { get; } = frameCount;
}
