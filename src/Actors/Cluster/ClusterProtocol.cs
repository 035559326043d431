using HvIommu.Actors.Sweep;

namespace HvIommu.Actors.Cluster;

// The messages between a coordinator (explore/sweep with --cluster-listen or --local-workers) and its workers
// (`worker --join`). Plain records: they cross the network through Akka.Remote's JSON serializer.

/// <summary>Worker → coordinator: I joined and run <paramref name="Parallel"/> explorer threads.</summary>
public sealed record WorkerHello(int Parallel, string Host, int ProcessId);

/// <summary>Coordinator → worker: what to explore (config text and all, so the worker needs no files).</summary>
public sealed record JobOffer(ExplorationJob Job);

/// <summary>Worker → coordinator: hand me up to <paramref name="Count"/> more leases (work pulling).</summary>
public sealed record LeaseRequest(int Count);

/// <summary>Coordinator → worker: run these seeds and stream the progress back.</summary>
public sealed record LeaseGrant(Lease Lease);

/// <summary>Coordinator → workers: no more leases — a violation was found (explore without --all) or the run
/// ended; stop the schedules in progress (their finished seeds are already counted).</summary>
public sealed record StopWork(string Reason);

/// <summary>Coordinator → workers: the run is complete; leave the cluster and exit 0.</summary>
public sealed record RunFinished(string Summary);

/// <summary>Worker thread → its worker actor: a lease is done; ask for another.</summary>
internal sealed record LeaseDone(long LeaseId);

/// <summary>Worker explorer thread → its worker actor: the thread crashed (a bug, not a schedule's failure).</summary>
internal sealed record ExplorerCrashed(string Message);

/// <summary>Coordinator pool → coordinator actor: the run is done; tell every worker.</summary>
internal sealed record FinishRun(string Summary);
