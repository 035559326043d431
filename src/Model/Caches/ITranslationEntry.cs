using HvIommu.Model.PageTables;

namespace HvIommu.Model.Caches;

/// <summary>What <see cref="TranslationCache{TEntry}"/> needs of an entry: its page size and the GPA it was derived from.</summary>
internal interface ITranslationEntry
{
    PageSize Size { get; }

    ulong Gpa { get; }
}
