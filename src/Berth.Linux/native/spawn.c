// The spawn stage: the only native code in Berth (DESIGN.md §2).
//
// Why C: a .NET process is multi-threaded before Main. A child made by clone() from managed code can hang
// forever on the GC's thread-suspension flag, and unshare(CLONE_NEWUSER)/setns(mnt|user) refuse a
// multi-threaded caller. So this function clones, and the child runs only the raw system calls below
// (async-signal-safe, no allocation, no locks, no glibc wrappers that touch other threads) until it
// execs `berth-runtime init`, which is a fresh single-image process already inside its namespaces.
//
// Child sequence: die with the parent, close every fd the request does not name (a lock or the parent's end of
// the sync socket held here would outlive a killed runtime) -> [`exec`: re-execute a sealed copy of this binary,
// see reexec] -> reset signals -> place itself in its cgroups (see place_in_cgroups) -> setns(joined namespaces, in
// the order given) -> unshare(new namespaces that clone could not create) -> tell the parent and wait for it (it
// writes uid/gid maps and time offsets) -> become root of the user namespace, new or joined -> fork once more when
// the PID namespace only applies to children -> setsid (init and `exec`) -> fix up fds -> execveat. Any failure is
// written to error_fd as three ints (stage, errno, detail) and the child exits 127; a successful exec closes
// error_fd (CLOEXEC) and the parent reads EOF.
//
// `exec` adds a process setup (struct berth_process_setup, NULL for init and hooks): the exec'd process
// must never run berth-runtime code inside the container (the binary is dynamically linked: its ld.so and
// libc would come from the container's rootfs), so this stage itself chroots into the container's root and
// applies rlimits, ids, capabilities, no_new_privs and seccomp before it execs the user's program. Init, a .NET
// process inside the container, applies the same setup through berth_process_setup and berth_install_late_filter,
// so the sequence exists once.
//
// x86_64 only: the C# side hard-codes x86_64 syscall numbers and struct layouts (and checks the layouts of these
// structs against this file in a unit test through berth_spawn_layout).
#define _GNU_SOURCE
#if !defined(__x86_64__)
#error "Berth supports x86_64 only: its syscall numbers, seccomp tables and struct layouts are x86_64's"
#endif
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

// Must match Berth.Linux.SpawnProcessSetup (sequential layout). What the process that execs the user's program
// applies to itself: `exec`'s spawn stage, and init through berth_process_setup.
struct berth_process_setup {
    int32_t root_fd;             // `exec`: O_PATH fd of the container's root (/proc/<init>/root), opened by the parent
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
    int32_t seccomp_length;      // instructions in seccomp_filter; 0: no filter
    int32_t set_controlling_terminal; // stdin_fd is a pty peer: become a session leader with it as controlling tty
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
    int32_t fork_after;          // fork again so the exec'd process is inside a joined/unshared PID ns
    int32_t become_root;         // setresgid/setresuid(0) once the parent wrote the maps (a new or joined user ns)
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
    int32_t reexec_fd;           // >= 0: a sealed copy of this binary, re-executed before entering the container (see reexec)
    int32_t outlives_parent;     // the parent returns before the handshake ends (`exec -d` into a paused container,
                                 // where we freeze as we are placed): do not die with it
    int32_t cgroup_count;
    int32_t cgroup_dir_fd;       // >= 0: a cgroup2 directory to clone into (CLONE_INTO_CGROUP), -1: none
    int32_t cgroup_dir_index;    // the entry of cgroup_fds that clone3 makes needless when it places us in cgroup_dir_fd
    int32_t reserved;
    const int32_t *cgroup_fds;   // per cgroup of the process: its v1 `tasks` or v2 `cgroup.procs`, opened for writing;
                                 // the child writes "0" to each (see place_in_cgroups)
};

// What a failed step reports: to the parent over error_fd (the spawn stage), or to init's managed code.
// Must match Berth.Linux.SpawnError.
struct berth_spawn_error {
    int32_t stage;               // enum berth_spawn_stage
    int32_t error;               // errno
    int32_t detail;              // which join, fd, resource, capability, uid...
};

// Must match Berth.Linux.SpawnStage (a unit test compares the two through berth_spawn_layout).
enum berth_spawn_stage {
    STAGE_SETNS = 1,
    STAGE_UNSHARE = 2,
    STAGE_SYNC = 3,
    STAGE_SETID = 4,
    // 5 was unshare(CLONE_NEWCGROUP), which init does now.
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
    STAGE_REEXEC = 24,           // [0 fds, 1 execveat of the sealed copy]
    STAGE_PARENT = 25,           // [0 PR_SET_PDEATHSIG, 1 the parent died before the clone could arm it]
    STAGE_CLOSE = 26,            // closing the fds the request does not name
    STAGE_CGROUP = 27,           // [which entry of cgroup_fds] placing ourselves in a cgroup
};

static void report(const struct berth_spawn_request *r, const struct berth_spawn_error *e) {
    ssize_t ignored = write(r->error_fd, e, sizeof *e);
    (void)ignored;
    syscall(SYS_exit_group, 127);
}

static void fail(const struct berth_spawn_request *r, int stage, int detail) {
    struct berth_spawn_error e = { stage, errno, detail };
    report(r, &e);
}

// For the steps shared with init, which report instead of exiting: records the failure, returns -1.
static int failed(struct berth_spawn_error *e, int stage, int detail) {
    e->stage = stage;
    e->error = errno;
    e->detail = detail;
    return -1;
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

// close_range(2), or, where a seccomp filter answers ENOSYS (runc's rule for calls newer than any its profile names;
// close_range is from Linux 5.9), the same one fd at a time up to the fd limit. `cloexec` marks instead of closing.
static int close_range_or_loop(unsigned first, unsigned last, int cloexec) {
    if (syscall(SYS_close_range, first, last, cloexec ? CLOSE_RANGE_CLOEXEC : 0) == 0) return 0;
    if (errno != ENOSYS) return -1;
    struct rlimit lim;
    unsigned limit = 1u << 16;
    if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &lim) == 0 && lim.rlim_cur < (1u << 20)) limit = (unsigned)lim.rlim_cur;
    for (unsigned fd = first; fd <= last && fd < limit; fd++) {
        if (cloexec) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        else close((int)fd);
    }
    return 0;
}

// Init's last step before execve: nothing but stdio and the preserved fds may reach the user's process
// (CVE-2024-21626), even under a filter that refuses close_range.
int berth_cloexec_from(int first) {
    return close_range_or_loop((unsigned)first, ~0U, 1);
}

// Installs the container's filter. With SCMP_ACT_NOTIFY rules the kernel returns a listener fd: it goes to the
// parent at once over listener_fd (which hands it to linux.seccomp.listenerPath), because the steps after this one
// may already be notified calls that only the agent can answer. `detail` tells the two install points apart.
static int install_filter(const struct berth_process_setup *s, int detail, struct berth_spawn_error *e) {
    struct sock_fprog prog = { (unsigned short)s->seccomp_length, (struct sock_filter *)s->seccomp_filter };
    long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->seccomp_flags, &prog);
    if (listener < 0) return failed(e, STAGE_SECCOMP, detail);
    if (s->seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        if (send_fd(s->listener_fd, (int)listener) < 0) return failed(e, STAGE_SECCOMP, 2);
        close((int)listener);
    }
    return 0;
}

// The steps between entering the container and the last exec, in the order the kernel needs: limits first (they
// may need CAP_SYS_RESOURCE), the filter before capabilities are dropped unless no_new_privs lets an unprivileged
// thread install it (then berth_install_late_filter puts it in last, so that it does not govern the setup), the
// bounding set while we still hold CAP_SETPCAP, the cwd (as root, or else as the user), ids with KEEPCAPS so that
// the permitted set survives setresuid, then the sets themselves, no_new_privs, and the check of the cwd. Raw syscalls throughout: glibc's
// set*id and setgroups signal every thread of the process, and the ids must change on this thread only (the one
// that execs; in the spawn stage it is the only one).
int berth_process_setup(const struct berth_process_setup *s, struct berth_spawn_error *e) {
    for (int i = 0; i < s->rlimit_count; i++) {
        struct rlimit lim = { s->rlimits[i].cur, s->rlimits[i].max };
        if (syscall(SYS_prlimit64, 0, s->rlimits[i].resource, &lim, NULL) < 0) return failed(e, STAGE_RLIMIT, s->rlimits[i].resource);
    }
    if (s->umask >= 0) syscall(SYS_umask, s->umask);

    if (s->seccomp_length > 0 && !s->no_new_privs && install_filter(s, 0, e) < 0) return -1;

    if (s->has_caps)
        for (int cap = 0; cap <= s->cap_last_cap; cap++)
            if (!(s->cap_bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                return failed(e, STAGE_BOUNDING, cap);

    // The cwd as root first, as runc: a directory only root may enter still works; one only the user may enter
    // (root squashed on a network filesystem) is tried again after the switch.
    int in_cwd = chdir(s->cwd) == 0;
    if (!in_cwd && errno != EACCES && errno != EPERM) return failed(e, STAGE_CWD, 0);

    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return failed(e, STAGE_KEEPCAPS, 1);
    if (!s->skip_setgroups && syscall(SYS_setgroups, s->gid_count, s->gids) < 0) return failed(e, STAGE_SETGROUPS, 0);
    if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0) return failed(e, STAGE_SETGID, s->gid);
    if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0) return failed(e, STAGE_SETUID, s->uid);

    if (s->has_caps) {
        struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct data[2];
        for (int i = 0; i < 2; i++) {
            data[i].effective = (uint32_t)(s->cap_effective >> (32 * i));
            data[i].permitted = (uint32_t)(s->cap_permitted >> (32 * i));
            data[i].inheritable = (uint32_t)(s->cap_inheritable >> (32 * i));
        }
        if (syscall(SYS_capset, &header, data) < 0) return failed(e, STAGE_CAPSET, 0);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return failed(e, STAGE_AMBIENT, -1);
        // Not fatal, as with runc: an ambient capability that is not also permitted and inheritable cannot be
        // raised (runc's default spec asks for such); the runtime warns about those before the spawn.
        for (int cap = 0; cap <= s->cap_last_cap; cap++)
            if (s->cap_ambient & (1ULL << cap)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return failed(e, STAGE_KEEPCAPS, 0);
    if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return failed(e, STAGE_NO_NEW_PRIVS, 0);

    // A cwd such as /proc/self/fd/N names a directory through an fd this process still holds and leaves the root:
    // the kernel's getcwd then reports a path that does not start with '/' ("(unreachable)/...", CVE-2024-21626).
    if (!in_cwd && chdir(s->cwd) < 0) return failed(e, STAGE_CWD, 0);
    char buf[4096];
    long n = syscall(SYS_getcwd, buf, sizeof buf);
    if (n < 0) return failed(e, STAGE_CWD, 1);
    if (n == 0 || buf[0] != '/') {
        errno = EPERM;
        return failed(e, STAGE_CWD, 2);
    }
    return 0;
}

// With no_new_privs the filter comes last, as close to execve as the caller can put it, so that as few of the
// runtime's own calls as possible run under it (runc's order). A no-op otherwise.
int berth_install_late_filter(const struct berth_process_setup *s, struct berth_spawn_error *e) {
    if (s->seccomp_length > 0 && s->no_new_privs) return install_filter(s, 1, e);
    return 0;
}

// ---- Re-executing a sealed copy (CVE-2019-5736, the `exec` path) ----
//
// Until its last execve this clone runs the host's berth-runtime, and /proc/self/exe names that file. A script in
// the container that starts with `#!/proc/self/exe` makes the kernel run, as its interpreter, whatever
// /proc/self/exe is at the moment of the execve: the host binary, loaded by the container's ld.so, which honours
// the container's ld.so.preload; the preloaded code can keep an fd of the binary and write through it once no
// process runs it. So before `exec` enters the container, this clone re-executes itself from a sealed copy
// (SealedBinary: a read-only overlay or a sealed memfd), as runc's process that enters the container runs from
// its cloned binary. The constructor below picks the request up in the new image, before the .NET runtime starts
// (single-threaded, as setns into a user or mount namespace needs), and continues where the clone left off.
// The request crosses the exec in a memfd: the structs with every pointer turned into an offset in the block,
// then the arrays and strings they point to.

#define REEXEC_ARG "berth-spawn-stage"
#define BLOCK_MAGIC 0x42455254u

struct request_block {
    uint32_t magic;
    uint32_t size;
    struct berth_spawn_request request;
    struct berth_process_setup setup;
};

struct packer {
    char *base;                  // NULL: only count
    size_t used;
};

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

// Offset 0 is the block's header, so it can stand for NULL.
static uintptr_t pack_bytes(struct packer *p, const void *data, size_t len) {
    if (data == NULL) return 0;
    size_t at = p->used;
    if (p->base != NULL) memcpy(p->base + at, data, len);
    p->used += round8(len);
    return at;
}

static uintptr_t pack_string(struct packer *p, const char *s) {
    return s == NULL ? 0 : pack_bytes(p, s, strlen(s) + 1);
}

static uintptr_t pack_strings(struct packer *p, char *const *v) {
    if (v == NULL) return 0;
    size_t n = 0;
    while (v[n] != NULL) n++;
    size_t at = p->used;
    p->used += round8((n + 1) * sizeof(uintptr_t));
    for (size_t i = 0; i <= n; i++) {
        uintptr_t off = i < n ? pack_string(p, v[i]) : 0;
        if (p->base != NULL) memcpy(p->base + at + i * sizeof off, &off, sizeof off);
    }
    return at;
}

#define AS_PTR(type, off) ((type)(uintptr_t)(off))

static void pack(struct packer *p, const struct berth_spawn_request *r) {
    struct request_block b;
    memset(&b, 0, sizeof b);
    p->used = round8(sizeof b);
    b.magic = BLOCK_MAGIC;
    b.request = *r;
    b.request.reexec_fd = -1;    // the copy continues where this one re-executes
    b.request.join_fds = AS_PTR(const int32_t *, pack_bytes(p, r->join_fds, sizeof(int32_t) * (size_t)r->join_count));
    b.request.pass_fds = AS_PTR(const int32_t *, pack_bytes(p, r->pass_fds, sizeof(int32_t) * (size_t)r->pass_count));
    b.request.cgroup_fds = AS_PTR(const int32_t *, pack_bytes(p, r->cgroup_fds, sizeof(int32_t) * (size_t)r->cgroup_count));
    b.request.argv = AS_PTR(char *const *, pack_strings(p, r->argv));
    b.request.envp = AS_PTR(char *const *, pack_strings(p, r->envp));
    b.request.exec_path = AS_PTR(const char *, pack_string(p, r->exec_path));
    b.request.setup = NULL;
    if (r->setup != NULL) {
        const struct berth_process_setup *s = r->setup;
        b.setup = *s;
        b.request.setup = AS_PTR(const struct berth_process_setup *, offsetof(struct request_block, setup));
        b.setup.gids = AS_PTR(const uint32_t *, pack_bytes(p, s->gids, sizeof(uint32_t) * (size_t)s->gid_count));
        b.setup.rlimits = AS_PTR(const struct berth_rlimit *, pack_bytes(p, s->rlimits, sizeof(struct berth_rlimit) * (size_t)s->rlimit_count));
        b.setup.seccomp_filter = AS_PTR(const struct sock_filter *, pack_bytes(p, s->seccomp_filter, sizeof(struct sock_filter) * (size_t)s->seccomp_length));
        b.setup.cwd = AS_PTR(const char *, pack_string(p, s->cwd));
    }
    b.size = (uint32_t)p->used;
    if (p->base != NULL) memcpy(p->base, &b, sizeof b);
}

// The request in a memfd (close-on-exec here; the child clears the flag on its copy). Returns the fd or -errno.
static int pack_to_memfd(const struct berth_spawn_request *r) {
    struct packer count = { NULL, 0 };
    pack(&count, r);
    int fd = (int)syscall(SYS_memfd_create, "berth-spawn-request", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    if (ftruncate(fd, (off_t)count.used) < 0) goto fail;
    char *base = mmap(NULL, count.used, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) goto fail;
    struct packer fill = { base, 0 };
    pack(&fill, r);
    munmap(base, count.used);
    return fd;
fail:;
    int saved = errno;
    close(fd);
    return -saved;
}

static char *relocate(char *base, uintptr_t off) { return off == 0 ? NULL : base + off; }

static char *const *relocate_strings(char *base, uintptr_t off) {
    char **v = (char **)relocate(base, off);
    if (v == NULL) return NULL;
    for (size_t i = 0; v[i] != NULL; i++) v[i] = relocate(base, (uintptr_t)v[i]);
    return v;
}

// The request in a block this process mapped privately, its offsets turned back into pointers; NULL if the block
// is not one that pack wrote.
static const struct berth_spawn_request *unpack(char *base, size_t size) {
    struct request_block *b = (struct request_block *)base;
    if (size < sizeof *b || b->magic != BLOCK_MAGIC || b->size != size) return NULL;
    struct berth_spawn_request *r = &b->request;
    r->join_fds = (const int32_t *)relocate(base, (uintptr_t)r->join_fds);
    r->pass_fds = (const int32_t *)relocate(base, (uintptr_t)r->pass_fds);
    r->cgroup_fds = (const int32_t *)relocate(base, (uintptr_t)r->cgroup_fds);
    r->argv = relocate_strings(base, (uintptr_t)r->argv);
    r->envp = relocate_strings(base, (uintptr_t)r->envp);
    r->exec_path = relocate(base, (uintptr_t)r->exec_path);
    if (r->setup != NULL) {
        struct berth_process_setup *s = &b->setup;
        s->gids = (const uint32_t *)relocate(base, (uintptr_t)s->gids);
        s->rlimits = (const struct berth_rlimit *)relocate(base, (uintptr_t)s->rlimits);
        s->seccomp_filter = (const struct sock_filter *)relocate(base, (uintptr_t)s->seccomp_filter);
        s->cwd = relocate(base, (uintptr_t)s->cwd);
        r->setup = s;
    }
    return r;
}

// Decimal digits of v into out (16 bytes are enough), without stdio.
static void format_uint(char *out, unsigned v) {
    char digits[16];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
    for (int i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    out[n] = 0;
}

static unsigned parse_uint(const char *s) {
    unsigned v = 0;
    for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (unsigned)(*s - '0');
    return v;
}

static void keep_open_across_exec(const struct berth_spawn_request *r, int fd) {
    if (fd >= 0 && fcntl(fd, F_SETFD, 0) < 0) fail(r, STAGE_REEXEC, 0);
}

// Runs the sealed copy with the request's block; the constructor below takes over in it. Signals stay blocked
// across the exec, as they are here. `placed_index` (when clone3 placed us in the cgroup2 directory) goes along as
// a fourth argument.
static void reexec(const struct berth_spawn_request *r, int block_fd, int placed_index) {
    const struct berth_process_setup *s = r->setup;
    const int32_t fds[] = { block_fd, r->sync_fd, r->error_fd, r->stdin_fd, r->stdout_fd, r->stderr_fd, r->exec_fd,
                            s ? s->root_fd : -1, s ? s->listener_fd : -1 };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) keep_open_across_exec(r, fds[i]);
    for (int i = 0; i < r->join_count; i++) keep_open_across_exec(r, r->join_fds[i]);
    for (int i = 0; i < r->pass_count; i++) keep_open_across_exec(r, r->pass_fds[i]);
    for (int i = 0; i < r->cgroup_count; i++) keep_open_across_exec(r, r->cgroup_fds[i]);

    char block[16], placed[16];
    format_uint(block, (unsigned)block_fd);
    format_uint(placed, (unsigned)placed_index);
    char *const argv[] = { "berth-runtime", REEXEC_ARG, block, placed_index >= 0 ? placed : NULL, NULL };
    char *const envp[] = { NULL };
    syscall(SYS_execveat, r->reexec_fd, "", argv, envp, AT_EMPTY_PATH);
    fail(r, STAGE_REEXEC, 1);
}

static void child(const struct berth_spawn_request *r, int block_fd, int placed_index);

// A process started with stdin, stdout or stderr closed gets /dev/null there, before the .NET runtime opens anything:
// otherwise the first fds of its own take those numbers, to be handed to a container as its stdio, or read as
// "fd 0" where 0 meant "none" (Go's runtime does the same for runc).
static void ensure_stdio(void) {
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int opened = open("/dev/null", O_RDWR);
        if (opened >= 0 && opened != fd) {
            dup2(opened, fd);
            close(opened);
        }
    }
}

// Before main, in every binary that links this file (berth-runtime, the daemon). In the sealed copy of `exec`, it
// picks the request up and goes on as the clone would have; any other start passes through.
__attribute__((constructor)) static void reexec_entry(int argc, char **argv, char **envp) {
    (void)envp;
    ensure_stdio();
    if ((argc != 3 && argc != 4) || strcmp(argv[1], REEXEC_ARG) != 0) return;
    int fd = (int)parse_uint(argv[2]);
    int placed_index = argc == 4 ? (int)parse_uint(argv[3]) : -1;
    off_t size = lseek(fd, 0, SEEK_END);
    char *base = size > 0 ? mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    // Nothing to report to without a request: the parent sees the stage end before the handshake.
    if (base == MAP_FAILED) syscall(SYS_exit_group, 127);
    const struct berth_spawn_request *r = unpack(base, (size_t)size);
    if (r == NULL) syscall(SYS_exit_group, 127);
    child(r, -1, placed_index);
}

// A runtime killed mid-way must not leave this clone behind holding what the runtime held. It dies with the parent
// until the parent's part of the handshake is done (the signal survives the re-exec), and it closes every fd the
// request does not name, so that neither the state directory's lock nor the parent's end of the sync socket
// outlives the parent: a read of the sync socket then ends in EOF, and the child exits.
static void close_unnamed_fds(const struct berth_spawn_request *r, int block_fd) {
    const struct berth_process_setup *s = r->setup;
    int keep[16 + r->join_count + r->pass_count + r->cgroup_count];
    int n = 0;
    const int32_t named[] = { block_fd, r->sync_fd, r->error_fd, r->stdin_fd, r->stdout_fd, r->stderr_fd, r->exec_fd,
                              r->reexec_fd, s ? s->root_fd : -1, s ? s->listener_fd : -1 };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) keep[n++] = named[i];
    for (int i = 0; i < r->join_count; i++) keep[n++] = r->join_fds[i];
    for (int i = 0; i < r->pass_count; i++) keep[n++] = r->pass_fds[i];
    for (int i = 0; i < r->cgroup_count; i++) keep[n++] = r->cgroup_fds[i];
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned from = (unsigned)(r->keep_below > 3 ? r->keep_below : 3);
    for (int i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < from) continue;
        if ((unsigned)keep[i] > from && close_range_or_loop(from, (unsigned)keep[i] - 1, 0) < 0) fail(r, STAGE_CLOSE, (int)from);
        from = (unsigned)keep[i] + 1;
    }
    if (close_range_or_loop(from, ~0U, 0) < 0) fail(r, STAGE_CLOSE, (int)from);
}

static void guard_parent(const struct berth_spawn_request *r, int block_fd, long parent) {
    close_unnamed_fds(r, block_fd);
    if (r->outlives_parent) return;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) fail(r, STAGE_PARENT, 0);
    // The parent may have died before the signal was armed. In a new PID namespace the parent is outside it and
    // getppid says 0 either way: there the sync socket's EOF tells.
    long ppid = syscall(SYS_getppid);
    if (ppid != parent && !(ppid == 0 && (r->clone_flags & CLONE_NEWPID))) {
        errno = ESRCH;
        fail(r, STAGE_PARENT, 1);
    }
}

// The kernel's struct sigaction (rt_sigaction), which is not glibc's: handler, flags, restorer, then the mask.
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

// Every handler back to SIG_DFL (they point into the parent's runtime), including an ignored SIGPIPE.
static void reset_signal_handlers(void) {
    struct kernel_sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    }
}

// The child places itself in its cgroups, before it joins or runs anything: "0" to a v1 `tasks` file moves the
// calling thread, which is the whole process while we are single-threaded, and the threads init starts later are
// born there. Why not the parent writing the pid to cgroup.procs, as runc and crun do: moving a thread group takes
// the kernel's global cgroup_threadgroup_rwsem for writing, which first waits for an RCU grace period (7-19 ms on
// this kind of host), on the critical path of every create; a thread that moves itself takes no such lock
// (cgroup_procs_write_start). cgroup2 has no such file (cgroup.threads is for threaded cgroups only): there clone3
// put us in place already (CLONE_INTO_CGROUP, no writer lock either), or, where clone3 could not, we write "0" to its
// cgroup.procs and wait like runc. `skip` is the entry clone3 made needless, or -1.
static void place_in_cgroups(const struct berth_spawn_request *r, int skip) {
    for (int i = 0; i < r->cgroup_count; i++) {
        if (i == skip) continue;
        ssize_t n;
        do n = write(r->cgroup_fds[i], "0", 1); while (n < 0 && errno == EINTR);
        if (n != 1) fail(r, STAGE_CGROUP, i);
    }
}

static void child(const struct berth_spawn_request *r, int block_fd, int placed_index) {
    const struct berth_process_setup *setup = r->setup;
    // Until the exec, this clone is a copy of berth-runtime. Non-dumpable, a process of the container cannot
    // open /proc/<pid>/exe (the host binary) or ptrace us once we joined its namespaces (CVE-2019-5736);
    // execve makes the user's program dumpable again.
    if (setup != NULL && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(r, STAGE_DUMPABLE, 0);
    if (r->reexec_fd >= 0) reexec(r, block_fd, placed_index);

    // Handlers point into the parent's runtime: reset every one, including ignored SIGPIPE, before
    // unblocking. The container starts with an empty signal mask.
    reset_signal_handlers();
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof empty);

    place_in_cgroups(r, placed_index);

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
    // The parent has done its part (maps, cgroups): from here on we go on alone, and must outlive it. `exec -d`
    // and `create` return while we run (an exec into a paused container even before we exec), and a parent that
    // dies now leaves init to read EOF on its channel and exit.
    if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) fail(r, STAGE_PARENT, 0);

    if (r->become_root) {
        // Raw syscalls on purpose: glibc's set*id wrappers signal every thread of the (cloned) parent.
        if (syscall(SYS_setresgid, 0, 0, 0) < 0) fail(r, STAGE_SETID, 1);
        if (syscall(SYS_setresuid, 0, 0, 0) < 0) fail(r, STAGE_SETID, 0);
    }


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
    // session leader can take it as controlling terminal (the parent sets new_session with it). The peer
    // fd is the same open file that the dup2 below puts on 0, 1 and 2.
    if (setup != NULL && setup->set_controlling_terminal && ioctl(r->stdin_fd, TIOCSCTTY, 0) < 0) fail(r, STAGE_CTTY, 1);

    struct berth_spawn_error e;
    if (setup != NULL && berth_process_setup(setup, &e) < 0) report(r, &e);

    const int32_t stdio[3] = { r->stdin_fd, r->stdout_fd, r->stderr_fd };
    for (int i = 0; i < 3; i++)
        if (stdio[i] >= 0 && dup2(stdio[i], i) < 0) fail(r, STAGE_FDS, stdio[i]);

    if (r->keep_below >= 3 && close_range_or_loop((unsigned)r->keep_below, ~0U, 1) < 0)
        fail(r, STAGE_FDS, -1);
    for (int i = 0; i < r->pass_count; i++)
        if (fcntl(r->pass_fds[i], F_SETFD, 0) < 0) fail(r, STAGE_FDS, r->pass_fds[i]);
    if (fcntl(r->error_fd, F_SETFD, FD_CLOEXEC) < 0) fail(r, STAGE_FDS, r->error_fd);

    // With no_new_privs the filter comes last, so that only execve runs under it (the profile must allow that).
    if (setup != NULL && berth_install_late_filter(setup, &e) < 0) report(r, &e);

    if (r->exec_fd >= 0)
        syscall(SYS_execveat, r->exec_fd, "", r->argv, r->envp, AT_EMPTY_PATH);
    else
        syscall(SYS_execve, r->exec_path, r->argv, r->envp);
    fail(r, STAGE_EXEC, 0);
}

// struct clone_args up to its cgroup field (CLONE_ARGS_SIZE_VER2), declared here: not every libc's headers have it.
struct clone_args_v2 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
_Static_assert(sizeof(struct clone_args_v2) == 88, "CLONE_ARGS_SIZE_VER2");
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

// Returns the child's pid, or -errno if clone failed. Signals are blocked around clone so that the child
// cannot run one of the parent's handlers before it resets them.
int berth_spawn(const struct berth_spawn_request *r) {
    int block_fd = -1;
    if (r->reexec_fd >= 0 && (block_fd = pack_to_memfd(r)) < 0) return block_fd;
    long parent = syscall(SYS_getpid);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = -1;
    int placed_index = -1;
    // Into the cgroup2 directory at once where clone3 can (Linux 5.7+, and a cgroup that takes processes); anything
    // else it refuses (ENOSYS under an older seccomp profile, E2BIG, EBUSY, ...) the plain clone below tries again,
    // and the child writes cgroup.procs itself.
    if (r->cgroup_dir_fd >= 0) {
        struct clone_args_v2 args;
        memset(&args, 0, sizeof args);
        args.flags = (uint64_t)(uint32_t)r->clone_flags | CLONE_INTO_CGROUP_FLAG;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)r->cgroup_dir_fd;
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid >= 0) placed_index = r->cgroup_dir_index;
    }
    if (pid < 0) pid = syscall(SYS_clone, (unsigned long)r->clone_flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        guard_parent(r, block_fd, parent);
        child(r, block_fd, placed_index);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (block_fd >= 0) close(block_fd);
    return pid < 0 ? -saved : (int)pid;
}

// ---- A detached program: berth_spawn_detached ----
//
// berthd starts each container's monitor so that the monitor is no child of berthd (it must outlive berthd, be
// reaped by someone else, and be found again after a restart): a double fork whose intermediate exits at once.
// Done here rather than by a launcher process, which cost a NativeAOT start-up (~5 ms) on every `docker run`, and
// rather than by berthd spawning the monitor itself, which would make it berthd's child: a zombie until berthd reaped
// it, alive to kill(pid, 0), and a reaper to keep. Both clones share the caller's memory (CLONE_VM|CLONE_VFORK, as
// posix_spawn), so neither copies berthd's page tables, and the caller's thread waits until the program has
// exec'd. The grandchild runs only raw system calls: it shares the caller's memory until its exec.

struct detached {
    const char *path;
    char *const *argv;
    char *const *envp;
    int stdio[3];
    int error;                   // the grandchild's errno when its setsid, dup2 or execve failed
    int pid;                     // the grandchild's pid, or -errno of its clone
    char stack[2][32768] __attribute__((aligned(16)));
};

static int detached_program(void *arg) {
    struct detached *d = arg;
    reset_signal_handlers();
    if (syscall(SYS_setsid) < 0) goto failed;
    for (int i = 0; i < 3; i++)
        if (syscall(SYS_dup2, d->stdio[i], i) < 0) goto failed;
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof empty);
    syscall(SYS_execve, d->path, d->argv, d->envp);
failed:
    d->error = errno;
    syscall(SYS_exit_group, 127);
    return 0;
}

static int detached_intermediate(void *arg) {
    struct detached *d = arg;
    // CLONE_VFORK: clone returns once the grandchild has exec'd or exited. When it exec'd, it is reparented as this
    // process exits (to the nearest subreaper, or init); when it failed, it is reaped here.
    int pid = clone(detached_program, d->stack[1] + sizeof d->stack[1], CLONE_VM | CLONE_VFORK | SIGCHLD, d);
    if (pid < 0) d->pid = -errno;
    else {
        d->pid = pid;
        if (d->error != 0) syscall(SYS_wait4, pid, NULL, __WALL, NULL);
    }
    syscall(SYS_exit_group, 0);
    return 0;
}

// Starts `path` with argv and envp in a new session, stdio on the given fds (dup2'd; close-on-exec elsewhere is
// the caller's: every other fd it holds must be), every signal at its default and none blocked, as a grandchild
// whose parent has exited. Returns its pid, or -errno when a clone, setsid, dup2 or the execve failed.
int berth_spawn_detached(const char *path, char *const *argv, char *const *envp, int in, int out, int err) {
    struct detached *d = mmap(NULL, sizeof *d, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (d == MAP_FAILED) return -errno;
    d->path = path;
    d->argv = argv;
    d->envp = envp;
    d->stdio[0] = in;
    d->stdio[1] = out;
    d->stdio[2] = err;
    d->error = 0;
    d->pid = 0;
    // Blocked around the clones so that neither runs one of the caller's handlers; the grandchild resets them all
    // before it unblocks.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int intermediate = clone(detached_intermediate, d->stack[0] + sizeof d->stack[0], CLONE_VM | CLONE_VFORK | SIGCHLD, d);
    int result = intermediate < 0 ? -errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (intermediate > 0) {
        while (syscall(SYS_wait4, intermediate, NULL, __WALL, NULL) < 0 && errno == EINTR) { }
        result = d->pid < 0 ? d->pid : d->error != 0 ? -d->error : d->pid;
    }
    munmap(d, sizeof *d);
    return result;
}

// ---- The C# mirrors' check ----
//
// Berth.Linux declares these structs again (Libc.Spawn.cs); a unit test walks this table and compares every size
// and offset, and the stage numbers, with Marshal.SizeOf/OffsetOf and the C# enum, so the two cannot drift apart.

_Static_assert(sizeof(void *) == 8, "the C# mirrors assume 64-bit pointers");
_Static_assert(sizeof(struct berth_rlimit) == 24, "struct berth_rlimit is int, int, u64, u64");
_Static_assert(sizeof(struct berth_spawn_error) == 12, "the error pipe carries three ints");
_Static_assert(sizeof(struct kernel_sigaction) == 32, "the kernel's struct sigaction on x86_64");

#define SIZE(s) { #s, (int)sizeof(struct s) }
#define FIELD(s, f) { #s "." #f, (int)offsetof(struct s, f) }
#define STAGE(n) { "stage." #n, n }

static const struct { const char *name; int value; } layout[] = {
    SIZE(berth_spawn_request),
    FIELD(berth_spawn_request, exec_fd), FIELD(berth_spawn_request, clone_flags), FIELD(berth_spawn_request, unshare_flags),
    FIELD(berth_spawn_request, fork_after), FIELD(berth_spawn_request, become_root),
    FIELD(berth_spawn_request, sync_fd), FIELD(berth_spawn_request, error_fd), FIELD(berth_spawn_request, keep_below),
    FIELD(berth_spawn_request, join_count), FIELD(berth_spawn_request, pass_count), FIELD(berth_spawn_request, stdin_fd),
    FIELD(berth_spawn_request, stdout_fd), FIELD(berth_spawn_request, stderr_fd), FIELD(berth_spawn_request, new_session),
    FIELD(berth_spawn_request, join_fds), FIELD(berth_spawn_request, pass_fds), FIELD(berth_spawn_request, argv),
    FIELD(berth_spawn_request, envp), FIELD(berth_spawn_request, exec_path), FIELD(berth_spawn_request, setup),
    FIELD(berth_spawn_request, reexec_fd), FIELD(berth_spawn_request, outlives_parent),
    FIELD(berth_spawn_request, cgroup_count), FIELD(berth_spawn_request, cgroup_dir_fd), FIELD(berth_spawn_request, cgroup_dir_index),
    FIELD(berth_spawn_request, reserved), FIELD(berth_spawn_request, cgroup_fds),
    SIZE(berth_process_setup),
    FIELD(berth_process_setup, root_fd), FIELD(berth_process_setup, uid), FIELD(berth_process_setup, gid),
    FIELD(berth_process_setup, gid_count), FIELD(berth_process_setup, skip_setgroups), FIELD(berth_process_setup, rlimit_count),
    FIELD(berth_process_setup, has_caps), FIELD(berth_process_setup, cap_last_cap), FIELD(berth_process_setup, no_new_privs),
    FIELD(berth_process_setup, umask), FIELD(berth_process_setup, seccomp_flags), FIELD(berth_process_setup, seccomp_length),
    FIELD(berth_process_setup, set_controlling_terminal), FIELD(berth_process_setup, listener_fd), FIELD(berth_process_setup, cap_bounding),
    FIELD(berth_process_setup, cap_effective), FIELD(berth_process_setup, cap_inheritable), FIELD(berth_process_setup, cap_permitted),
    FIELD(berth_process_setup, cap_ambient), FIELD(berth_process_setup, gids), FIELD(berth_process_setup, rlimits),
    FIELD(berth_process_setup, seccomp_filter), FIELD(berth_process_setup, cwd),
    SIZE(berth_rlimit),
    FIELD(berth_rlimit, resource), FIELD(berth_rlimit, reserved), FIELD(berth_rlimit, cur), FIELD(berth_rlimit, max),
    SIZE(berth_spawn_error),
    FIELD(berth_spawn_error, stage), FIELD(berth_spawn_error, error), FIELD(berth_spawn_error, detail),
    STAGE(STAGE_SETNS), STAGE(STAGE_UNSHARE), STAGE(STAGE_SYNC), STAGE(STAGE_SETID),
    STAGE(STAGE_FDS), STAGE(STAGE_FORK), STAGE(STAGE_EXEC), STAGE(STAGE_DUMPABLE), STAGE(STAGE_CHROOT),
    STAGE(STAGE_RLIMIT), STAGE(STAGE_SECCOMP), STAGE(STAGE_BOUNDING), STAGE(STAGE_KEEPCAPS), STAGE(STAGE_SETGROUPS),
    STAGE(STAGE_SETGID), STAGE(STAGE_SETUID), STAGE(STAGE_CAPSET), STAGE(STAGE_AMBIENT), STAGE(STAGE_NO_NEW_PRIVS),
    STAGE(STAGE_CWD), STAGE(STAGE_CTTY), STAGE(STAGE_SESSION), STAGE(STAGE_REEXEC), STAGE(STAGE_PARENT),
    STAGE(STAGE_CLOSE), STAGE(STAGE_CGROUP),
};

// Entry i of the table: its name ("struct.field", a struct's name alone for its size, "stage.NAME") and value;
// -1 past the end.
int berth_spawn_layout(int i, const char **name) {
    if (i < 0 || (size_t)i >= sizeof layout / sizeof layout[0]) return -1;
    *name = layout[i].name;
    return layout[i].value;
}
