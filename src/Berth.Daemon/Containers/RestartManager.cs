using System.Collections.Concurrent;
using Berth.Api;

namespace Berth.Daemon.Containers;

/// <summary>
/// dockerd's restart policies (its restartmanager): whether a container that exited is started again, and after which
/// back-off. The delay starts at 100 ms and doubles with each restart up to 1 minute; a run of 10 s or more starts it
/// over. <c>always</c> restarts whatever the exit code, <c>unless-stopped</c> unless the user stopped the container,
/// <c>on-failure[:N]</c> on a non-zero code while fewer than N restarts were made. A stop or kill by the user cancels
/// the container's policy until its next start by the user (<see cref="Reset"/>), and with it a back-off in progress.
/// </summary>
public sealed class RestartManager : IDisposable
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(1);
    /// <summary>A run at least this long starts the back-off over.</summary>
    public static readonly TimeSpan ResetAfter = TimeSpan.FromSeconds(10);

    sealed class Entry
    {
        public TimeSpan Delay;
        public bool Canceled;
        public CancellationTokenSource? Pending;
    }

    readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    readonly CancellationTokenSource _shutdown = new();

    /// <summary>The policy's answer alone: restart after this exit?</summary>
    public static bool ShouldRestart(RestartPolicy policy, int restartCount, int exitCode, bool manuallyStopped) => policy.Name switch
    {
        "always" => true,
        "unless-stopped" => !manuallyStopped,
        "on-failure" => exitCode != 0 && (policy.MaximumRetryCount == 0 || restartCount < policy.MaximumRetryCount),
        _ => false,
    };

    /// <summary>
    /// A container's init exited: the delay before it is started again, or null when its policy (read now, so that an
    /// update takes effect) does not restart it or the user cancelled it. Advances the back-off.
    /// </summary>
    public TimeSpan? OnExit(string id, RestartPolicy policy, int restartCount, int exitCode, bool manuallyStopped, TimeSpan ran)
    {
        if (policy.Name is "" or "no") return null;
        var entry = _entries.GetOrAdd(id, _ => new Entry());
        lock (entry)
        {
            if (entry.Canceled) return null;
            if (ran >= ResetAfter) entry.Delay = TimeSpan.Zero;
            entry.Delay = entry.Delay == TimeSpan.Zero ? FirstDelay : entry.Delay * 2 > MaxDelay ? MaxDelay : entry.Delay * 2;
            return ShouldRestart(policy, restartCount, exitCode, manuallyStopped) ? entry.Delay : null;
        }
    }

    /// <summary>Waits out the back-off; false when it was cancelled meanwhile (stop, kill, rm, berthd's shutdown).</summary>
    public async Task<bool> WaitAsync(string id, TimeSpan delay)
    {
        var entry = _entries.GetOrAdd(id, _ => new Entry());
        CancellationTokenSource pending;
        lock (entry)
        {
            if (entry.Canceled || _shutdown.IsCancellationRequested) return false;
            pending = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
            entry.Pending = pending;
        }
        try
        {
            await Task.Delay(delay, pending.Token);
            return !IsCanceled(id);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            lock (entry)
                if (entry.Pending == pending) entry.Pending = null;
            pending.Dispose();
        }
    }

    public bool IsCanceled(string id) =>
        _shutdown.IsCancellationRequested || (_entries.TryGetValue(id, out var entry) && Volatile.Read(ref entry.Canceled));

    /// <summary>The user stopped or killed the container: no restart until the user starts it again.</summary>
    public void Cancel(string id)
    {
        var entry = _entries.GetOrAdd(id, _ => new Entry());
        lock (entry)
        {
            entry.Canceled = true;
            entry.Pending?.Cancel();
        }
    }

    /// <summary>A start by the user (or a removal): a new policy state, the back-off from its first delay.</summary>
    public void Reset(string id)
    {
        if (!_entries.TryRemove(id, out var entry)) return;
        lock (entry)
        {
            entry.Canceled = true;
            entry.Pending?.Cancel();
        }
    }

    /// <summary>berthd stops: every back-off ends now, nothing is started any more.</summary>
    public void Dispose()
    {
        _shutdown.Cancel();
    }
}
