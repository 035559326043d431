using HvIommu.Model.Hypercalls;

namespace HvIommu.Actors.Simulation;

/// <summary>
/// Which vCPUs are blocked in a hypercall and since when — the run's soft-lockup detector. A vCPU marks
/// itself blocked before it traps and resumed when the status returns; the runner asks for calls that
/// have been outstanding longer than the hang timeout and reports each once as HypercallHung.
/// </summary>
public sealed class HypercallWatchdog(int vcpus)
{
    private readonly long[] _sinceNs = new long[vcpus];
    private readonly IHypercallInput?[] _input = new IHypercallInput?[vcpus];
    private readonly bool[] _reported = new bool[vcpus];

    public void Blocked(int vcpu, IHypercallInput input, long nowNs)
    {
        Volatile.Write(ref _input[vcpu], input);
        _reported[vcpu] = false;
        Volatile.Write(ref _sinceNs[vcpu], nowNs + 1);
    }

    public void Resumed(int vcpu) => Volatile.Write(ref _sinceNs[vcpu], 0);

    /// <summary>Calls outstanding for longer than <paramref name="timeoutNs"/> that were not reported yet.</summary>
    public IReadOnlyList<(int Vcpu, IHypercallInput Input)> Overdue(long nowNs, long timeoutNs)
    {
        var result = new List<(int, IHypercallInput)>();
        for (var i = 0; i < _sinceNs.Length; i++)
        {
            var since = Volatile.Read(ref _sinceNs[i]);
            if (since == 0 || _reported[i] || nowNs - (since - 1) < timeoutNs || Volatile.Read(ref _input[i]) is not { } input)
                continue;
            _reported[i] = true;
            result.Add((i, input));
        }
        return result;
    }
}
