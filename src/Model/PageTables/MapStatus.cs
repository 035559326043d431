namespace HvIommu.Model.PageTables;

/// <summary>Outcome of one stage-1 map (generic_pt <c>map_pages</c> return codes, brief §3, §3.1).</summary>
public enum MapStatus
{
    /// <summary>The leaf was written (0).</summary>
    Mapped,
    /// <summary>A leaf, or a table holding leaves, already covers part of the range (-EADDRINUSE).</summary>
    AlreadyMapped,
    /// <summary>The IOVA range or the GPA lies beyond the table's width (-ERANGE, hazard H15).</summary>
    OutOfRange,
    /// <summary>IOVA or GPA not aligned to the page size (-EINVAL).</summary>
    Misaligned,
    /// <summary>No frame for an intermediate table (-ENOMEM).</summary>
    NoMemory,
}
