namespace HvIommu.Model.Tests;

/// <summary>
/// What a hot path allocates in steady state, on this thread: a round is run up to three times and the first that
/// allocates nothing answers 0. The runtime's tiered compilation may promote a method mid-round (late, on a loaded
/// machine) and allocate while doing so, once; an allocation the code itself makes recurs every round and is returned.
/// </summary>
internal static class SteadyAllocation
{
    /// <summary>Bytes the last of up to <paramref name="rounds"/> runs of <paramref name="round"/> allocated on this thread; 0 as soon as one allocates nothing.</summary>
    public static long Bytes(Action round, int rounds = 3)
    {
        var bytes = 0L;
        for (var i = 0; i < rounds; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            round();
            bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            if (bytes == 0)
                return 0;
        }
        return bytes;
    }
}
