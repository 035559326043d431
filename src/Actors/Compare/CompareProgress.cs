using Spectre.Console;

namespace HvIommu.Actors.Compare;

/// <summary>
/// Progress of a comparison: a live Spectre.Console bar over the variants on an interactive terminal (which one is
/// running, how many are done), one plain line per variant otherwise (CI logs).
/// </summary>
public sealed class CompareProgress : IDisposable
{
    private readonly TextWriter _plain;
    private readonly int _total;
    private readonly Task? _rendering;
    private readonly TaskCompletionSource? _stop;
    private readonly ProgressTask? _bar;

    public CompareProgress(TextWriter plain, bool live, int variants)
    {
        _plain = plain;
        _total = variants;
        if (!live)
            return;
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource<ProgressTask>(TaskCreationOptions.RunContinuationsAsynchronously);
        _stop = stop;
        _rendering = AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var bar = context.AddTask("variants", maxValue: Math.Max(1, variants));
                started.SetResult(bar);
                await stop.Task;
                bar.StopTask();
            });
        if (Task.WhenAny(started.Task, _rendering).GetAwaiter().GetResult() == started.Task)
            _bar = started.Task.Result;
    }

    /// <summary>Variant <paramref name="name"/> starts; <paramref name="done"/> are finished.</summary>
    public void Starting(int done, string name)
    {
        if (_bar is not null)
        {
            _bar.Value = done;
            _bar.Description = Markup.Escape($"variant {done + 1}/{_total}: {name}");
            return;
        }
        _plain.WriteLine($"  [{done + 1}/{_total}] {name} …");
    }

    /// <summary>A variant finished after <paramref name="seconds"/> of wall time.</summary>
    public void Finished(int done, string name, double seconds, long violations)
    {
        if (_bar is not null)
        {
            _bar.Value = done;
            return;
        }
        _plain.WriteLine($"  [{done}/{_total}] {name}: {seconds:0.0} s, {violations} violation(s)");
    }

    public void Dispose()
    {
        _stop?.TrySetResult();
        _rendering?.GetAwaiter().GetResult();
    }
}
