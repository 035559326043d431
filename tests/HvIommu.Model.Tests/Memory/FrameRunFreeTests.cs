using HvIommu.Model.Memory;

namespace HvIommu.Model.Tests.Memory;

/// <summary>
/// A DMA buffer goes back to the guest allocator as runs of consecutive frames under one lock
/// (<see cref="FrameAllocator.FreeRun"/>): the allocator must end exactly as after one <see cref="FrameAllocator.Free"/>
/// per frame, lowest first — the same free list order, generations and hugetlb pool — since the next allocations and
/// the oracle's generation checks read them.
/// </summary>
[Trait("Category", "Model")]
public sealed class FrameRunFreeTests
{
    private const ulong Base = 0x10_0000;
    private const ulong Frames = 64;
    private const ulong Bytes = Base + (Frames << GuestMemory.PageShift) + (8UL << 21);
    private const ulong Page = GuestMemory.PageSize;

    [Fact]
    public void Freeing_a_run_leaves_the_allocator_as_freeing_its_frames_one_by_one_lowest_first()
    {
        var (single, singleBuffer, singleHuge) = Churned();
        var (run, runBuffer, runHuge) = Churned();
        Assert.Equal(singleBuffer, runBuffer);
        Assert.Equal(singleHuge, runHuge);

        for (var f = 0UL; f < 6; f++)
            single.Free(singleBuffer + f * Page);
        for (var f = 0UL; f < 512; f++)
            single.Free(singleHuge + f * Page);
        run.FreeRun(runBuffer, 6);
        run.FreeRun(runHuge, 512);

        Assert.Equal(single.FreeCount, run.FreeCount);
        Assert.Equal(single.HugePagesFree(1UL << 21), run.HugePagesFree(1UL << 21));
        for (var f = 0UL; f < 512; f++)
            Assert.Equal(single.GetInfo(singleHuge + f * Page), run.GetInfo(runHuge + f * Page));
        // The next allocations take the freed frames back in the same (LIFO) order, with the same generations.
        for (var i = 0; i < 10; i++)
        {
            var a = single.Allocate(FrameOwner.DmaBuffer, 2);
            var b = run.Allocate(FrameOwner.DmaBuffer, 2);
            Assert.Equal(a, b);
            Assert.Equal(single.GetInfo(a), run.GetInfo(b));
        }
        Assert.True(single.TryAllocateHuge(1UL << 21, FrameOwner.DmaBuffer, 3, out var hugeA));
        Assert.True(run.TryAllocateHuge(1UL << 21, FrameOwner.DmaBuffer, 3, out var hugeB));
        Assert.Equal(hugeA, hugeB);
    }

    [Fact]
    public void A_run_holding_a_free_frame_is_a_double_free_at_that_frame_with_the_frames_below_it_freed()
    {
        var (frames, buffer, _) = Churned();
        frames.Free(buffer + 2 * Page);
        var error = Assert.Throws<InvalidOperationException>(() => frames.FreeRun(buffer, 6));
        Assert.Contains($"0x{buffer + 2 * Page:x}", error.Message);
        Assert.Equal(FrameOwner.Free, frames.GetInfo(buffer).Owner);
        Assert.Equal(FrameOwner.Free, frames.GetInfo(buffer + Page).Owner);
        Assert.Equal(FrameOwner.DmaBuffer, frames.GetInfo(buffer + 3 * Page).Owner);
    }

    // Six consecutive buffer frames (a new allocator hands frames out in ascending order), a 2 MiB huge page, then some
    // churn, so the free list the run's frames go onto is not in its first order.
    private static (FrameAllocator Frames, ulong Buffer, ulong Huge) Churned()
    {
        var frames = new FrameAllocator(new GuestMemory(Bytes), Base, Frames + 1536, hugePages2M: 2);
        var buffer = frames.Allocate(FrameOwner.DmaBuffer, 1);
        for (var f = 1UL; f < 6; f++)
            Assert.Equal(buffer + f * Page, frames.Allocate(FrameOwner.DmaBuffer, 1));
        Assert.True(frames.TryAllocateHuge(1UL << 21, FrameOwner.DmaBuffer, 1, out var huge));
        var churn = Enumerable.Range(0, 5).Select(_ => frames.Allocate(FrameOwner.Kernel, 0)).ToList();
        frames.Free(churn[3]);
        frames.Free(churn[1]);
        return (frames, buffer, huge);
    }
}
