namespace HvIommu.Actors.Tracing;

/// <summary>
/// A message's name and key fields for the trace (descriptor, domain, flush, transaction ids), as the message
/// gives them (<see cref="ITracedMessage"/>): no reflection, so recording stays cheap. Other messages are named by type.
/// </summary>
public static class TraceNames
{
    /// <summary>The oracle serials of the mappings an unmap clears, as runs: <c>mappings #17-#20 #25</c> (a large buffer
    /// is one run), so a story can find the unmap of the mapping a violation names.</summary>
    public static string Mappings(IEnumerable<HvIommu.Model.Mappings.MappingRecord> records)
    {
        var serials = records.Select(r => r.Serial).Order().ToList();
        var sb = new System.Text.StringBuilder("mappings");
        for (var i = 0; i < serials.Count;)
        {
            var j = i;
            while (j + 1 < serials.Count && serials[j + 1] == serials[j] + 1)
                j++;
            sb.Append(" #").Append(serials[i]);
            if (j > i)
                sb.Append("-#").Append(serials[j]);
            i = j + 1;
        }
        return sb.ToString();
    }

    /// <summary>A message's trace name and detail: its own (<see cref="ITracedMessage"/>), else its type's name and no detail.</summary>
    public static (string Name, string Detail) Describe(object message) =>
        message is ITracedMessage traced ? traced.DescribeForTrace() : (message.GetType().Name, "");
}
