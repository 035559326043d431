namespace HvIommu.Model.Randomness;

/// <summary>
/// The simulator's only source of randomness: xoshiro256** seeded through SplitMix64. Its sequence is
/// fixed by this code, not by the .NET runtime (System.Random's algorithm may change between versions),
/// so a seed reproduces a run on any machine. One master seed derives a sub-seed per subsystem and per
/// actor by name (<see cref="Derive(string)"/>), so adding an actor does not shift everybody else's
/// sequence. Not thread-safe: each actor owns its own instance.
/// </summary>
public sealed class SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SeededRandom(ulong seed) => Reseed(seed);

    /// <summary>The seed this generator was created or last reseeded with.</summary>
    public ulong Seed { get; private set; }

    /// <summary>Restarts the sequence as a new generator of <paramref name="seed"/> would (a component reset for reuse).</summary>
    public void Reseed(ulong seed)
    {
        Seed = seed;
        var sm = seed;
        _s0 = SplitMix64(ref sm);
        _s1 = SplitMix64(ref sm);
        _s2 = SplitMix64(ref sm);
        _s3 = SplitMix64(ref sm);
    }

    /// <summary>A sub-seed for a named subsystem or actor: depends only on this generator's seed and the name.</summary>
    public static ulong DeriveSeed(ulong seed, string name)
    {
        // FNV-1a over the UTF-16 code units, mixed with the parent seed through SplitMix64.
        var h = 0xcbf29ce484222325UL;
        foreach (var c in name)
        {
            h ^= c;
            h *= 0x100000001b3UL;
        }
        var x = seed ^ h;
        return SplitMix64(ref x);
    }

    public SeededRandom Derive(string name) => new(DeriveSeed(Seed, name));

    public ulong NextUInt64()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, <paramref name="maxExclusive"/>) without modulo bias (Lemire's method).</summary>
    public ulong NextUInt64(ulong maxExclusive)
    {
        if (maxExclusive == 0)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), "must be positive");
        var x = NextUInt64();
        var m = Math.BigMul(x, maxExclusive, out var low);
        if (low < maxExclusive)
        {
            var threshold = (0 - maxExclusive) % maxExclusive;
            while (low < threshold)
            {
                x = NextUInt64();
                m = Math.BigMul(x, maxExclusive, out low);
            }
        }
        return m;
    }

    /// <summary>Uniform in [0, <paramref name="maxExclusive"/>).</summary>
    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, "must be positive");
        return (int)NextUInt64((ulong)maxExclusive);
    }

    /// <summary>Uniform in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>).</summary>
    public long NextInRange(long minInclusive, long maxExclusive)
    {
        if (maxExclusive <= minInclusive)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), "empty range");
        return minInclusive + (long)NextUInt64((ulong)(maxExclusive - minInclusive));
    }

    /// <summary>Uniform in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>True with probability <paramref name="probability"/> (0 never, 1 always, and no draw is spent on either).</summary>
    public bool Chance(double probability) => probability > 0 && (probability >= 1 || NextDouble() < probability);

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
