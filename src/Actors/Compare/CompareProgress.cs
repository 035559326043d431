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
    private readonly Lock _lock = new();
    private readonly List<string> _running = new();
    private int _done;

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

    /// <summary>Variant <paramref name="name"/> starts (variants may run side by side; callable from any thread).</summary>
    public void Starting(string name)
    {
        lock (_lock)
        {
            _running.Add(name);
            if (_bar is not null)
            {
                _bar.Description = Markup.Escape($"{_done}/{_total} done, running {string.Join(", ", _running)}");
                return;
            }
            _plain.WriteLine($"  {name} …");
        }
    }

    /// <summary>A variant finished after <paramref name="seconds"/> of wall time.</summary>
    public void Finished(string name, double seconds, long violations)
    {
        lock (_lock)
        {
            _running.Remove(name);
            _done++;
            if (_bar is not null)
            {
                _bar.Value = _done;
                _bar.Description = Markup.Escape(_running.Count == 0 ? $"{_done}/{_total} done" : $"{_done}/{_total} done, running {string.Join(", ", _running)}");
                return;
            }
            _plain.WriteLine($"  [{_done}/{_total}] {name}: {seconds:0.0} s, {violations} violation(s)");
        }
    }

    public void Dispose()
    {
        _stop?.TrySetResult();
        _rendering?.GetAwaiter().GetResult();
    }
}
