namespace HvIommu.Actors.Sweep;

/// <summary>Runs a <see cref="SweepState"/> on a pool to the end, showing progress over cells and schedules.</summary>
public static class ExplorationDriver
{
    /// <returns>Null when the run completed (or stopped at a violation); otherwise what broke the pool.</returns>
    /// <param name="banner">Printed once the pool has started (a cluster's address is known then).</param>
    /// <param name="cancel">Ctrl-C: the state is <see cref="SweepState.Interrupt">interrupted</see> and the pool stopped;
    /// an interrupt that came before the pool started starts none.</param>
    public static string? Drive(SweepState state, IExplorerPool pool, TextWriter stdout, bool plain, long? schedules, Action? banner = null, CancellationToken cancel = default)
    {
        using var interrupt = cancel.Register(state.Interrupt);
        if (state.Stopped)
            return null;
        pool.Start(state);
        banner?.Invoke();
        using (var progress = new SweepProgress(stdout, !plain && Reporting.RunProgressFactory.IsInteractiveTerminal, state.Job.Cells(), schedules, state.Job.Stress))
        {
            while (!pool.Wait(TimeSpan.FromMilliseconds(200)))
            {
                var t = state.Totals();
                progress.Update(t.CellsDone, t.Schedules, t.WithViolations, state.Elapsed, pool.Status.Length > 0 ? "; " + pool.Status : "");
            }
            state.Seal();
            var f = state.Totals();
            progress.Update(f.CellsDone, f.Schedules, f.WithViolations, state.Elapsed + TimeSpan.FromSeconds(1), pool.Status.Length > 0 ? "; " + pool.Status : "");
        }
        return pool.Crash;
    }
}
