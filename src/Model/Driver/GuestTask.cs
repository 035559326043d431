using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace HvIommu.Model.Driver;

/// <summary>
/// A guest driver procedure suspended at a hypercall (a VM exit), as a task-like type with its own builder:
/// the driver engines (<see cref="DmaApiEngine"/>, <see cref="LifecycleEngine"/>) write their paths as <c>async GuestTask</c> methods,
/// and each <c>await</c> of a hypercall stores the continuation here instead of going through a task
/// scheduler. The vCPU actor resumes it from its own receive when the hypercall's status message arrives,
/// on its own thread, synchronously — so no <c>ReceiveAsync</c>, no <c>Ask</c>, no temporary actor and no
/// thread pool is involved, and a deterministic run stays one thread. Not thread-safe: one actor owns it.
/// </summary>
[AsyncMethodBuilder(typeof(GuestTaskBuilder))]
public class GuestTask : ICriticalNotifyCompletion
{
    private Action? _continuation;
    private ExceptionDispatchInfo? _failure;

    /// <summary>A task that has already completed.</summary>
    public static GuestTask Done { get; } = new() { IsCompleted = true };

    public bool IsCompleted { get; private set; }

    /// <summary>True if the procedure ended with an exception (rethrown by <see cref="GetResult"/> and <see cref="ThrowIfFaulted"/>).</summary>
    public bool IsFaulted => _failure is not null;

    public GuestTask GetAwaiter() => this;

    public void GetResult() => ThrowIfFaulted();

    /// <summary>Rethrows the procedure's exception with its original stack, if it failed.</summary>
    public void ThrowIfFaulted() => _failure?.Throw();

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        if (_continuation is not null)
            throw new InvalidOperationException("A guest task is awaited once.");
        _continuation = continuation;
    }

    internal void SetCompleted()
    {
        IsCompleted = true;
        var continuation = _continuation;
        _continuation = null;
        continuation?.Invoke();
    }

    internal void SetFailed(Exception exception)
    {
        _failure = ExceptionDispatchInfo.Capture(exception);
        if (_continuation is null)
        {
            IsCompleted = true;
            return;
        }
        SetCompleted();
    }
}

/// <summary>A <see cref="GuestTask"/> with a result (a hypercall's status, an init step's error).</summary>
[AsyncMethodBuilder(typeof(GuestTaskBuilder<>))]
public sealed class GuestTask<T> : GuestTask
{
    private T _result = default!;

    public new GuestTask<T> GetAwaiter() => this;

    public new T GetResult()
    {
        ThrowIfFaulted();
        return _result;
    }

    /// <summary>Completes the task with <paramref name="result"/> and runs its continuation now, on this thread.</summary>
    public void SetResult(T result)
    {
        _result = result;
        SetCompleted();
    }
}

/// <summary>The builder of <c>async GuestTask</c> methods: starts and resumes the state machine inline.</summary>
public struct GuestTaskBuilder
{
    private GuestTask? _task;

    public static GuestTaskBuilder Create() => default;

    public GuestTask Task => _task ??= new GuestTask();

    public void Start<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine => stateMachine.MoveNext();

    public void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult() => Task.SetCompleted();

    public void SetException(Exception exception) => Task.SetFailed(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine
    {
        _ = Task;
        GuestAwait.Suspend(ref awaiter, ref stateMachine);
    }

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine
    {
        _ = Task;
        GuestAwait.Suspend(ref awaiter, ref stateMachine);
    }
}

/// <summary>The builder of <c>async GuestTask&lt;T&gt;</c> methods.</summary>
public struct GuestTaskBuilder<T>
{
    private GuestTask<T>? _task;

    public static GuestTaskBuilder<T> Create() => default;

    public GuestTask<T> Task => _task ??= new GuestTask<T>();

    public void Start<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine => stateMachine.MoveNext();

    public void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult(T result) => Task.SetResult(result);

    public void SetException(Exception exception) => Task.SetFailed(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine
    {
        _ = Task;
        GuestAwait.Suspend(ref awaiter, ref stateMachine);
    }

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine
    {
        _ = Task;
        GuestAwait.Suspend(ref awaiter, ref stateMachine);
    }
}

/// <summary>What both builders do at an <c>await</c>: the task exists before the state machine is boxed (so the box
/// shares it), and the box's <c>MoveNext</c> is the continuation the awaited guest task stores.</summary>
internal static class GuestAwait
{
    public static void Suspend<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine
    {
        IAsyncStateMachine boxed = stateMachine;
        awaiter.OnCompleted(boxed.MoveNext);
    }
}
