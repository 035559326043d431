using HvIommu.Model.Randomness;

namespace HvIommu.Model.Caches;

/// <summary>
/// Stage-1 paging-structure (walk) cache (brief §4): for a domain, a level L ≥ 1 and the IOVA bits above L's
/// span, the GPA of the lower table that the entry at L points to. A walker that hits at level L resumes at
/// L−1 with that table. The domain flush drops these (§2.4, "also invalidates non-leaf page-walk caches");
/// a stale pointer to a freed table is hazard H1, so invalidation stays a separate call that a fault knob can skip.
/// Bounded with seeded random replacement; safe for concurrent use.
/// </summary>
public sealed class PagingStructureCache
{
    /// <summary>Highest level an entry can sit at: the PML5E of a 5-level table.</summary>
    public const int MaxLevel = 4;

    private readonly ShardedCache<WalkKey, ulong> _cache;

    /// <param name="capacityEntries">Most entries held at once.</param>
    /// <param name="random">A generator derived for this cache.</param>
    public PagingStructureCache(int capacityEntries, SeededRandom random) => _cache = new(capacityEntries, random);

    public int Capacity => _cache.Capacity;

    public int Count => _cache.Count;

    public CacheStats Stats => _cache.Stats();

    /// <summary>Empties the cache and reseeds its victim choice: afterwards it behaves exactly as
    /// <c>new PagingStructureCache(Capacity, random)</c> (an explorer reuses one across schedules).</summary>
    public void Reset(SeededRandom random) => _cache.Reset(random);

    /// <summary>
    /// The lowest cached level at or below <paramref name="topLevel"/> on the path to <paramref name="iova"/>, and
    /// the GPA of the table its entry points to (the walker continues at <paramref name="level"/> − 1).
    /// </summary>
    public bool TryLookupDeepest(uint domain, ulong iova, int topLevel, out int level, out ulong tableGpa)
    {
        CheckLevel(topLevel, nameof(topLevel));
        for (level = 1; level <= topLevel; level++)
        {
            if (_cache.TryGet(WalkKey.For(domain, level, iova), out tableGpa))
                return true;
        }
        _cache.CountMiss(WalkKey.For(domain, 1, iova));
        level = 0;
        tableGpa = 0;
        return false;
    }

    /// <summary>Remembers that the entry at <paramref name="level"/> on the path to <paramref name="iova"/> points to <paramref name="tableGpa"/>.</summary>
    public void Fill(uint domain, int level, ulong iova, ulong tableGpa)
    {
        CheckLevel(level, nameof(level));
        if ((tableGpa & 0xFFF) != 0)
            throw new ArgumentException($"table GPA 0x{tableGpa:x} is not 4 KiB aligned", nameof(tableGpa));
        _cache.Set(WalkKey.For(domain, level, iova), tableGpa);
    }

    public int InvalidateDomain(uint domain) => _cache.RemoveDomain(domain);

    public int InvalidateAll() => _cache.Clear();

    private static void CheckLevel(int level, string name)
    {
        if (level is < 1 or > MaxLevel)
            throw new ArgumentOutOfRangeException(name, level, $"walk-cache entries sit at levels 1..{MaxLevel}");
    }

    private readonly struct WalkKey(uint domain, int level, ulong prefix) : IEquatable<WalkKey>, IDomainKey
    {
        public uint Domain { get; } = domain;
        private readonly int _level = level;
        private readonly ulong _prefix = prefix;

        /// <summary>The IOVA bits above the span of one entry at <paramref name="level"/> select that entry.</summary>
        public static WalkKey For(uint domain, int level, ulong iova) => new(domain, level, iova >> (12 + 9 * level));

        public bool Equals(WalkKey other) => _prefix == other._prefix && Domain == other.Domain && _level == other._level;

        public override bool Equals(object? obj) => obj is WalkKey other && Equals(other);

        public override int GetHashCode() => CacheKeyHash.Mix(Domain, _level, _prefix);
    }
}
