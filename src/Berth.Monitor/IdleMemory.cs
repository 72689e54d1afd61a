using Berth.Linux;

namespace Berth.Monitor;

/// <summary>
/// What a monitor holds while it waits, for days, for its container (issue 12: under 1.5 MiB of PSS per running
/// container). The container's create and the first control requests fill the monitor's heap; what they leave behind
/// is given back once the monitor is idle (docs/benchmarks.md, "What one running container costs berthd").
/// </summary>
static class IdleMemory
{
    /// <summary>Requests that allocated less than this since the last collection leave too little to collect.</summary>
    const long CollectAfter = 32 * 1024;
    static readonly Lock Settling = new();
    static long _allocatedAtCollect;

    /// <summary>One malloc arena for the whole process: glibc gives each thread that allocates its own (a few pages
    /// each, kept), and a monitor's threads mostly block (measured: 23 KiB less per monitor).</summary>
    public static void LimitMallocArenas() => Libc.mallopt(Libc.M_ARENA_MAX, 1);

    /// <summary>
    /// An aggressive, compacting collection. The create's garbage (the request's JSON, the in-process driver's spec,
    /// seccomp and mounts: about 1.5 MB allocated) is dead once the container is created, but the GC keeps the regions
    /// it filled committed, and a quiet monitor allocates too little to give them back.
    /// </summary>
    public static void Collect()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Interlocked.Exchange(ref _allocatedAtCollect, GC.GetTotalAllocatedBytes());
    }

    /// <summary>
    /// The monitor has no control request in flight (after berthd's start and wait, it may have none for days): a
    /// collection when the requests allocated more than a few pages since the last (the start's JSON, the driver's
    /// start and the threads: about 175 KB, of which 95 KiB stayed committed).
    /// </summary>
    public static void Settle()
    {
        if (!Settling.TryEnter()) return; // another thread is at it
        try
        {
            if (GC.GetTotalAllocatedBytes() - Interlocked.Read(ref _allocatedAtCollect) > CollectAfter) Collect();
        }
        finally
        {
            Settling.Exit();
        }
    }
}
