using HvIommu.Model.Randomness;

namespace HvIommu.Model.Caches;

/// <summary>
/// The storage engine behind the IOMMU caches (brief §4): a bounded map split into shards by key hash, each
/// under its own lock, so device actors looking up and the flush handler invalidating rarely meet. Capacity
/// is divided among the shards, which therefore behave like the sets of a set-associative hardware cache:
/// a full shard evicts even if another has room.
/// <para>
/// Victims are chosen at random from a <see cref="SeededRandom"/> per shard. Real IOTLB replacement policies
/// are undocumented (pseudo-LRU at best); random replacement needs no bookkeeping on the lookup path (LRU would
/// turn every hit into a write), avoids pathological patterns, and — because it is seeded — a run replays the
/// same evictions from the same seed while different seeds vary how long a stale entry survives. Replay is
/// exact for a given order of operations per shard; concurrent callers make that order depend on scheduling.
/// </para>
/// </summary>
internal sealed class ShardedCache<TKey, TValue>
    where TKey : struct, IEquatable<TKey>, IDomainKey
{
    private const int MaxShards = 32;
    private readonly CacheShard<TKey, TValue>[] _shards;
    private readonly int _shardShift;

    public ShardedCache(int capacity, SeededRandom random)
    {
        if (capacity <= 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a cache holds at least one entry");
        Capacity = capacity;
        var shardCount = Math.Min(MaxShards, (int)BitOperationsFloorPow2(capacity));
        _shardShift = 32 - Log2(shardCount);
        _shards = new CacheShard<TKey, TValue>[shardCount];
        for (var i = 0; i < shardCount; i++)
        {
            var shardCapacity = capacity / shardCount + (i < capacity % shardCount ? 1 : 0);
            _shards[i] = new CacheShard<TKey, TValue>(shardCapacity, new SeededRandom(ShardSeed(random.Seed, i)));
        }
    }

    // Shard i's generator is random.Derive("shard" + i); the names are formatted once per process, not once per
    // cache (an explorer builds two caches of up to 32 shards per schedule).
    private static readonly string[] ShardNames = Enumerable.Range(0, MaxShards).Select(i => $"shard{i}").ToArray();

    private static ulong ShardSeed(ulong seed, int shard) => SeededRandom.DeriveSeed(seed, ShardNames[shard]);

    public int Capacity { get; }

    public int ShardCount => _shards.Length;

    public int Count
    {
        get
        {
            var count = 0;
            foreach (var shard in _shards)
                count += shard.Count;
            return count;
        }
    }

    public CacheShard<TKey, TValue> ShardOf(in TKey key)
    {
        // Fibonacci hashing on the top bits: independent of the low bits the dictionary buckets use.
        var h = (uint)key.GetHashCode() * 0x9E3779B9u;
        return _shards[_shardShift == 32 ? 0 : (int)(h >> _shardShift)];
    }

    public bool TryGet(in TKey key, out TValue value) => ShardOf(key).TryGet(key, out value);

    public void Set(in TKey key, TValue value) => ShardOf(key).Set(key, value);

    /// <param name="removing">Shown each entry about to be removed (under the shard's lock).</param>
    public bool Remove(in TKey key, Action<TValue>? removing = null) => ShardOf(key).Remove(key, removing);

    public int RemoveWhere<TState>(TState state, Func<TState, TKey, TValue, bool> predicate, Action<TValue>? removing = null)
    {
        var removed = 0;
        foreach (var shard in _shards)
            removed += shard.RemoveWhere(state, predicate, removing);
        return removed;
    }

    public int RemoveDomain(uint domain, Action<TValue>? removing = null)
    {
        var removed = 0;
        foreach (var shard in _shards)
            removed += shard.RemoveDomain(domain, removing);
        return removed;
    }

    public int Clear() => RemoveWhere(0, static (_, _, _) => true);

    public void CountMiss(in TKey key) => Interlocked.Increment(ref ShardOf(key).Misses);

    /// <summary>Empties every shard and reseeds it from <paramref name="random"/> as the constructor would: the cache
    /// then behaves exactly as <c>new ShardedCache(Capacity, random)</c> (an explorer reuses it across schedules).</summary>
    public void Reset(SeededRandom random)
    {
        for (var i = 0; i < _shards.Length; i++)
            _shards[i].Reset(ShardSeed(random.Seed, i));
    }

    /// <summary>The shards' counters summed (one snapshot object, not one per shard: a report reads it per schedule).</summary>
    public CacheStats Stats()
    {
        long hits = 0, misses = 0, fills = 0, evictions = 0, invalidated = 0;
        foreach (var shard in _shards)
            shard.AddStats(ref hits, ref misses, ref fills, ref evictions, ref invalidated);
        return new CacheStats(hits, misses, fills, evictions, invalidated);
    }

    private static uint BitOperationsFloorPow2(int value) => 1u << Log2(value);

    private static int Log2(int value) => System.Numerics.BitOperations.Log2((uint)value);
}
