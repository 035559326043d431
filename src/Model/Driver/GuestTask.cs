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
/// <remarks>
/// An <c>async GuestTask</c> method that finishes without suspending returns <see cref="Done"/> (or, with a result,
/// a completed task); one that suspends is a single object from its first <c>await</c> on — the returned task, the
/// method's state and its continuation in one (<see cref="GuestTaskBox{TStateMachine}"/>) — so a suspension allocates
/// no delegate and a method that suspends more than once allocates nothing more.
/// </remarks>
[AsyncMethodBuilder(typeof(GuestTaskBuilder))]
public class GuestTask : ICriticalNotifyCompletion
{
    // At most one of these is set: an outside awaiter's delegate, a suspended guest method awaiting this task, or
    // the request to rethrow a failure from whoever completes the task (RethrowFaults).
    private Action? _continuation;
    private GuestTask? _awaitingMethod;
    private bool _rethrowFaults;
    private ExceptionDispatchInfo? _failure;

    /// <summary>A task that has already completed.</summary>
    public static GuestTask Done { get; } = new() { IsCompleted = true };

    public bool IsCompleted { get; private protected set; }

    /// <summary>True if the procedure ended with an exception (rethrown by <see cref="GetResult"/> and <see cref="ThrowIfFaulted"/>).</summary>
    public bool IsFaulted => _failure is not null;

    public GuestTask GetAwaiter() => this;

    public void GetResult() => ThrowIfFaulted();

    /// <summary>Rethrows the procedure's exception with its original stack, if it failed.</summary>
    public void ThrowIfFaulted() => _failure?.Throw();

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        EnsureNotAwaited();
        _continuation = continuation;
    }

    /// <summary>For a task nobody awaits (a driver path an actor started): when it completes later with an exception,
    /// the exception is thrown from whoever completes it — the receive that resumed the path — as
    /// <c>OnCompleted(ThrowIfFaulted)</c> would, without a delegate. Call only while the task is not completed.</summary>
    /// <exception cref="InvalidOperationException">The task is already awaited.</exception>
    public void RethrowFaults()
    {
        EnsureNotAwaited();
        _rethrowFaults = true;
    }

    /// <summary>The suspended method <paramref name="method"/> (a box) continues when this task completes.</summary>
    internal void ResumeWhenDone(GuestTask method)
    {
        EnsureNotAwaited();
        _awaitingMethod = method;
    }

    /// <summary>Runs the suspended method this task is (a box; see <see cref="GuestTaskBox{TStateMachine}"/>).</summary>
    private protected virtual void Resume() => throw new InvalidOperationException("Only a suspended guest method resumes.");

    /// <summary>The same as <see cref="Resume"/>, as a delegate, for an awaiter that is not a guest task.</summary>
    internal Action ResumeAction => Resume;

    private void EnsureNotAwaited()
    {
        if (_continuation is not null || _awaitingMethod is not null || _rethrowFaults)
            throw new InvalidOperationException("A guest task is awaited once.");
    }

    internal void SetCompleted()
    {
        IsCompleted = true;
        if (_awaitingMethod is { } method)
        {
            _awaitingMethod = null;
            method.Resume();
            return;
        }
        if (_rethrowFaults)
        {
            _rethrowFaults = false;
            ThrowIfFaulted();
            return;
        }
        var continuation = _continuation;
        _continuation = null;
        continuation?.Invoke();
    }

    internal void SetFailed(Exception exception)
    {
        _failure = ExceptionDispatchInfo.Capture(exception);
        if (_continuation is null && _awaitingMethod is null && !_rethrowFaults)
        {
            IsCompleted = true;
            return;
        }
        SetCompleted();
    }
}

/// <summary>A <see cref="GuestTask"/> with a result (a hypercall's status, an init step's error).</summary>
[AsyncMethodBuilder(typeof(GuestTaskBuilder<>))]
public class GuestTask<T> : GuestTask
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

    /// <summary>A task already completed with <paramref name="result"/>.</summary>
    internal static GuestTask<T> FromResult(T result)
    {
        var task = new GuestTask<T> { _result = result };
        task.IsCompleted = true;
        return task;
    }
}

/// <summary>A suspended <c>async GuestTask</c> method: the task its caller holds, with the method's state machine
/// inside; resuming it runs the state machine's next step.</summary>
internal sealed class GuestTaskBox<TStateMachine> : GuestTask where TStateMachine : IAsyncStateMachine
{
    public TStateMachine StateMachine = default!;

    private protected override void Resume() => StateMachine.MoveNext();
}

/// <summary>A suspended <c>async GuestTask&lt;T&gt;</c> method (see <see cref="GuestTaskBox{TStateMachine}"/>).</summary>
internal sealed class GuestTaskBox<T, TStateMachine> : GuestTask<T> where TStateMachine : IAsyncStateMachine
{
    public TStateMachine StateMachine = default!;

    private protected override void Resume() => StateMachine.MoveNext();
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

    public void SetResult()
    {
        if (_task is null)
            _task = GuestTask.Done;
        else
            _task.SetCompleted();
    }

    public void SetException(Exception exception) => Task.SetFailed(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine =>
        GuestAwait.Suspend(Box(ref stateMachine), ref awaiter);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine =>
        GuestAwait.Suspend(Box(ref stateMachine), ref awaiter);

    // The first await moves the state machine into its box (which is the method's task); later awaits run inside it.
    private GuestTask Box<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine
    {
        if (_task is GuestTaskBox<TStateMachine> suspended)
            return suspended;
        if (_task is not null)
            throw new InvalidOperationException("A guest method's task was taken before its first await.");
        var box = new GuestTaskBox<TStateMachine>();
        _task = box;
        box.StateMachine = stateMachine;
        return box;
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

    public void SetResult(T result)
    {
        if (_task is null)
            _task = GuestTask<T>.FromResult(result);
        else
            _task.SetResult(result);
    }

    public void SetException(Exception exception) => Task.SetFailed(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine =>
        GuestAwait.Suspend(Box(ref stateMachine), ref awaiter);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine =>
        GuestAwait.Suspend(Box(ref stateMachine), ref awaiter);

    private GuestTask<T> Box<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine
    {
        if (_task is GuestTaskBox<T, TStateMachine> suspended)
            return suspended;
        if (_task is not null)
            throw new InvalidOperationException("A guest method's task was taken before its first await.");
        var box = new GuestTaskBox<T, TStateMachine>();
        _task = box;
        box.StateMachine = stateMachine;
        return box;
    }
}

/// <summary>What both builders do at an <c>await</c>: the awaited guest task resumes the suspended method's box
/// directly; any other awaiter gets the box's resume delegate.</summary>
internal static class GuestAwait
{
    public static void Suspend<TAwaiter>(GuestTask method, ref TAwaiter awaiter) where TAwaiter : INotifyCompletion
    {
        if (awaiter is GuestTask awaited)
            awaited.ResumeWhenDone(method);
        else
            awaiter.OnCompleted(method.ResumeAction);
    }
}
