using System.Runtime.InteropServices;
using System.Text;
using Berth.Linux;

namespace Berth.Monitor;

/// <summary>
/// What a monitor holds while it waits, for days, for its container (issue 12: under 1.5 MiB of PSS per running
/// container). The container's create and the first control requests run most of the monitor's code and fill its
/// heap; what they leave behind is given back once the monitor is idle (docs/benchmarks.md, "What one running
/// container costs berthd").
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
    /// start and the threads: about 175 KB, of which 95 KiB stayed committed), then the image's pages dropped.
    /// </summary>
    public static void Settle()
    {
        if (!Settling.TryEnter()) return; // another thread is at it
        try
        {
            if (GC.GetTotalAllocatedBytes() - Interlocked.Read(ref _allocatedAtCollect) > CollectAfter) Collect();
            ImagePages.DropClean();
        }
        finally
        {
            Settling.Exit();
        }
    }
}

/// <summary>
/// The monitor's image: the create and the first requests run much of its code (the runtime's create, JSON, seccomp),
/// then the monitor waits in read(2), accept(2) and waitpid(2) for as long as the container runs. Every page of the
/// image it touched stays mapped and counts in its PSS: some 4.6 MiB of code and read-only data, a tenth of it per
/// monitor with 10 running. Its read-only pages that are still the file's own (no private copy: a read-only mapping
/// cannot be written, so nothing is lost) are dropped; the kernel maps them again from the page cache, or reads them
/// from the file, when they are run again.
/// </summary>
static unsafe class ImagePages
{
    static readonly byte[] Exe = Encoding.UTF8.GetBytes(Environment.ProcessPath ?? "");
    static readonly int PageSize = Environment.SystemPageSize;

    /// <summary>Runs of pages kept for the drop; a monitor's image shows a few dozen.</summary>
    const int MaxRuns = 256;

    /// <summary>Best effort: memory, never a reason for the monitor to fail.</summary>
    public static void DropClean()
    {
        if (Exe.Length == 0) return;
        Span<(ulong Start, ulong End)> runs = stackalloc (ulong, ulong)[MaxRuns];
        int count;
        try
        {
            count = FindFilePages(runs);
        }
        catch (LinuxException)
        {
            return; // no /proc: the pages stay
        }
        // Last, in one tight loop: whatever runs after a drop maps its pages again (64 KiB at a time), and the search
        // above ran through more code than this (measured: 10 of the 17 faults after the drop were the search's).
        foreach (var (start, end) in runs[..count]) Libc.madvise((nint)start, (nuint)(end - start), Libc.MADV_DONTNEED);
    }

    /// <summary>The runs of present file pages in the image's private read-only mappings; the maps and pagemap are
    /// closed again when it returns.</summary>
    static int FindFilePages(Span<(ulong Start, ulong End)> runs)
    {
        const int MapsSize = 64 * 1024; // some 60 lines of 100 bytes
        byte* maps = (byte*)NativeMemory.Alloc(MapsSize);
        try
        {
            int length = ReadAll("/proc/self/maps", maps, MapsSize);
            using var pagemap = Sys.Open("/proc/self/pagemap", Libc.O_RDONLY | Libc.O_CLOEXEC);
            var text = new ReadOnlySpan<byte>(maps, length);
            int count = 0;
            while (text.Length > 0)
            {
                int end = text.IndexOf((byte)'\n');
                if (end < 0) break; // a line cut short
                if (Parse(text[..end]) is var (start, stop)) count = FilePages(pagemap, start, stop, runs, count);
                text = text[(end + 1)..];
            }
            return count;
        }
        finally
        {
            NativeMemory.Free(maps);
        }
    }

    /// <summary>A private read-only mapping of the image: "start-end r?-p offset dev inode path".</summary>
    static (ulong Start, ulong End)? Parse(ReadOnlySpan<byte> line)
    {
        if (!line.EndsWith(Exe) || line.Length <= Exe.Length || line[line.Length - Exe.Length - 1] != (byte)' ') return null;
        int dash = line.IndexOf((byte)'-'), space = line.IndexOf((byte)' ');
        if (dash < 0 || space < dash || line.Length < space + 5) return null;
        var perms = line.Slice(space + 1, 4);
        if (perms[1] == (byte)'w' || perms[3] != (byte)'p') return null;
        return (Hex(line[..dash]), Hex(line[(dash + 1)..space]));
    }

    static ulong Hex(ReadOnlySpan<byte> digits)
    {
        ulong value = 0;
        foreach (byte b in digits) value = value * 16 + (ulong)(b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
        return value;
    }

    /// <summary>Adds to <paramref name="runs"/> the runs of present pages that are the file's (pagemap: bit 63
    /// present, bit 61 file page), leaving out the private copies that relocations made (RELRO segments are read-only
    /// mappings too); the new count of runs.</summary>
    static int FilePages(Fd pagemap, ulong start, ulong end, Span<(ulong Start, ulong End)> runs, int count)
    {
        const int Chunk = 512;
        ulong* entries = stackalloc ulong[Chunk];
        ulong pageSize = (ulong)PageSize;
        for (ulong page = start; page < end; page += Chunk * pageSize)
        {
            int n = (int)Math.Min(Chunk, (end - page) / pageSize);
            if (Libc.pread(pagemap.Value, (byte*)entries, n * 8, (long)(page / pageSize * 8)) != n * 8) break;
            for (int i = 0; i < n; i++)
            {
                ulong address = page + (ulong)i * pageSize;
                if ((entries[i] & (1UL << 63)) == 0 || (entries[i] & (1UL << 61)) == 0) continue;
                if (count > 0 && runs[count - 1].End == address) runs[count - 1].End += pageSize;
                else if (count < runs.Length) runs[count++] = (address, address + pageSize);
                else return count;
            }
        }
        return count;
    }

    static int ReadAll(string path, byte* buffer, int size)
    {
        using var fd = Sys.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        int total = 0;
        while (total < size)
        {
            int n = Sys.Read(fd, new Span<byte>(buffer + total, size - total));
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
