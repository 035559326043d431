namespace HvIommu.Actors.Bench;

/// <summary>A rate measured cold and warm: <see cref="Cold"/> over the first block of work, <see cref="Warm"/> over the
/// first later block less than 10 % faster than the block before it (at most the ninth), and <see cref="WarmUp"/>
/// units of work run before that block (the start, the cold block and the blocks between).</summary>
/// <param name="Cold">Units per second (schedules/s) over the first block.</param>
/// <param name="Warm">Units per second over the warm block.</param>
/// <param name="WarmUp">Units run before the warm block.</param>
public sealed record WarmThroughput(double Cold, double Warm, long WarmUp)
{
    /// <summary>At most this many blocks after the cold one; the last is taken as warm even if it still sped up.</summary>
    public const int MaxWarmUpBlocks = 8;

    /// <summary>Runs blocks of <paramref name="n"/> units (<paramref name="block"/> runs one and returns its rate) until one
    /// is less than 10 % faster than the block before it. The runtime's tiered JIT takes thousands of the simulator's
    /// schedules to finish optimizing its code, so a first block after a short start measures mostly the compiler; the
    /// same rule is applied to every tool compared (the Coyote anchor uses it for both).</summary>
    /// <param name="block">Runs <c>n</c> units and returns units per second.</param>
    /// <param name="n">Units per block (≥ 1).</param>
    /// <param name="alreadyRun">Units run before the first block (a start), counted in <see cref="WarmUp"/>.</param>
    public static WarmThroughput Measure(Func<long, double> block, long n, long alreadyRun)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var cold = block(n);
        var (previous, warmUp) = (cold, alreadyRun + n);
        for (var i = 1; ; i++)
        {
            var rate = block(n);
            if (rate < previous * 1.1 || i == MaxWarmUpBlocks)
                return new WarmThroughput(cold, rate, warmUp);
            (previous, warmUp) = (rate, warmUp + n);
        }
    }
}
