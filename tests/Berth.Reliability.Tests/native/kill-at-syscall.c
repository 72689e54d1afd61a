// kill-at-syscall: runs a program under ptrace and SIGKILLs it at one chosen system call, so that a test can kill
// the runtime at an exact phase of a command (after the claim of an id, between two cgroup mkdirs, after the
// handshake with init...) without any test-only code in the runtime: the published binary is the one traced.
//
//   KILLAT_RULE=WHEN:WHO:SYSCALL:NTH[:MATCH[&&MATCH...]] KILLAT_PROGRAM=/path/berth-runtime KILLAT_REPORT=FILE
//   kill-at-syscall ARGS...            runs KILLAT_PROGRAM with ARGS (argv[0] is the program's path)
//
//   WHEN    enter (the call has not run) or exit (it has returned)
//   WHO     runtime (any thread of the program's own process) or descendant (a process it forked, e.g. the spawn
//           stage, init or an exec'd process, all traced too)
//   SYSCALL a family: open, mkdir, rmdir, unlink, rename, mknod, write, read, send, recv, clone, execve, kill, flock,
//           close, exit_group (the *at, 2, 3 and v variants are folded into their family)
//   NTH     the Nth call of the family that matches, counted over every traced process
//   MATCH   substrings that must all occur in the call's description, which reads e.g.
//             rename path=/tmp/s/.claim-x.12.ab path2=/tmp/s/x
//             write fd=socket:[1234] data="g"
//             read fd=/tmp/s/x/exec.fifo data="0" ret=1
//             clone process          (or: clone thread)
//             rmdir path=/sys/fs/cgroup/pids/x
//           (dirfd=LINK for *at calls relative to a directory fd; ret=N at exit.)
//
// When the rule matches, the program's process (not a descendant: "the runtime") gets SIGKILL while the matching
// call is stopped; every other tracee is detached as it next stops, or when this helper exits. The report file
// then holds "hit TID DESCRIPTION"; if the program exits first it holds "missed STATUS". The exit status mirrors
// the program's (128+signal when killed), 125 on a usage or tracing error.
//
// Tracees are attached with PTRACE_SEIZE: new children start with a ptrace trap, not a SIGSTOP that would stop them
// for good once detached.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TRACEES 4096
#define MAX_MATCHES 8
#define AT_FDCWD_VALUE (-100)
#define AT_REMOVEDIR_FLAG 0x200
#define CLONE_THREAD_FLAG 0x00010000UL

struct tracee {
    pid_t tid;
    pid_t tgid;
    int in_syscall;              // between an entry stop and its exit stop
    uint64_t args[6];            // of the call in progress
    char description[1024];      // of the call in progress, made at entry, completed at exit
    const char *family;
};

static struct tracee tracees[MAX_TRACEES];
static int tracee_count;

static struct {
    int at_exit;
    int in_descendant;
    const char *family;
    int nth;
    const char *matches[MAX_MATCHES];
    int match_count;
} rule;

static const char *report_path;
static pid_t root;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("kill-at-syscall: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(125);
}

static void report(const char *fmt, ...) {
    FILE *f = fopen(report_path, "w");
    if (f == NULL) die("cannot write the report %s: %s", report_path, strerror(errno));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static struct tracee *find(pid_t tid) {
    for (int i = 0; i < tracee_count; i++)
        if (tracees[i].tid == tid) return &tracees[i];
    return NULL;
}

// The thread group of a tid, from /proc (a new tracee may report before the event that created it).
static pid_t tgid_of(pid_t tid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return tid;
    pid_t tgid = tid;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Tgid: %d", &tgid) == 1) break;
    fclose(f);
    return tgid;
}

static struct tracee *track(pid_t tid) {
    struct tracee *t = find(tid);
    if (t != NULL) return t;
    if (tracee_count == MAX_TRACEES) {
        // Exited tracees are removed as they go: this many live ones means something runs away.
        die("more than %d traced threads", MAX_TRACEES);
    }
    t = &tracees[tracee_count++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    t->tgid = tgid_of(tid);
    return t;
}

static void untrack(pid_t tid) {
    struct tracee *t = find(tid);
    if (t != NULL) *t = tracees[--tracee_count];
}

static void append(struct tracee *t, const char *fmt, ...) {
    size_t used = strlen(t->description);
    if (used >= sizeof t->description - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->description + used, sizeof t->description - used, fmt, ap);
    va_end(ap);
}

// Reads up to len bytes of the tracee's memory at addr, page by page (a string may end just before an unmapped page).
static size_t peek(pid_t tid, uint64_t addr, char *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        size_t page_left = 4096 - ((addr + done) & 4095);
        size_t want = len - done < page_left ? len - done : page_left;
        struct iovec local = { buf + done, want }, remote = { (void *)(uintptr_t)(addr + done), want };
        ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
        if (n <= 0) break;
        done += (size_t)n;
        if ((size_t)n < want) break;
    }
    return done;
}

static void append_string(struct tracee *t, const char *key, uint64_t addr) {
    char buf[512];
    size_t n = addr == 0 ? 0 : peek(t->tid, addr, buf, sizeof buf - 1);
    buf[n] = 0;
    append(t, " %s=%s", key, buf);
}

static void append_fd(struct tracee *t, const char *key, int64_t fd) {
    char path[64], target[512];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", t->tid, (int)fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) n = snprintf(target, sizeof target, "%d", (int)fd);
    target[n] = 0;
    append(t, " %s=%s", key, target);
}

static void append_dirfd(struct tracee *t, int64_t dirfd) {
    if ((int)dirfd != AT_FDCWD_VALUE) append_fd(t, "dirfd", dirfd);
}

// data="..." with the first bytes of a buffer, non-printable bytes as \xNN.
static void append_data(struct tracee *t, uint64_t addr, int64_t len) {
    char buf[64];
    size_t n = len <= 0 ? 0 : peek(t->tid, addr, buf, len < (int64_t)sizeof buf ? (size_t)len : sizeof buf);
    append(t, " data=\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') append(t, "%c", c);
        else append(t, "\\x%02x", c);
    }
    append(t, "\"");
}

// The family of a syscall number and its description at entry; NULL for calls no rule can name.
static const char *describe_entry(struct tracee *t, uint64_t nr, const uint64_t *a) {
    t->description[0] = 0;
    const char *f = NULL;
    switch (nr) {
    case SYS_open: f = "open"; append(t, "open"); append_string(t, "path", a[0]); break;
    case SYS_openat: case SYS_openat2: f = "open"; append(t, "open"); append_dirfd(t, a[0]); append_string(t, "path", a[1]); break;
    case SYS_mkdir: f = "mkdir"; append(t, "mkdir"); append_string(t, "path", a[0]); break;
    case SYS_mkdirat: f = "mkdir"; append(t, "mkdir"); append_dirfd(t, a[0]); append_string(t, "path", a[1]); break;
    case SYS_rmdir: f = "rmdir"; append(t, "rmdir"); append_string(t, "path", a[0]); break;
    case SYS_unlink: f = "unlink"; append(t, "unlink"); append_string(t, "path", a[0]); break;
    case SYS_unlinkat:
        f = (a[2] & AT_REMOVEDIR_FLAG) ? "rmdir" : "unlink";
        append(t, "%s", f); append_dirfd(t, a[0]); append_string(t, "path", a[1]);
        break;
    case SYS_rename: f = "rename"; append(t, "rename"); append_string(t, "path", a[0]); append_string(t, "path2", a[1]); break;
    case SYS_renameat: case SYS_renameat2:
        f = "rename"; append(t, "rename"); append_dirfd(t, a[0]); append_string(t, "path", a[1]); append_string(t, "path2", a[3]);
        break;
    case SYS_mknod: f = "mknod"; append(t, "mknod"); append_string(t, "path", a[0]); break;
    case SYS_mknodat: f = "mknod"; append(t, "mknod"); append_dirfd(t, a[0]); append_string(t, "path", a[1]); break;
    case SYS_write: case SYS_pwrite64: f = "write"; append(t, "write"); append_fd(t, "fd", (int64_t)a[0]); append_data(t, a[1], (int64_t)a[2]); break;
    case SYS_writev: f = "write"; append(t, "write"); append_fd(t, "fd", (int64_t)a[0]); break;
    case SYS_read: case SYS_pread64: f = "read"; append(t, "read"); append_fd(t, "fd", (int64_t)a[0]); break;
    case SYS_sendto: case SYS_sendmsg: f = "send"; append(t, "send"); append_fd(t, "fd", (int64_t)a[0]); break;
    case SYS_recvfrom: case SYS_recvmsg: f = "recv"; append(t, "recv"); append_fd(t, "fd", (int64_t)a[0]); break;
    case SYS_clone: f = "clone"; append(t, "clone %s", (a[0] & CLONE_THREAD_FLAG) ? "thread" : "process"); break;
    case SYS_clone3: {
        uint64_t flags = 0;
        peek(t->tid, a[0], (char *)&flags, sizeof flags);
        f = "clone";
        append(t, "clone %s", (flags & CLONE_THREAD_FLAG) ? "thread" : "process");
        break;
    }
    case SYS_fork: case SYS_vfork: f = "clone"; append(t, "clone process"); break;
    case SYS_execve: f = "execve"; append(t, "execve"); append_string(t, "path", a[0]); break;
    case SYS_execveat: f = "execve"; append(t, "execve"); append_dirfd(t, a[0]); append_string(t, "path", a[1]); break;
    case SYS_kill: case SYS_tgkill: f = "kill"; append(t, "kill"); break;
    case SYS_pidfd_send_signal: f = "kill"; append(t, "kill pidfd signal=%d", (int)a[1]); break;
    case SYS_flock: f = "flock"; append(t, "flock"); append_fd(t, "fd", (int64_t)a[0]); break;
    case SYS_close: f = "close"; append(t, "close"); append_fd(t, "fd", (int64_t)a[0]); break;
    case SYS_exit_group: f = "exit_group"; append(t, "exit_group"); break;
    default: break;
    }
    return f;
}

static void describe_exit(struct tracee *t, const uint64_t *a, int64_t ret) {
    // A read's data is only there once it returned.
    if (strcmp(t->family, "read") == 0 && ret > 0) append_data(t, a[1], ret);
    append(t, " ret=%lld", (long long)ret);
}

static int matches(const struct tracee *t, int at_exit) {
    if (rule.at_exit != at_exit || strcmp(rule.family, t->family) != 0) return 0;
    if ((t->tgid != root) != rule.in_descendant) return 0;
    for (int i = 0; i < rule.match_count; i++)
        if (strstr(t->description, rule.matches[i]) == NULL) return 0;
    return 1;
}

static void parse_rule(char *text) {
    char *fields[5] = { 0 };
    int n = 0;
    char *p = text;
    // WHEN:WHO:SYSCALL:NTH, then everything after the fourth ':' is the match (it may hold ':' itself).
    while (n < 4) {
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (colon == NULL) break;
        *colon = 0;
        p = colon + 1;
        if (n == 4) fields[4] = p;
    }
    if (n < 4) die("KILLAT_RULE must be WHEN:WHO:SYSCALL:NTH[:MATCH], not %s", text);
    if (strcmp(fields[0], "enter") != 0 && strcmp(fields[0], "exit") != 0) die("WHEN must be enter or exit: %s", fields[0]);
    if (strcmp(fields[1], "runtime") != 0 && strcmp(fields[1], "descendant") != 0) die("WHO must be runtime or descendant: %s", fields[1]);
    rule.at_exit = strcmp(fields[0], "exit") == 0;
    rule.in_descendant = strcmp(fields[1], "descendant") == 0;
    rule.family = fields[2];
    rule.nth = atoi(fields[3]);
    if (rule.nth < 1) die("NTH must be 1 or more: %s", fields[3]);
    for (char *m = fields[4]; m != NULL && *m != 0;) {
        if (rule.match_count == MAX_MATCHES) die("at most %d matches", MAX_MATCHES);
        rule.matches[rule.match_count++] = m;
        char *and = strstr(m, "&&");
        if (and == NULL) break;
        *and = 0;
        m = and + 2;
    }
}

int main(int argc, char **argv) {
    char *rule_text = getenv("KILLAT_RULE");
    const char *program = getenv("KILLAT_PROGRAM");
    report_path = getenv("KILLAT_REPORT");
    if (rule_text == NULL || program == NULL || report_path == NULL || argc < 1)
        die("KILLAT_RULE, KILLAT_PROGRAM and KILLAT_REPORT must be set");
    rule_text = strdup(rule_text);
    parse_rule(rule_text);
    unlink(report_path);

    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
    root = fork();
    if (root < 0) die("fork: %s", strerror(errno));
    if (root == 0) {
        // Wait until the parent has seized us, then become the program (its exec is the first stop).
        char c;
        close(gate[1]);
        while (read(gate[0], &c, 1) < 0 && errno == EINTR) { }
        unsetenv("KILLAT_RULE");
        unsetenv("KILLAT_PROGRAM");
        unsetenv("KILLAT_REPORT");
        argv[0] = (char *)program;
        execv(program, argv);
        fprintf(stderr, "kill-at-syscall: exec %s: %s\n", program, strerror(errno));
        _exit(127);
    }
    close(gate[0]);
    long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
    if (ptrace(PTRACE_SEIZE, root, 0, options) < 0) die("PTRACE_SEIZE: %s", strerror(errno));
    track(root);
    close(gate[1]);

    int seen = 0, killed = 0;
    for (;;) {
        int status;
        pid_t tid = waitpid(-1, &status, __WALL);
        if (tid < 0) {
            if (errno == EINTR) continue;
            die("waitpid: %s", strerror(errno));
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            untrack(tid);
            if (tid != root) continue;
            if (!killed) report("missed %s %d", WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (!WIFSTOPPED(status)) continue;
        struct tracee *t = track(tid);
        int sig = WSTOPSIG(status), event = status >> 16, deliver = 0;
        if (killed) {
            // The runtime is dying: let everything else go on untraced, as it would have without us.
            if (event == 0 && sig != (SIGTRAP | 0x80)) deliver = sig;
            ptrace(PTRACE_DETACH, tid, 0, deliver);
            untrack(tid);
            continue;
        }
        if (sig == (SIGTRAP | 0x80)) {
            struct __ptrace_syscall_info info;
            memset(&info, 0, sizeof info);
            if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) <= 0) die("PTRACE_GET_SYSCALL_INFO: %s", strerror(errno));
            uint64_t *args = t->args;
            int hit = 0;
            if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
                memcpy(args, info.entry.args, sizeof info.entry.args);
                t->family = describe_entry(t, info.entry.nr, args);
                t->in_syscall = t->family != NULL;
                hit = t->in_syscall && matches(t, 0);
            } else if (info.op == PTRACE_SYSCALL_INFO_EXIT && t->in_syscall) {
                t->in_syscall = 0;
                describe_exit(t, args, info.exit.rval);
                hit = matches(t, 1);
            }
            if (hit && ++seen == rule.nth) {
                report("hit %d %s", tid, t->description);
                kill(root, SIGKILL);
                killed = 1;
                if (t->tgid != root) {
                    ptrace(PTRACE_DETACH, tid, 0, 0);
                    untrack(tid);
                    continue;
                }
            }
        } else if (event == 0) {
            deliver = sig; // a signal for the tracee: pass it on
        }
        // Event stops (fork, clone, exec, the first trap of a new tracee, group stops) carry no signal to deliver; an
        // execve's exit stop follows its exec event. Resuming a tracee that died meanwhile just fails (ESRCH).
        ptrace(PTRACE_SYSCALL, tid, 0, deliver);
    }
}
