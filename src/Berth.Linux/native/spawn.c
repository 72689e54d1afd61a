// The spawn stage: the only native code in Berth (DESIGN.md §2).
//
// Why C: a .NET process is multi-threaded before Main. A child made by clone() from managed code can hang
// forever on the GC's thread-suspension flag, and unshare(CLONE_NEWUSER)/setns(mnt|user) refuse a
// multi-threaded caller. So this function clones, and the child runs only the raw system calls below
// (async-signal-safe, no allocation, no locks, no glibc wrappers that touch other threads) until it
// execs `berth-runtime init`, which is a fresh single-image process already inside its namespaces.
//
// Child sequence: reset signals -> setns(joined namespaces, in the order given) -> unshare(new
// namespaces that clone could not create) -> tell the parent and wait for it (it writes uid/gid maps,
// time offsets and cgroup placement) -> become root of a new user namespace -> unshare(cgroup) so the
// cgroup namespace is rooted at the container's cgroup -> fork once more when the PID namespace only
// applies to children -> fix up fds -> execveat. Any failure is written to error_fd as two ints
// (stage, errno) and the child exits 127; a successful exec closes error_fd (CLOEXEC) and the parent
// reads EOF.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// Must match Berth.Linux.SpawnRequest (sequential layout).
struct berth_spawn_request {
    int32_t exec_fd;             // fd of the binary to run, executed with AT_EMPTY_PATH; -1: exec_path
    int32_t clone_flags;         // CLONE_NEW* flags given to clone itself
    int32_t unshare_flags;       // CLONE_NEW* flags unshared after the joins (e.g. user after joining)
    int32_t unshare_cgroup;      // unshare(CLONE_NEWCGROUP) after the parent placed us in cgroups
    int32_t fork_after;          // fork again so the exec'd process is inside a joined/unshared PID ns
    int32_t become_root;         // setresgid/setresuid(0) once the parent wrote the maps
    int32_t sync_fd;             // socket to the parent: we write 'r', it answers 'g'
    int32_t error_fd;            // CLOEXEC pipe for (stage, errno)
    int32_t keep_below;          // fds below this (stdio + preserved fds) are left alone
    int32_t join_count;
    int32_t pass_count;
    int32_t stdin_fd;            // dup2'd onto 0, 1 and 2 when >= 0 (hooks get pipes); -1 keeps ours
    int32_t stdout_fd;
    int32_t stderr_fd;
    int32_t reserved;
    const int32_t *join_fds;     // namespace fds to setns, in order
    const int32_t *pass_fds;     // fds >= keep_below that the exec'd process must inherit
    char *const *argv;
    char *const *envp;
    const char *exec_path;       // used when exec_fd < 0: scripts cannot be run from a close-on-exec fd
};

enum berth_spawn_stage {
    STAGE_SETNS = 1,
    STAGE_UNSHARE = 2,
    STAGE_SYNC = 3,
    STAGE_SETID = 4,
    STAGE_CGROUPNS = 5,
    STAGE_FDS = 6,
    STAGE_FORK = 7,
    STAGE_EXEC = 8,
};

static void fail(const struct berth_spawn_request *r, int stage, int detail) {
    int32_t rec[3] = { stage, errno, detail };
    ssize_t ignored = write(r->error_fd, rec, sizeof rec);
    (void)ignored;
    syscall(SYS_exit_group, 127);
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void child(const struct berth_spawn_request *r) {
    // Handlers point into the parent's runtime: reset every one, including ignored SIGPIPE, before
    // unblocking. The container starts with an empty signal mask.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
    }
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof empty);

    for (int i = 0; i < r->join_count; i++)
        if (setns(r->join_fds[i], 0) < 0) fail(r, STAGE_SETNS, i);

    if (r->unshare_flags != 0 && unshare(r->unshare_flags) < 0) fail(r, STAGE_UNSHARE, r->unshare_flags);

    char c = 'r';
    if (write_all(r->sync_fd, &c, 1) < 0) fail(r, STAGE_SYNC, 0);
    for (;;) {
        ssize_t n = read(r->sync_fd, &c, 1);
        if (n == 1 && c == 'g') break;
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) syscall(SYS_exit_group, 127); // the parent gave up: nothing to report to
        fail(r, STAGE_SYNC, (int)n);
    }

    if (r->become_root) {
        // Raw syscalls on purpose: glibc's set*id wrappers signal every thread of the (cloned) parent.
        if (syscall(SYS_setresgid, 0, 0, 0) < 0) fail(r, STAGE_SETID, 1);
        if (syscall(SYS_setresuid, 0, 0, 0) < 0) fail(r, STAGE_SETID, 0);
    }

    if (r->unshare_cgroup && unshare(CLONE_NEWCGROUP) < 0) fail(r, STAGE_CGROUPNS, 0);

    const int32_t stdio[3] = { r->stdin_fd, r->stdout_fd, r->stderr_fd };
    for (int i = 0; i < 3; i++)
        if (stdio[i] >= 0 && dup2(stdio[i], i) < 0) fail(r, STAGE_FDS, stdio[i]);

    if (r->keep_below >= 3 && syscall(SYS_close_range, (unsigned)r->keep_below, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        fail(r, STAGE_FDS, -1);
    for (int i = 0; i < r->pass_count; i++)
        if (fcntl(r->pass_fds[i], F_SETFD, 0) < 0) fail(r, STAGE_FDS, r->pass_fds[i]);
    if (fcntl(r->error_fd, F_SETFD, FD_CLOEXEC) < 0) fail(r, STAGE_FDS, r->error_fd);

    if (r->fork_after) {
        long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0) fail(r, STAGE_FORK, 0);
        if (pid > 0) {
            // The intermediate: report the grandchild's pid (as seen from the parent's namespace) and go.
            int32_t rec[2] = { 'p', (int32_t)pid };
            if (write_all(r->sync_fd, rec, sizeof rec) < 0) fail(r, STAGE_FORK, 1);
            syscall(SYS_exit_group, 0);
        }
    }

    if (r->exec_fd >= 0)
        syscall(SYS_execveat, r->exec_fd, "", r->argv, r->envp, AT_EMPTY_PATH);
    else
        syscall(SYS_execve, r->exec_path, r->argv, r->envp);
    fail(r, STAGE_EXEC, 0);
}

// Returns the child's pid, or -errno if clone failed. Signals are blocked around clone so that the child
// cannot run one of the parent's handlers before it resets them.
int berth_spawn(const struct berth_spawn_request *r) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = syscall(SYS_clone, (unsigned long)r->clone_flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) child(r);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -saved : (int)pid;
}
