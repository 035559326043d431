using HvIommu.Model.PageTables;

namespace HvIommu.Model.Caches;

/// <summary>
/// Tag of a cached translation: domain id, page size and the IOVA page number at that size (IOVA &gt;&gt; shift).
/// A 2 MiB entry and a 4 KiB entry for the same IOVA have different tags, as in hardware.
/// </summary>
internal readonly struct TranslationKey(uint domain, PageSize size, ulong pageNumber) : IEquatable<TranslationKey>, IDomainKey
{
    public uint Domain { get; } = domain;
    public readonly PageSize Size = size;
    public readonly ulong PageNumber = pageNumber;

    /// <summary>First and last 4 KiB page covered.</summary>
    public ulong FirstPage4K => PageNumber << (Size.Shift() - 12);

    public ulong LastPage4K => FirstPage4K + ((1UL << (Size.Shift() - 12)) - 1);

    public bool Equals(TranslationKey other) =>
        PageNumber == other.PageNumber && Domain == other.Domain && Size == other.Size;

    public override bool Equals(object? obj) => obj is TranslationKey other && Equals(other);

    public override int GetHashCode() => CacheKeyHash.Mix(Domain, (int)Size, PageNumber);
}
