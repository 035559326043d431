using HvIommu.Model.Randomness;

namespace HvIommu.Model.Caches;

/// <summary>
/// One set of a <see cref="ShardedCache{TKey,TValue}"/>: a dictionary from key to slot plus dense key/value
/// arrays, so a random victim is one draw and a removal is a swap with the last slot. Every access holds
/// the shard's lock; counters are bumped with <see cref="Interlocked"/> so a snapshot may be taken at any time.
/// </summary>
internal sealed class CacheShard<TKey, TValue>
    where TKey : struct, IEquatable<TKey>, IDomainKey
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TKey, int> _slotByKey;
    private readonly TKey[] _keys;
    private readonly TValue[] _values;
    private readonly SeededRandom _random;
    // Each domain's slots form a doubly linked list, so a domain invalidation visits only that domain's
    // entries instead of scanning the shard (a flush per unmap would otherwise cost a full cache scan).
    private readonly int[] _next;
    private readonly int[] _prev;
    private readonly Dictionary<uint, int> _headByDomain = new();
    // Bit (domain mod 64) is set while some domain with that bit has an entry here: a domain invalidation skips the
    // shard without its lock when the bit is clear (a flush visits every shard of the IOTLB and the walk cache).
    private long _domainBits;
    private int _count;

    public long Hits, Misses, Fills, Evictions, Invalidated;

    public CacheShard(int capacity, SeededRandom random)
    {
        Capacity = capacity;
        _slotByKey = new Dictionary<TKey, int>(capacity);
        _keys = new TKey[capacity];
        _values = new TValue[capacity];
        _next = new int[capacity];
        _prev = new int[capacity];
        _random = random;
    }

    public int Capacity { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Looks up, counting a hit when found. A miss is not counted here: a logical lookup may probe several
    /// keys (one per page size or level) and its owner counts one miss when all of them fail.
    /// </summary>
    public bool TryGet(in TKey key, out TValue value)
    {
        lock (_lock)
        {
            if (_slotByKey.TryGetValue(key, out var slot))
            {
                value = _values[slot];
                Interlocked.Increment(ref Hits);
                return true;
            }
        }
        value = default!;
        return false;
    }

    /// <summary>Inserts or replaces; when the shard is full a victim chosen by the shard's seeded random leaves.</summary>
    public void Set(in TKey key, TValue value)
    {
        Interlocked.Increment(ref Fills);
        if (Capacity == 0)
            return;
        lock (_lock)
        {
            if (_slotByKey.TryGetValue(key, out var existing))
            {
                _values[existing] = value;
                return;
            }
            if (_count == Capacity)
            {
                RemoveAt(_random.Next(_count));
                Interlocked.Increment(ref Evictions);
            }
            var slot = _count;
            _keys[slot] = key;
            _values[slot] = value;
            _slotByKey.Add(key, slot);
            Link(slot);
            Volatile.Write(ref _count, slot + 1);
        }
    }

    public bool Remove(in TKey key, Action<TValue>? removing = null)
    {
        lock (_lock)
        {
            if (!_slotByKey.TryGetValue(key, out var slot))
                return false;
            removing?.Invoke(_values[slot]);
            RemoveAt(slot);
        }
        Interlocked.Increment(ref Invalidated);
        return true;
    }

    /// <summary>Removes every entry the predicate selects; returns how many.</summary>
    public int RemoveWhere<TState>(TState state, Func<TState, TKey, TValue, bool> predicate, Action<TValue>? removing = null)
    {
        var removed = 0;
        lock (_lock)
        {
            // Downward, so the entry swapped into slot i has already been examined and kept.
            for (var i = _count - 1; i >= 0; i--)
            {
                if (predicate(state, _keys[i], _values[i]))
                {
                    removing?.Invoke(_values[i]);
                    RemoveAt(i);
                    removed++;
                }
            }
        }
        if (removed > 0)
            Interlocked.Add(ref Invalidated, removed);
        return removed;
    }

    /// <summary>Removes every entry of one domain, visiting only that domain's entries.</summary>
    /// <remarks>A shard holding no entry of the domain is skipped without taking its lock: an entry being filled
    /// meanwhile is then filled after the invalidation, as it would be had the lock been taken first. A flush bumps the
    /// domain's epoch (a full fence) before it reads the bit, and a fill sets the bit with a full fence before it reads
    /// the epoch, so at least one of them sees the other: the flush takes the lock and removes the entry, or the
    /// translator sees the new epoch and invalidates what it filled (IommuTranslator).</remarks>
    public int RemoveDomain(uint domain, Action<TValue>? removing = null)
    {
        if ((Volatile.Read(ref _domainBits) & DomainBit(domain)) == 0)
            return 0;
        var removed = 0;
        lock (_lock)
        {
            while (_headByDomain.TryGetValue(domain, out var slot))
            {
                removing?.Invoke(_values[slot]);
                RemoveAt(slot);
                removed++;
            }
        }
        if (removed > 0)
            Interlocked.Add(ref Invalidated, removed);
        return removed;
    }

    /// <summary>
    /// Empties the shard, zeroes its counters and reseeds its victim generator with <paramref name="seed"/>: it then
    /// behaves exactly as a new shard of the same capacity built with that seed (the dictionaries are only probed,
    /// never enumerated, so their retained capacity changes nothing observable).
    /// </summary>
    public void Reset(ulong seed)
    {
        lock (_lock)
        {
            Array.Clear(_keys, 0, _count);
            Array.Clear(_values, 0, _count);
            _slotByKey.Clear();
            _headByDomain.Clear();
            Volatile.Write(ref _domainBits, 0);
            Volatile.Write(ref _count, 0);
            Hits = Misses = Fills = Evictions = Invalidated = 0;
            _random.Reseed(seed);
        }
    }

    public CacheStats Stats() => new(
        Interlocked.Read(ref Hits), Interlocked.Read(ref Misses), Interlocked.Read(ref Fills),
        Interlocked.Read(ref Evictions), Interlocked.Read(ref Invalidated));

    /// <summary>Adds this shard's counters to the running sums (<see cref="ShardedCache{TKey, TValue}.Stats"/>).</summary>
    public void AddStats(ref long hits, ref long misses, ref long fills, ref long evictions, ref long invalidated)
    {
        hits += Interlocked.Read(ref Hits);
        misses += Interlocked.Read(ref Misses);
        fills += Interlocked.Read(ref Fills);
        evictions += Interlocked.Read(ref Evictions);
        invalidated += Interlocked.Read(ref Invalidated);
    }

    private void RemoveAt(int slot)
    {
        Unlink(slot);
        _slotByKey.Remove(_keys[slot]);
        var last = _count - 1;
        if (slot != last)
        {
            _keys[slot] = _keys[last];
            _values[slot] = _values[last];
            _slotByKey[_keys[slot]] = slot;
            Move(last, slot);
        }
        _keys[last] = default;
        _values[last] = default!;
        Volatile.Write(ref _count, last);
    }

    private void Link(int slot)
    {
        var domain = _keys[slot].Domain;
        var head = _headByDomain.TryGetValue(domain, out var h) ? h : -1;
        _next[slot] = head;
        _prev[slot] = -1;
        if (head >= 0)
            _prev[head] = slot;
        else
            Interlocked.Or(ref _domainBits, DomainBit(domain)); // a full fence: see RemoveDomain
        _headByDomain[domain] = slot;
    }

    private void Unlink(int slot)
    {
        var (prev, next) = (_prev[slot], _next[slot]);
        if (prev >= 0)
            _next[prev] = next;
        else if (next >= 0)
            _headByDomain[_keys[slot].Domain] = next;
        else
            DomainEmptied(_keys[slot].Domain);
        if (next >= 0)
            _prev[next] = prev;
    }

    private static long DomainBit(uint domain) => 1L << (int)(domain & 63);

    /// <summary>The shard's last entry of <paramref name="domain"/> left: its bit clears unless another domain here shares it.</summary>
    private void DomainEmptied(uint domain)
    {
        _headByDomain.Remove(domain);
        var bit = DomainBit(domain);
        foreach (var other in _headByDomain.Keys)
            if (DomainBit(other) == bit)
                return;
        Volatile.Write(ref _domainBits, _domainBits & ~bit);
    }

    /// <summary>The entry at <paramref name="from"/> now lives at <paramref name="to"/>: re-point its neighbours.</summary>
    private void Move(int from, int to)
    {
        var (prev, next) = (_prev[from], _next[from]);
        _prev[to] = prev;
        _next[to] = next;
        if (prev >= 0)
            _next[prev] = to;
        else
            _headByDomain[_keys[to].Domain] = to;
        if (next >= 0)
            _prev[next] = to;
    }
}
