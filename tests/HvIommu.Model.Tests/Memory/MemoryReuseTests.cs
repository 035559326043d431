using HvIommu.Model.Memory;

namespace HvIommu.Model.Tests.Memory;

/// <summary>
/// An explorer resets the guest memory and frame allocator of its previous schedule instead of allocating new ones,
/// and a stage 2 builds its per-frame table only when the host first moves a frame: each must be indistinguishable
/// from a new one — the same bytes, the same frames handed out in the same order with the same generations, the
/// same translations.
/// </summary>
[Trait("Category", "Model")]
public sealed class MemoryReuseTests
{
    private const ulong Base = 0x10_0000;
    private const ulong Frames = 64;
    private const ulong Bytes = Base + (Frames << GuestMemory.PageShift) + (8UL << 21);

    [Fact]
    public void A_reset_memory_reads_zero_everywhere_it_was_written()
    {
        var memory = new GuestMemory(Bytes);
        memory.Store64(0x2008, 0xdead_beef);
        memory.FillFrame(Base, 0x5555_5555_5555_5555);
        memory.Write(Base + 0xff8, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        memory.Reset();
        var read = new byte[0x3000];
        memory.Read(Base, read);
        Assert.All(read, b => Assert.Equal(0, b));
        Assert.Equal(0UL, memory.Load64(0x2008));
        Assert.Equal(0UL, memory.CompareExchange64(0x2008, 0, 7));
        Assert.Equal(7UL, memory.Load64(0x2008));
    }

    [Fact]
    public void A_reset_allocator_hands_out_the_same_frames_and_generations_as_a_new_one()
    {
        var memory = new GuestMemory(Bytes);
        var reused = new FrameAllocator(memory, Base, Frames + 1536, hugePages2M: 2);
        Churn(reused, rounds: 3); // allocate, free out of order, take a huge page and give part of it back
        reused.Reset();
        var fresh = new FrameAllocator(new GuestMemory(Bytes), Base, Frames + 1536, hugePages2M: 2);
        Assert.True(reused.BuiltWith(memory, Base, Frames + 1536, 2, 0));
        Assert.False(reused.BuiltWith(memory, Base, Frames + 1536, 1, 0));
        Assert.Equal((fresh.FreeCount, fresh.HugePagesFree(1UL << 21)), (reused.FreeCount, reused.HugePagesFree(1UL << 21)));
        Assert.Equal(Churn(fresh, rounds: 2), Churn(reused, rounds: 2));
    }

    [Fact]
    public void An_allocator_counts_owners_and_resets_every_frame_whatever_is_left_allocated()
    {
        var memory = new GuestMemory(Bytes);
        var reused = new FrameAllocator(memory, Base, Frames + 1536, hugePages2M: 2);
        var fresh = new FrameAllocator(new GuestMemory(Bytes), Base, Frames + 1536, hugePages2M: 2);
        for (var round = 0; round < 3; round++)
        {
            // Leave frames of both kinds allocated at the reset: half the small frames, most of a huge page.
            var taken = Enumerable.Range(0, 30 + 7 * round).Select(i => reused.Allocate(i % 2 == 0 ? FrameOwner.PageTable : FrameOwner.DmaBuffer, i % 3)).ToList();
            foreach (var g in taken.Where((_, i) => i % 4 == 1))
                reused.Free(g);
            Assert.True(reused.TryAllocateHuge(1UL << 21, FrameOwner.DmaBuffer, 7, out var huge));
            reused.Free(huge + 0x3000);
            Assert.Equal(CountsByScan(reused), Counts(reused));
            reused.Reset();
            Assert.Equal(CountsByScan(fresh), Counts(reused));
            Assert.Equal(Infos(fresh), Infos(reused));
        }
    }

    [Fact]
    public void A_stage2_translates_by_default_backing_until_a_remap_and_exactly_as_before_after_it()
    {
        var stage2 = new Stage2(Bytes);
        Assert.True(stage2.TryTranslate(Base + 0x123, out var hpa));
        Assert.Equal(Base + 0x123 + Stage2.DefaultHostOffset, hpa);
        Assert.True(stage2.TryReverse(hpa, out var gpa));
        Assert.Equal(Base + 0x123, gpa);
        Assert.False(stage2.TryTranslate(Bytes, out _));

        var moved = Stage2.DefaultHostOffset + Bytes + 0x5000;
        Assert.Equal(Base + Stage2.DefaultHostOffset, stage2.Remap(Base, moved));
        Assert.Equal(1, stage2.Version);
        Assert.True(stage2.TryTranslate(Base + 8, out hpa));
        Assert.Equal(moved + 8, hpa);
        Assert.False(stage2.TryReverse(Base + Stage2.DefaultHostOffset, out _));
        Assert.True(stage2.TryReverse(moved + 8, out gpa));
        Assert.Equal(Base + 8, gpa);
        Assert.True(stage2.TryTranslate(Base + 0x1000, out hpa));
        Assert.Equal(Base + 0x1000 + Stage2.DefaultHostOffset, hpa);
        Assert.Throws<InvalidOperationException>(() => Stage2.Flat(Bytes).Remap(Base, moved));
    }

    private static readonly FrameOwner[] Owners = Enum.GetValues<FrameOwner>();

    private static List<int> Counts(FrameAllocator frames) =>
        Owners.SelectMany(o => new[] { frames.CountOwnedBy(o) }.Concat(Enumerable.Range(0, 8).Select(id => frames.CountOwnedBy(o, id)))).ToList();

    /// <summary>What <see cref="Counts"/> must give, read frame by frame.</summary>
    private static List<int> CountsByScan(FrameAllocator frames)
    {
        var infos = Enumerable.Range(0, frames.FrameCount).Select(i => frames.GetInfo(Base + ((ulong)i << GuestMemory.PageShift))).ToList();
        return Owners.SelectMany(o => new[] { infos.Count(f => f.Owner == o) }.Concat(Enumerable.Range(0, 8).Select(id => infos.Count(f => f.Owner == o && f.OwnerId == id)))).ToList();
    }

    private static List<FrameInfo> Infos(FrameAllocator frames) =>
        Enumerable.Range(0, frames.FrameCount).Select(i => frames.GetInfo(Base + ((ulong)i << GuestMemory.PageShift))).ToList();

    /// <summary>Allocates, frees every other frame and the rest in reverse, takes a huge page and frees some of its
    /// frames, each round; returns every GPA handed out and every frame's info seen, in order.</summary>
    private static List<string> Churn(FrameAllocator frames, int rounds)
    {
        var seen = new List<string>();
        for (var round = 0; round < rounds; round++)
        {
            var taken = Enumerable.Range(0, 40).Select(i => frames.Allocate(FrameOwner.DmaBuffer, i, zero: i % 3 == 0)).ToList();
            seen.AddRange(taken.Select(g => $"{g:x}:{frames.GetInfo(g)}"));
            foreach (var g in taken.Where((_, i) => i % 2 == 0))
                frames.Free(g);
            foreach (var g in taken.Where((_, i) => i % 2 == 1).Reverse())
                frames.Free(g);
            if (frames.TryAllocateHuge(1UL << 21, FrameOwner.DmaBuffer, round, out var huge))
            {
                seen.Add($"huge {huge:x}:{frames.GetInfo(huge)}");
                frames.Free(huge);
                frames.Free(huge + 0x1000);
            }
            seen.Add($"free {frames.FreeCount} huge {frames.HugePagesFree(1UL << 21)}");
        }
        return seen;
    }
}
