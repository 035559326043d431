using System.Collections.Immutable;

namespace HvIommu.Model.Workload;

/// <summary>How a trace's events are ordered across vCPUs during replay.</summary>
public enum TraceOrdering
{
    /// <summary>The trace's timestamp order: an event starts only once every earlier event has reached its trace point.</summary>
    Global,
    /// <summary>Each vCPU replays its own CPU's events in order; across vCPUs only data dependencies order them
    /// (an unmap after the maps it covers and their DMA, a map after the unmap that last freed its IOVA), so
    /// the scheduler chooses the interleaving (explored in deterministic mode).</summary>
    PerCpu,
}

/// <summary>What a vCPU should do next with its share of the trace.</summary>
public enum TraceStepKind
{
    /// <summary>Run event <see cref="TraceStep.EventIndex"/> now.</summary>
    Ready,
    /// <summary>Its next event depends on another vCPU's progress; the vCPU is woken when that changes.</summary>
    Waiting,
    /// <summary>Nothing left for this vCPU.</summary>
    Finished,
}

public readonly record struct TraceStep(TraceStepKind Kind, int EventIndex);

/// <summary>One actual IOVA range an unmap clears: its place in the replay's IOVA space and the maps it ends.</summary>
public sealed record UnmapRange(ulong Iova, ulong Bytes, ImmutableArray<int> Maps);

/// <summary>
/// The replay of an <see cref="FtraceTrace"/> as a pure, thread-safe state machine the vCPUs consult: which event
/// each vCPU runs next, what it waits for, where each map lands in the IOVA space, and which maps each unmap
/// ends. Traced CPU <c>Cpus[i]</c> is vCPU <c>firstVcpu + i</c>.
/// <para>What the trace does not say and the replay must respect (see the trace README in docs/):</para>
/// <list type="bullet">
/// <item>the kernel maps a scatter-gather list segment by segment and unmaps the whole IOVA range at once, so an
/// unmap may end several maps; it runs only once they are mapped and the device has finished its DMA into them
/// (a driver unmaps after the completion);</item>
/// <item>some mappings are never unmapped (queues, coherent buffers): they stay live to the end;</item>
/// <item>IOVAs are reused quickly after an unmap. In strict mode the kernel hands the IOVA out again only after the
/// flush (free_iova after iotlb_sync), so a map waits for the unmap that last freed its range to finish. In lazy
/// mode the IOVA sits in a flush queue until a later flush; a replayed map whose range is still held there is
/// placed at an alias — the same range with a different top-level table index (bits 39+ of a 48-bit space), so
/// offsets and page sizes are unchanged — and counted in <see cref="RelocatedMaps"/>.</item>
/// </list>
/// </summary>
public sealed class TraceReplay
{
    private const byte Pending = 0, Passed = 1, Done = 2;
    private const int AliasCount = 512;

    private readonly object _lock = new();
    private readonly ImmutableArray<IommuTraceEvent> _events;
    private readonly int[][] _queues;
    private readonly int[] _head;
    private readonly int[][] _deps;
    private readonly byte[] _state;
    private readonly int[] _dmaOutstanding;
    private readonly bool[] _unmapWaiting;
    private readonly int[][] _covers;
    private readonly int[] _unmapOf;
    private readonly ulong[] _actualIova;
    private readonly object?[] _payload;
    private readonly Action?[] _wake;
    private readonly bool[] _waiting;
    private readonly HashSet<ulong> _busyPages = new();
    private readonly int _aliasShift;
    private readonly int _firstAlias;
    private readonly bool _strict;
    private int _passedPrefix;
    private long _flushQueueDueNs = long.MaxValue;
    private int _finished;
    private long _relocated;

    /// <param name="trace">The parsed trace.</param>
    /// <param name="ordering">Global or per-CPU.</param>
    /// <param name="firstVcpu">The vCPU that replays the first traced CPU.</param>
    /// <param name="iovaWidth">The domain's IOVA width in bits (every traced range must fit below 2^width).</param>
    /// <param name="strict">Strict dma-iommu mode: maps wait for the previous unmap of their IOVA to finish.</param>
    /// <param name="sharedDomain">The traced device shares its domain with devices running the synthetic workload,
    /// whose IOVA allocator hands out ranges below 4 GiB: every traced map is then placed at an alias from the start.</param>
    /// <exception cref="ArgumentException">A traced range does not fit the IOVA width.</exception>
    public TraceReplay(FtraceTrace trace, TraceOrdering ordering, int firstVcpu, int iovaWidth, bool strict, bool sharedDomain = false)
    {
        Trace = trace;
        Ordering = ordering;
        FirstVcpu = firstVcpu;
        _strict = strict;
        _events = trace.Events;
        _aliasShift = iovaWidth - 9;
        _firstAlias = sharedDomain ? 1 : 0;
        var limit = 1UL << iovaWidth;
        foreach (var e in _events)
        {
            if (e.End > limit || e.End < e.Iova)
                throw new ArgumentException($"{trace.File}:{e.Line}: iova range 0x{e.Iova:x} - 0x{e.End:x} does not fit the {iovaWidth}-bit IOVA space of the replaying domain");
        }
        var cpus = trace.Cpus;
        Vcpus = cpus.Length;
        var vcpuOfCpu = cpus.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i);
        var n = _events.Length;
        _queues = Enumerable.Range(0, Vcpus).Select(v => Enumerable.Range(0, n).Where(i => vcpuOfCpu[_events[i].Cpu] == v).ToArray()).ToArray();
        _head = new int[Vcpus];
        _state = new byte[n];
        _dmaOutstanding = new int[n];
        _unmapWaiting = new bool[n];
        _actualIova = new ulong[n];
        _payload = new object?[n];
        _wake = new Action?[Vcpus];
        _waiting = new bool[Vcpus];
        (_deps, _covers, _unmapOf) = Plan(_events);
        LongLivedMaps = _unmapOf.Select((u, i) => (u, i)).Count(x => _events[x.i].Kind == IommuEventKind.Map && x.u < 0);
    }

    public FtraceTrace Trace { get; }
    public TraceOrdering Ordering { get; }
    public int FirstVcpu { get; }

    /// <summary>Traced CPUs = vCPUs the replay uses.</summary>
    public int Vcpus { get; }

    /// <summary>Maps the trace never unmaps (device queues, coherent buffers made at probe).</summary>
    public int LongLivedMaps { get; }

    /// <summary>Maps placed at an alias because their traced range was still held (see the class summary).</summary>
    public long RelocatedMaps => Interlocked.Read(ref _relocated);

    public IommuTraceEvent this[int eventIndex] => _events[eventIndex];

    /// <summary>Events replayed to the end so far (progress).</summary>
    public int EventsFinished => Volatile.Read(ref _finished);

    /// <summary>True when the vCPU replays a traced CPU.</summary>
    public bool Drives(int vcpu) => vcpu >= FirstVcpu && vcpu < FirstVcpu + Vcpus;

    /// <summary>The unmap that ends map <paramref name="mapIndex"/>, or -1 when the trace never unmaps it.</summary>
    public int UnmapOf(int mapIndex) => _unmapOf[mapIndex];

    /// <summary>The vCPU's callback for "something you may be waiting for happened" (a send to itself).</summary>
    public void SetWake(int vcpu, Action wake)
    {
        lock (_lock)
            _wake[vcpu - FirstVcpu] = wake;
    }

    /// <summary>Arms the traced domain's flush-queue timer to fire at trace time <paramref name="dueNs"/> (if not armed).</summary>
    public void ArmFlushQueueTimer(long dueNs)
    {
        lock (_lock)
        {
            if (_flushQueueDueNs == long.MaxValue)
                _flushQueueDueNs = dueNs;
        }
    }

    /// <summary>True, once, when the armed flush-queue timer is due at trace time <paramref name="nowNs"/>.</summary>
    public bool TakeFlushQueueTimeout(long nowNs)
    {
        lock (_lock)
        {
            if (_flushQueueDueNs > nowNs)
                return false;
            _flushQueueDueNs = long.MaxValue;
            return true;
        }
    }

    /// <summary>The vCPU's next event, or why it has none now. A Waiting vCPU is woken once through its callback.</summary>
    public TraceStep Next(int vcpu)
    {
        var v = vcpu - FirstVcpu;
        lock (_lock)
        {
            var queue = _queues[v];
            if (_head[v] >= queue.Length)
                return new TraceStep(TraceStepKind.Finished, -1);
            var i = queue[_head[v]];
            if (!CanStart(i))
            {
                _waiting[v] = true;
                return new TraceStep(TraceStepKind.Waiting, i);
            }
            _head[v]++;
            return new TraceStep(TraceStepKind.Ready, i);
        }
    }

    /// <summary>The event reached its trace point (a map's leaves written, an unmap's leaves cleared).</summary>
    public void ReachedTracePoint(int eventIndex)
    {
        List<Action>? wake;
        lock (_lock)
        {
            _state[eventIndex] = Math.Max(_state[eventIndex], Passed);
            while (_passedPrefix < _state.Length && _state[_passedPrefix] >= Passed)
                _passedPrefix++;
            wake = TakeWaiters();
        }
        Wake(wake);
    }

    /// <summary>The event is finished (an unmap's flush returned and its IOVA went back, or went to a flush queue).</summary>
    public void Finished(int eventIndex)
    {
        List<Action>? wake;
        lock (_lock)
        {
            if (_state[eventIndex] != Done)
                _finished++;
            _state[eventIndex] = Done;
            while (_passedPrefix < _state.Length && _state[_passedPrefix] >= Passed)
                _passedPrefix++;
            wake = TakeWaiters();
        }
        Wake(wake);
    }

    /// <summary>The device was programmed to DMA into map <paramref name="mapIndex"/>.</summary>
    public void DmaProgrammed(int mapIndex)
    {
        lock (_lock)
            _dmaOutstanding[mapIndex]++;
    }

    /// <summary>The device completed a descriptor of map <paramref name="mapIndex"/>.</summary>
    public void DmaCompleted(int mapIndex)
    {
        List<Action>? wake = null;
        lock (_lock)
        {
            if (--_dmaOutstanding[mapIndex] == 0)
                wake = TakeWaiters();
        }
        Wake(wake);
    }

    /// <summary>True once the unmap that ends map <paramref name="mapIndex"/> has cleared its leaves.</summary>
    public bool Ended(int mapIndex)
    {
        lock (_lock)
            return _unmapOf[mapIndex] >= 0 && _state[_unmapOf[mapIndex]] >= Passed;
    }

    /// <summary>May the mapping get more (periodic) DMA? Not once its unmap is waiting for the device to finish.</summary>
    public bool MayDmaAgain(int mapIndex)
    {
        lock (_lock)
            return _dmaOutstanding[mapIndex] == 0 && !_unmapWaiting[mapIndex] && (_unmapOf[mapIndex] < 0 || _state[_unmapOf[mapIndex]] == Pending);
    }

    /// <summary>
    /// Places map <paramref name="mapIndex"/> in the replay's IOVA space: its traced range when free, else the first
    /// free alias; marks the range busy and returns where it went.
    /// </summary>
    /// <exception cref="InvalidOperationException">Every alias of the range is busy.</exception>
    public ulong PlaceMap(int mapIndex)
    {
        var e = _events[mapIndex];
        lock (_lock)
        {
            for (var k = _firstAlias; k < AliasCount; k++)
            {
                var iova = e.Iova ^ ((ulong)k << _aliasShift);
                if (!RangeFree(iova, e.Size))
                    continue;
                for (var p = iova; p < iova + e.Size; p += 4096)
                    _busyPages.Add(p);
                _actualIova[mapIndex] = iova;
                if (k != 0)
                    _relocated++;
                return iova;
            }
        }
        throw new InvalidOperationException($"{Trace.File}:{e.Line}: every alias of IOVA range 0x{e.Iova:x} - 0x{e.End:x} is still mapped or held");
    }

    /// <summary>Where map <paramref name="mapIndex"/> was placed (valid once <see cref="PlaceMap"/> returned).</summary>
    public ulong ActualIova(int mapIndex) => _actualIova[mapIndex];

    /// <summary>What the replaying vCPU keeps with a map (the oracle's records); read by whoever unmaps it.</summary>
    public object? Payload(int mapIndex)
    {
        lock (_lock)
            return _payload[mapIndex];
    }

    public void SetPayload(int mapIndex, object? payload)
    {
        lock (_lock)
            _payload[mapIndex] = payload;
    }

    /// <summary>
    /// The actual IOVA ranges unmap <paramref name="unmapIndex"/> clears: the traced range cut by the maps it covers,
    /// each piece moved to where its map was placed, neighbours in the same place merged. Ranges no map covers
    /// (the kernel unmapped nothing there) are left out.
    /// </summary>
    public IReadOnlyList<UnmapRange> UnmapRanges(int unmapIndex)
    {
        var e = _events[unmapIndex];
        var pieces = new List<(ulong Start, ulong End, int Map, ulong Delta)>();
        lock (_lock)
        {
            foreach (var m in _covers[unmapIndex])
            {
                var map = _events[m];
                var start = Math.Max(map.Iova, e.Iova);
                var end = Math.Min(map.End, e.End);
                pieces.Add((start, end, m, _actualIova[m] ^ map.Iova));
            }
        }
        pieces.Sort((a, b) => a.Start.CompareTo(b.Start));
        var ranges = new List<UnmapRange>();
        var i = 0;
        while (i < pieces.Count)
        {
            var (start, end, _, delta) = pieces[i];
            var maps = ImmutableArray.CreateBuilder<int>();
            maps.Add(pieces[i].Map);
            var j = i + 1;
            while (j < pieces.Count && pieces[j].Start == end && pieces[j].Delta == delta)
            {
                end = pieces[j].End;
                maps.Add(pieces[j].Map);
                j++;
            }
            ranges.Add(new UnmapRange(start ^ delta, end - start, maps.ToImmutable()));
            i = j;
        }
        return ranges;
    }

    /// <summary>The IOVA range went back to the allocator (strict: after the flush; lazy: when its flush-queue entry is freed).</summary>
    public void ReleaseIova(ulong iova, ulong bytes)
    {
        List<Action>? wake;
        lock (_lock)
        {
            for (var p = iova; p < iova + bytes; p += 4096)
                _busyPages.Remove(p);
            wake = TakeWaiters();
        }
        Wake(wake);
    }

    private bool RangeFree(ulong iova, ulong bytes)
    {
        for (var p = iova; p < iova + bytes; p += 4096)
        {
            if (_busyPages.Contains(p))
                return false;
        }
        return true;
    }

    /// <summary>Under the lock: may event <paramref name="i"/> start?</summary>
    private bool CanStart(int i)
    {
        if (Ordering == TraceOrdering.Global && _passedPrefix < i)
            return false;
        var e = _events[i];
        if (e.Kind == IommuEventKind.Unmap)
        {
            var ready = true;
            foreach (var m in _covers[i])
            {
                if (_state[m] < Passed || _dmaOutstanding[m] > 0)
                {
                    if (_state[m] >= Passed)
                        _unmapWaiting[m] = true;
                    ready = false;
                }
            }
            return ready;
        }
        var need = _strict ? Done : Passed;
        foreach (var u in _deps[i])
        {
            if (_state[u] < need)
                return false;
        }
        return true;
    }

    private List<Action>? TakeWaiters()
    {
        List<Action>? wake = null;
        for (var v = 0; v < _waiting.Length; v++)
        {
            if (!_waiting[v] || _wake[v] is not { } w)
                continue;
            _waiting[v] = false;
            (wake ??= new()).Add(w);
        }
        return wake;
    }

    private static void Wake(List<Action>? wake)
    {
        if (wake is null)
            return;
        foreach (var w in wake)
            w();
    }

    /// <summary>
    /// The static plan, in one pass over the events by 4 KiB page: each unmap covers the maps live on its pages; each
    /// map depends on the unmaps that last cleared its pages; a map whose pages are still live (the trace lost the
    /// unmap) simply replaces them.
    /// </summary>
    private static (int[][] Deps, int[][] Covers, int[] UnmapOf) Plan(ImmutableArray<IommuTraceEvent> events)
    {
        var n = events.Length;
        var deps = new int[n][];
        var covers = new int[n][];
        var unmapOf = Enumerable.Repeat(-1, n).ToArray();
        var liveMapOfPage = new Dictionary<ulong, int>();
        var lastUnmapOfPage = new Dictionary<ulong, int>();
        for (var i = 0; i < n; i++)
        {
            var e = events[i];
            var set = new SortedSet<int>();
            if (e.Kind == IommuEventKind.Map)
            {
                for (var p = e.Iova; p < e.End; p += 4096)
                {
                    if (lastUnmapOfPage.TryGetValue(p, out var u))
                        set.Add(u);
                    liveMapOfPage[p] = i;
                }
                deps[i] = set.ToArray();
                covers[i] = [];
            }
            else
            {
                for (var p = e.Iova; p < e.End; p += 4096)
                {
                    if (liveMapOfPage.Remove(p, out var m))
                        set.Add(m);
                    lastUnmapOfPage[p] = i;
                }
                covers[i] = set.ToArray();
                deps[i] = covers[i];
                foreach (var m in covers[i])
                    unmapOf[m] = i;
            }
        }
        return (deps, covers, unmapOf);
    }
}
