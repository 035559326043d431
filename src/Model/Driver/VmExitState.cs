using HvIommu.Model.Hypercalls;

namespace HvIommu.Model.Driver;

/// <summary>What a vCPU is blocked on (brief §2.1).</summary>
public enum VcpuWait
{
    /// <summary>Running guest work.</summary>
    Nothing,
    /// <summary>In a hypercall: the VM exit has not returned yet.</summary>
    Hypercall,
    /// <summary>(Teardown only) waiting for a prodded device to finish replaying its recent DMA.</summary>
    Prod,
    /// <summary>H17: the input page is filled with interrupts enabled and the trap has not happened yet.</summary>
    IrqWindow,
}

/// <summary>What a guest message is to a blocked vCPU.</summary>
public enum GuestWork
{
    /// <summary>Work that runs only when the vCPU is not blocked (a new operation, a preemption point, teardown).</summary>
    Work,
    /// <summary>An interrupt: a DMA completion or a flush-queue timer fire.</summary>
    Interrupt,
    /// <summary>A prodded device's answer that its replays are done.</summary>
    ProdAnswer,
}

/// <summary>What the vCPU does with a guest message now.</summary>
public enum GuestWorkAction
{
    /// <summary>Handle it now.</summary>
    Run,
    /// <summary>Keep it until the vCPU is no longer blocked (a VM exit runs no guest work).</summary>
    Stash,
    /// <summary>Run it now in interrupt context (H17's window); the filled hypercall traps after it.</summary>
    RunInterrupt,
}

/// <summary>
/// The VM-exit rules of one vCPU, as a pure state machine the vCPU actor applies (brief §1.7, §2.1): a hypercall blocks
/// the vCPU until its status returns, so exactly one is outstanding and guest work that arrives meanwhile waits; the
/// hypercall wrappers fill the per-vCPU input page and trap under local_irq_save, so nothing runs in between — except
/// with driver.hazards.hypercall-input-irqs-on (H17), where the trap comes later and an interrupt already pending runs
/// first, in interrupt context, its own hypercalls trapping at once.
/// </summary>
public sealed class VmExitState(bool hypercallInputIrqsOn)
{
    public VcpuWait Waiting { get; private set; }

    /// <summary>True while an interrupt taken in H17's window runs.</summary>
    public bool InInterrupt { get; private set; }

    /// <summary>A hypercall's input page is filled: true when it traps at once; false when the trap waits for H17's window
    /// to close (a later message). Throws when the vCPU is already blocked: one hypercall per vCPU at a time.</summary>
    public bool Filled(string vcpu, object call)
    {
        if (Waiting != VcpuWait.Nothing)
            throw new InvalidOperationException($"{vcpu} trapped with {call} while still waiting for {Waiting}");
        return TrapsAtOnce();
    }

    /// <summary>The same for a hypercall of <paramref name="code"/>, boxed only when it throws (this runs on every hypercall).</summary>
    public bool Filled(string vcpu, HypercallCode code) => Waiting != VcpuWait.Nothing ? Filled(vcpu, (object)code) : TrapsAtOnce();

    private bool TrapsAtOnce()
    {
        if (hypercallInputIrqsOn && !InInterrupt)
        {
            Waiting = VcpuWait.IrqWindow;
            return false;
        }
        return true;
    }

    /// <summary>The vmcall: the vCPU blocks until the status returns.</summary>
    public void Trapped() => Waiting = VcpuWait.Hypercall;

    /// <summary>The deferred trap of H17 is due: true when it traps now; false while an interrupt's own hypercall is
    /// outstanding (keep the trap until that returns).</summary>
    public bool TrapDue()
    {
        if (Waiting != VcpuWait.IrqWindow)
            return false;
        Waiting = VcpuWait.Nothing;
        return true;
    }

    /// <summary>What to do with guest work of <paramref name="kind"/> now.</summary>
    public GuestWorkAction OnGuestWork(GuestWork kind)
    {
        if (Waiting == VcpuWait.IrqWindow && kind == GuestWork.Interrupt)
        {
            Waiting = VcpuWait.Nothing;
            InInterrupt = true;
            return GuestWorkAction.RunInterrupt;
        }
        if (Waiting != VcpuWait.Nothing && !(kind == GuestWork.ProdAnswer && Waiting == VcpuWait.Prod))
            return GuestWorkAction.Stash;
        return GuestWorkAction.Run;
    }

    /// <summary>The interrupt taken in H17's window ended: the interrupted call's trap is due again.</summary>
    public void InterruptEnded()
    {
        InInterrupt = false;
        Waiting = VcpuWait.IrqWindow;
    }

    /// <summary>The status of the outstanding hypercall returned. Throws when none is outstanding.</summary>
    public void Resumed(string vcpu, object reply)
    {
        if (Waiting != VcpuWait.Hypercall)
            throw new InvalidOperationException($"{vcpu} got {reply} with no hypercall outstanding");
        Waiting = VcpuWait.Nothing;
    }

    /// <summary>The same for a status <paramref name="status"/> of <paramref name="code"/>; the words are formatted only
    /// when it throws (this runs on every hypercall's return).</summary>
    public void Resumed(string vcpu, HypercallCode code, HvStatus status)
    {
        if (Waiting != VcpuWait.Hypercall)
            Resumed(vcpu, $"{code} {status}");
        Waiting = VcpuWait.Nothing;
    }

    /// <summary>A device was prodded: the vCPU blocks until it answers.</summary>
    public void Prodding() => Waiting = VcpuWait.Prod;

    /// <summary>True when a prod answer ends the wait for one (else it is ordinary work).</summary>
    public bool ProdAnswered()
    {
        if (Waiting != VcpuWait.Prod)
            return false;
        Waiting = VcpuWait.Nothing;
        return true;
    }
}
