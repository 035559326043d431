using System.Collections.Immutable;
using HvIommu.Model.Randomness;

namespace HvIommu.Model.Workload;

/// <summary>
/// The synthetic workload's choices (hviommu.workload, brief §5.2): whether it runs, which device each operation's
/// buffer is for, and how large the buffer is. The draws come from the vCPU's own <see cref="SeededRandom"/>, in this
/// order per operation: the device (<see cref="PickDevice"/>), then the size (<see cref="BufferPages"/>).
/// </summary>
public static class SyntheticWorkload
{
    /// <summary>The synthetic workload runs when a device other than the replayed trace's (<paramref name="traceDevice"/>,
    /// −1 when none) is managed by the pvIOMMU (the others got -ENODEV at probe, H13/H16).</summary>
    public static bool Runs(IReadOnlyList<bool> managed, int traceDevice)
    {
        for (var i = 0; i < managed.Count; i++)
            if (managed[i] && i != traceDevice)
                return true;
        return false;
    }

    /// <summary>The device of the next operation: uniform over the devices, redrawn until it is a managed one that is not the
    /// replayed trace's. Throws <see cref="InvalidOperationException"/> when there is none (check <see cref="Runs"/> first).</summary>
    public static int PickDevice(SeededRandom random, IReadOnlyList<bool> managed, int traceDevice)
    {
        if (!Runs(managed, traceDevice))
            throw new InvalidOperationException("no managed device for the synthetic workload");
        while (true)
        {
            var i = random.Next(managed.Count);
            if (managed[i] && i != traceDevice)
                return i;
        }
    }

    /// <summary>The next buffer's size in 4 KiB pages: <paramref name="fixedPages"/> (hviommu.workload.buffer-pages) when
    /// positive, else an entry of the buffer-size mix <paramref name="sizes"/> drawn uniformly, then a size in it
    /// (<see cref="BufferSizeRange.Pick"/>). Takes the two settings rather than the settings record, so that Workload does
    /// not depend on Settings (which depends on Workload).</summary>
    public static int BufferPages(int fixedPages, ImmutableArray<BufferSizeRange> sizes, SeededRandom random) =>
        fixedPages > 0 ? fixedPages : sizes[random.Next(sizes.Length)].Pick(random);
}
