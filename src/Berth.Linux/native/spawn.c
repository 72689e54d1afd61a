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
// applies to children -> setsid (init and `exec`) -> fix up fds -> execveat. Any failure is written to
// error_fd as three ints (stage, errno, detail) and the child exits 127; a successful exec closes error_fd
// (CLOEXEC) and the parent reads EOF.
//
// `exec` adds a process setup (struct berth_process_setup, NULL for init and hooks): the exec'd process
// must never run berth-runtime code inside the container (the binary is dynamically linked: its ld.so and
// libc would come from the container's rootfs), so this stage itself chroots into the container's root and
// applies rlimits, ids, capabilities, no_new_privs and seccomp before it execs the user's program.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

// Must match Berth.Linux.SpawnRlimit.
struct berth_rlimit {
    int32_t resource;            // RLIMIT_*
    int32_t reserved;
    uint64_t cur;
    uint64_t max;
};

// Must match Berth.Linux.SpawnProcessSetup (sequential layout). What `exec` applies to its process.
struct berth_process_setup {
    int32_t root_fd;             // O_PATH fd of the container's root (/proc/<init>/root), opened by the parent
    int32_t uid;
    int32_t gid;
    int32_t gid_count;           // additional gids
    int32_t skip_setgroups;      // setgroups is "deny" in the joined user namespace and the list is empty
    int32_t rlimit_count;
    int32_t has_caps;            // 0: leave capabilities as they are (no process.capabilities)
    int32_t cap_last_cap;        // /proc/sys/kernel/cap_last_cap, read by the parent
    int32_t no_new_privs;
    int32_t umask;               // -1: keep
    uint32_t seccomp_flags;      // SECCOMP_FILTER_FLAG_*
    int32_t seccomp_len;         // instructions in seccomp_filter; 0: no filter
    int32_t set_ctty;            // stdin_fd is a pty peer: become a session leader with it as controlling tty
    int32_t listener_fd;         // socket for the seccomp listener fd; not sync_fd, which the PID-namespace
                                 // intermediate writes too, so a send from here could overtake its pid record
    uint64_t cap_bounding;       // capability masks, bit N = capability N
    uint64_t cap_effective;
    uint64_t cap_inheritable;
    uint64_t cap_permitted;
    uint64_t cap_ambient;
    const uint32_t *gids;
    const struct berth_rlimit *rlimits;
    const struct sock_filter *seccomp_filter;
    const char *cwd;             // absolute path inside the container
};

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
    int32_t new_session;         // setsid before exec: init and every `exec`, as runc; never hooks
    const int32_t *join_fds;     // namespace fds to setns, in order
    const int32_t *pass_fds;     // fds >= keep_below that the exec'd process must inherit
    char *const *argv;
    char *const *envp;
    const char *exec_path;       // used when exec_fd < 0: scripts cannot be run from a close-on-exec fd
    const struct berth_process_setup *setup; // NULL except for `exec`
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
    // The process setup of `exec` (detail in brackets):
    STAGE_DUMPABLE = 9,
    STAGE_CHROOT = 10,           // [0 fchdir, 1 chroot]
    STAGE_RLIMIT = 11,           // [resource]
    STAGE_SECCOMP = 12,
    STAGE_BOUNDING = 13,         // [capability]
    STAGE_KEEPCAPS = 14,
    STAGE_SETGROUPS = 15,
    STAGE_SETGID = 16,
    STAGE_SETUID = 17,
    STAGE_CAPSET = 18,
    STAGE_AMBIENT = 19,
    STAGE_NO_NEW_PRIVS = 20,
    STAGE_CWD = 21,              // [0 chdir, 1 getcwd, 2 the cwd is outside the root]
    STAGE_CTTY = 22,             // [1 TIOCSCTTY]
    STAGE_SESSION = 23,          // setsid
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

// Passes fd to the parent over sock with SCM_RIGHTS (one byte 's' as the payload).
static int send_fd(int sock, int fd) {
    char byte = 's';
    struct iovec iov = { &byte, 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do n = sendmsg(sock, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

// Installs the container's filter. With SCMP_ACT_NOTIFY rules the kernel returns a listener fd: it goes to the
// parent at once (which hands it to linux.seccomp.listenerPath), because the steps after this one may already
// be notified calls that only the agent can answer. `detail` tells the two install points apart in errors.
static void install_filter(const struct berth_spawn_request *r, const struct berth_process_setup *s, int detail) {
    struct sock_fprog prog = { (unsigned short)s->seccomp_len, (struct sock_filter *)s->seccomp_filter };
    long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->seccomp_flags, &prog);
    if (listener < 0) fail(r, STAGE_SECCOMP, detail);
    if (s->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        if (send_fd(s->listener_fd, (int)listener) < 0) fail(r, STAGE_SECCOMP, 2);
        close((int)listener);
    }
}

// The steps of `exec` between the last fork and the fd clean-up, in the order the kernel needs: limits first
// (they may need CAP_SYS_RESOURCE), the filter before capabilities are dropped unless no_new_privs lets an
// unprivileged thread install it (then it comes last, so that it does not govern the setup), the bounding
// set while we still hold CAP_SETPCAP, ids with KEEPCAPS so that the permitted set survives setresuid, then
// the sets themselves. Raw syscalls throughout: glibc's set*id and setgroups signal every thread of the
// parent image, and this clone has only one.
static void process_setup(const struct berth_spawn_request *r, const struct berth_process_setup *s) {
    for (int i = 0; i < s->rlimit_count; i++) {
        struct rlimit lim = { s->rlimits[i].cur, s->rlimits[i].max };
        if (syscall(SYS_prlimit64, 0, s->rlimits[i].resource, &lim, NULL) < 0) fail(r, STAGE_RLIMIT, s->rlimits[i].resource);
    }
    if (s->umask >= 0) syscall(SYS_umask, s->umask);

    if (s->seccomp_len > 0 && !s->no_new_privs) install_filter(r, s, 0);

    if (s->has_caps)
        for (int cap = 0; cap <= s->cap_last_cap; cap++)
            if (!(s->cap_bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                fail(r, STAGE_BOUNDING, cap);

    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail(r, STAGE_KEEPCAPS, 1);
    if (!s->skip_setgroups && syscall(SYS_setgroups, s->gid_count, s->gids) < 0) fail(r, STAGE_SETGROUPS, 0);
    if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0) fail(r, STAGE_SETGID, s->gid);
    if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0) fail(r, STAGE_SETUID, s->uid);

    if (s->has_caps) {
        struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct data[2];
        for (int i = 0; i < 2; i++) {
            data[i].effective = (uint32_t)(s->cap_effective >> (32 * i));
            data[i].permitted = (uint32_t)(s->cap_permitted >> (32 * i));
            data[i].inheritable = (uint32_t)(s->cap_inheritable >> (32 * i));
        }
        if (syscall(SYS_capset, &header, data) < 0) fail(r, STAGE_CAPSET, 0);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) fail(r, STAGE_AMBIENT, -1);
        // Not fatal, as for init: an ambient capability that is not also permitted and inheritable cannot be
        // raised (runc's default spec asks for such); the parent warns about those before the spawn.
        for (int cap = 0; cap <= s->cap_last_cap; cap++)
            if (s->cap_ambient & (1ULL << cap)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail(r, STAGE_KEEPCAPS, 0);
    if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(r, STAGE_NO_NEW_PRIVS, 0);

    // As the user, so that a directory the user may not enter fails here. A cwd such as /proc/self/fd/N
    // names a directory through an fd this clone still holds and leaves the root: the kernel's getcwd then
    // reports a path that does not start with '/' ("(unreachable)/...", CVE-2024-21626).
    if (chdir(s->cwd) < 0) fail(r, STAGE_CWD, 0);
    char buf[4096];
    long n = syscall(SYS_getcwd, buf, sizeof buf);
    if (n < 0) fail(r, STAGE_CWD, 1);
    if (n == 0 || buf[0] != '/') { errno = EPERM; fail(r, STAGE_CWD, 2); }
}

static void child(const struct berth_spawn_request *r) {
    const struct berth_process_setup *setup = r->setup;
    // Until the exec, this clone is a copy of berth-runtime. Non-dumpable, a process of the container cannot
    // open /proc/<pid>/exe (the host binary) or ptrace us once we joined its namespaces (CVE-2019-5736);
    // execve makes the user's program dumpable again.
    if (setup != NULL && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(r, STAGE_DUMPABLE, 0);

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

    if (setup != NULL) {
        // setns(mnt) left us at the namespace's root, which is not the container's root after pivot_root
        // (and never with --no-pivot, where the container is chrooted): enter the root init sees.
        if (fchdir(setup->root_fd) < 0) fail(r, STAGE_CHROOT, 0);
        if (chroot(".") < 0) fail(r, STAGE_CHROOT, 1);
        close(setup->root_fd);
    }

    if (r->fork_after) {
        long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0) fail(r, STAGE_FORK, 0);
        if (pid > 0) {
            // The intermediate: report the grandchild's pid (as seen from the parent's namespace) and go.
            int32_t rec[2] = { 'p', (int32_t)pid };
            if (write_all(r->sync_fd, rec, sizeof rec) < 0) fail(r, STAGE_FORK, 1);
            syscall(SYS_exit_group, 0);
        }
        // The grandchild stays non-dumpable: the flag lives in the mm, which fork copied.
    }

    // A session of its own for the process that execs (init or an `exec`, with a terminal or not), as runc's
    // stage 2 gives every process it starts: the caller's session, job control and SIGHUP stay outside the
    // container. The leader must be this process, not the intermediate of the PID-namespace fork, whose exit
    // would hang up a terminal. Before the process setup, as runc, so that neither the container's seccomp
    // filter nor the change of user governs it.
    if (r->new_session && setsid() < 0) fail(r, STAGE_SESSION, 0);
    // `exec -t`: the parent allocated the pty in the container's devpts and passes its peer as stdio; only a
    // session leader can take it as controlling terminal (the parent sets new_session with set_ctty). The peer
    // fd is the same open file that the dup2 below puts on 0, 1 and 2.
    if (setup != NULL && setup->set_ctty && ioctl(r->stdin_fd, TIOCSCTTY, 0) < 0) fail(r, STAGE_CTTY, 1);

    if (setup != NULL) process_setup(r, setup);

    const int32_t stdio[3] = { r->stdin_fd, r->stdout_fd, r->stderr_fd };
    for (int i = 0; i < 3; i++)
        if (stdio[i] >= 0 && dup2(stdio[i], i) < 0) fail(r, STAGE_FDS, stdio[i]);

    if (r->keep_below >= 3 && syscall(SYS_close_range, (unsigned)r->keep_below, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        fail(r, STAGE_FDS, -1);
    for (int i = 0; i < r->pass_count; i++)
        if (fcntl(r->pass_fds[i], F_SETFD, 0) < 0) fail(r, STAGE_FDS, r->pass_fds[i]);
    if (fcntl(r->error_fd, F_SETFD, FD_CLOEXEC) < 0) fail(r, STAGE_FDS, r->error_fd);

    // With no_new_privs the filter comes last, so that only execve runs under it (the profile must allow that).
    if (setup != NULL && setup->seccomp_len > 0 && setup->no_new_privs) install_filter(r, setup, 1);

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
