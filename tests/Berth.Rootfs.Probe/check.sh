#!/bin/bash
# Runs Berth.Rootfs.Probe (RootfsBuilder on a busybox rootfs) as root in several namespace setups and checks what
# the container sees. Exits non-zero on any mismatch. Needs root, busybox-static, dotnet.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export DOTNET_EnableDiagnostics=0 DOTNET_CLI_TELEMETRY_OPTOUT=1
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

dotnet build -v q -nologo "$HERE" >/dev/null || { echo "build failed"; exit 1; }
PROBE="$REPO/artifacts/bin/Berth.Rootfs.Probe/debug/Berth.Rootfs.Probe.dll"

WORK=$(mktemp -d /tmp/berth-rootfs-probe.XXXXXX)
R=$WORK/rootfs
mkdir -p "$R/bin" "$WORK/hostdir" "$WORK/locked"
cp "$(command -v busybox)" "$R/bin/busybox"
for c in $("$R/bin/busybox" --list); do [ "$c" = busybox ] || ln -sf busybox "$R/bin/$c"; done
mkdir -p "$R/proc" "$R/sys" "$R/dev" "$R/etc" "$R/tmp"
ln -s /etc "$R/escape"        # a destination through it must land in the rootfs's /etc
echo hostmarker > "$WORK/hostdir/hostmarker"
echo filemarker > "$WORK/hostfile"

# In the container: each check prints "RESULT name=yes|no"; mount options are printed as "OPTS path=...".
read -r -d '' SCRIPT <<'IN'
t() { if eval "$2" >/dev/null 2>&1; then echo "RESULT $1=yes"; else echo "RESULT $1=no"; fi; }
opts() { awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); o = $6 "|" $(i + 1) "|" $4 } END { print "OPTS " p "=" o }' /proc/self/mountinfo; }
echo "== mountinfo"; cat /proc/self/mountinfo
echo "== /dev"; ls -l /dev
t pid1_is_sh '[ "$(cat /proc/1/comm)" = sh ]'
t proc_sys_write 'echo x > /proc/sys/kernel/domainname'
t root_write 'touch /newfile'
t data_write 'echo written > /data/written'
t data_ro_write 'touch /data-ro/x'
t data_ro_read 'grep -q hostmarker /data-ro/hostmarker'
t hostfile 'grep -q filemarker /etc/hostfile'
t symlink_dest_inside 'grep -q hostmarker /etc/injected/hostmarker'
t dotdot_dest_inside 'grep -q hostmarker /escape2/hostmarker'
t keys_masked '[ -z "$(cat /proc/keys)" ]'
t timer_list_masked '[ -z "$(cat /proc/timer_list)" ]'
t firmware_masked '[ -z "$(ls -A /sys/firmware)" ]'
t sys_write 'mkdir /sys/kernel/berth-x'
t cgroup_write 'mkdir /sys/fs/cgroup/memory/berth-x'
t cgroup_v2_root 'test -f /sys/fs/cgroup/cgroup.procs && ! test -e /sys/fs/cgroup/memory'
t cgroup_v2_write 'mkdir /sys/fs/cgroup/berth-x'
t cgroup_memory 'test -f /sys/fs/cgroup/memory/memory.limit_in_bytes'
t cgroup_unified 'test -f /sys/fs/cgroup/unified/cgroup.procs'
t cgroup_systemd 'test -d /sys/fs/cgroup/systemd'
t devnull_write 'echo x > /dev/null'
t devzero_read '[ "$(head -c 4 /dev/zero | wc -c)" -eq 4 ]'
t devnull_char '[ -c /dev/null ] && [ "$(stat -c %t:%T /dev/null)" = 1:3 ]'
t fuse_char '[ -c /dev/fuse ] && [ "$(stat -c %t:%T /dev/fuse)" = a:e5 ]'
t ptmx_link '[ "$(readlink /dev/ptmx)" = pts/ptmx ]'
t fd_link '[ "$(readlink /dev/fd)" = /proc/self/fd ]'
t stderr_link '[ "$(readlink /dev/stderr)" = /proc/self/fd/2 ]'
t shm_write 'echo x > /dev/shm/x'
t run_write 'echo x > /run/x'
t no_host_mounts '! grep -q -e /mnt/sandboxing -e " /work" /proc/self/mountinfo'
echo "MODE full=$(stat -c %a /dev/full)"
echo "MODE rootprop=$(awk '$5 == "/" { p = ""; for (i = 7; $i != "-"; i++) p = p $i; print (p == "" ? "private" : p) }' /proc/self/mountinfo | sed 's/:[0-9]*//g')"
echo "COUNT cgroupfs=$(awk '$5 == "/sys/fs/cgroup"' /proc/self/mountinfo | wc -l)"
echo "COUNT devnull_mounts=$(awk '$5 == "/dev/null"' /proc/self/mountinfo | wc -l)"
for p in / /proc /sys /sys/fs/cgroup /sys/fs/cgroup/memory /sys/fs/cgroup/unified /dev /dev/pts /dev/shm /dev/mqueue \
    /data /data-ro /proc/sys /proc/acpi /locked; do opts $p; done
IN

# run NAME UNSHARE-ARGS... -- PROBE-FLAGS...   (the unshare command line ends in "dotnet", added when missing)
run() {
    local name=$1; shift
    local un=() pf=()
    while [ "$1" != -- ]; do un+=("$1"); shift; done; shift
    pf=("$@")
    echo "=== $name"
    case " ${un[*]} " in *" dotnet "*) ;; *) un+=(dotnet);; esac
    (cd /tmp && timeout 120 unshare "${un[@]}" "$PROBE" "$R" "$WORK" "$SCRIPT" "${pf[@]}") >"$WORK/$name.out" 2>&1
    echo "rc=$?" >>"$WORK/$name.out"
    OUT=$WORK/$name.out
    grep -q "probe: finished" "$OUT" || { fail "$name: probe did not finish"; sed -n '1,20p' "$OUT"; }
}
# expect NAME KEY VALUE: RESULT/OPTS/MODE/COUNT lines of the last run
expect() {
    local got
    got=$(grep -E "^(RESULT|MODE|COUNT) $1=" "$OUT" | head -1 | cut -d= -f2-)
    [ "$got" = "$2" ] || fail "$(basename "$OUT" .out): $1 is '$got', expected '$2'"
}
# expect_opts PATH OPTION...: the mount at PATH has these per-mount options (and fstype with "fs:")
expect_opts() {
    local path=$1; shift
    local line; line=$(grep -E "^OPTS $path=" "$OUT" | cut -d= -f2-)
    [ -n "${line%%|*}" ] || { fail "$(basename "$OUT" .out): no mount at $path"; return; }
    local o
    for o in "$@"; do
        case $o in
            fs:*) [ "$(echo "$line" | cut -d'|' -f2)" = "${o#fs:}" ] || fail "$(basename "$OUT" .out): $path fstype is not ${o#fs:} ($line)";;
            !*) echo ",${line%%|*}," | grep -q ",${o#!}," && fail "$(basename "$OUT" .out): $path has ${o#!} ($line)";;
            *) echo ",${line%%|*}," | grep -q ",$o," || fail "$(basename "$OUT" .out): $path lacks $o ($line)";;
        esac
    done
}
common() {
    for k in pid1_is_sh data_write data_ro_read hostfile symlink_dest_inside dotdot_dest_inside keys_masked \
        timer_list_masked firmware_masked devnull_write devzero_read \
        devnull_char fuse_char ptmx_link fd_link stderr_link shm_write run_write no_host_mounts; do expect $k yes; done
    for k in proc_sys_write root_write data_ro_write sys_write cgroup_write cgroup_v2_write; do expect $k no; done
    if [ -n "${PURE_V2:-}" ]; then
        expect cgroup_v2_root yes
        expect_opts /sys/fs/cgroup fs:cgroup2 ro nosuid nodev noexec
    else
        for k in cgroup_memory cgroup_unified cgroup_systemd; do expect $k yes; done
        expect_opts /sys/fs/cgroup fs:tmpfs ro nosuid nodev noexec
        expect_opts /sys/fs/cgroup/memory ro nosuid nodev noexec fs:cgroup
        expect_opts /sys/fs/cgroup/unified ro fs:cgroup2
    fi
    expect_opts / ro
    expect_opts /proc fs:proc nosuid nodev noexec
    expect_opts /proc/sys ro nosuid nodev noexec
    expect_opts /proc/acpi ro fs:tmpfs
    [ -n "${OWN_DEV:-}" ] || expect_opts /dev fs:tmpfs nosuid
    expect_opts /dev/pts fs:devpts nosuid noexec
    expect_opts /dev/shm fs:tmpfs nosuid nodev noexec
    expect_opts /dev/mqueue fs:mqueue
    expect_opts /sys ro nosuid nodev noexec
    expect_opts /data rw
    expect_opts /data-ro ro nosuid
}

grep -v " $WORK" /proc/self/mountinfo | awk '{$1=$2=""; print}' | sort >"$WORK/mounts.before"

run root --mount --pid --fork --propagation private --uts --ipc --net --
common
expect full 600
expect devnull_mounts 0
expect cgroupfs 1
grep -q "written" "$WORK/hostdir/written" && rm -f "$WORK/hostdir/written" || fail "root: write to /data not seen on the host"

# Under a shared tree (made shared in a private copy of the host's, so nothing reaches the host):
# rslave by default, private when rootfsPropagation says so. (No exec: the outer namespace must live on for
# its mounts to stay the masters of ours.)
run root-slave --mount --propagation private sh -c 'mount --make-rshared / && "$0" "$@"' \
    unshare --mount --propagation unchanged --pid --fork --uts --ipc --net dotnet --
common
expect rootprop master

# rshared: pivot_root needs the rootfs's parent mount made private first. Run in a private copy so that nothing
# can propagate back to the host's peers.
run rshared --mount --pid --fork --propagation private --uts --ipc --net -- --rshared
common
expect rootprop shared

run nopivot --mount --propagation private sh -c 'mount --make-rshared / && "$0" "$@"' \
    unshare --mount --propagation unchanged --pid --fork --uts --ipc --net dotnet -- --no-pivot --dev-ro --rprivate
common
expect full 600
expect rootprop private
expect_opts /dev ro nosuid

run cgroupns --mount --pid --fork --propagation private --uts --ipc --net --cgroup -- --cgroupns
common
expect_opts /sys/fs/cgroup/memory fs:cgroup ro

# A user namespace whose parent mount namespace holds a nosuid,nodev,noexec tmpfs: those flags are locked, so the
# ro bind remount of it only works by keeping them.
echo "=== userns"
OUT=$WORK/userns.out
(cd /tmp && timeout 120 unshare --mount --propagation private sh -c '
    mount -t tmpfs -o nosuid,nodev,noexec tmpfs "$1/locked" && shift &&
    exec unshare --user --map-root-user --mount --pid --fork --uts --ipc --net dotnet "$@"' \
    sh "$WORK" "$PROBE" "$R" "$WORK" "$SCRIPT" --userns --locked "$WORK/locked") >"$OUT" 2>&1
grep -q "probe: finished" "$OUT" || { fail "userns: probe did not finish"; sed -n '1,20p' "$OUT"; }
common
expect_opts /locked ro nosuid nodev noexec
expect devnull_mounts 1       # devices are binds of the host's nodes in a user namespace
expect full "$(stat -c %a /dev/full)"
expect cgroupfs 1

# A pure cgroup v2 host (this host's cgroup2 tree standing in): bound without a cgroup namespace, mounted with one.
PURE_V2=1
run v2-bind --mount --pid --fork --propagation private --uts --ipc --net -- --pure-v2
common
run v2-cgroupns --mount --pid --fork --propagation private --uts --ipc --net --cgroup -- --pure-v2 --cgroupns
common
PURE_V2=

# No pivot_root in a user namespace: the host's /proc and /sys are locked there, so they get covered, not unmounted.
run userns-nonet --user --map-root-user --mount --pid --fork --uts --ipc -- --userns --no-netns --no-pivot
common
expect cgroupfs 2             # /sys is an rbind of the host's (sysfs refused), carrying its cgroup tmpfs below ours

# The image's own /dev (no tmpfs on it) with /dev/null a symlink to a file: the node replaces the symlink, the file
# is left alone, and the masked paths still get a verified /dev/null.
echo secret > "$R/etc/devnull-target"
ln -s /etc/devnull-target "$R/dev/null"
OWN_DEV=1
run own-dev --mount --pid --fork --propagation private --uts --ipc --net -- --no-dev-mount
common
[ "$(cat "$R/etc/devnull-target")" = secret ] || fail "own-dev: the file behind the /dev/null symlink changed"
[ -c "$R/dev/null" ] || fail "own-dev: $R/dev/null is not a device node"

# Refused mounts: the error names the mount and the call.
bad() {
    local name=$1 flag=$2 want=$3
    (cd /tmp && timeout 120 unshare --mount --pid --fork --propagation private --uts --ipc --net \
        dotnet "$PROBE" "$R" "$WORK" "true" "$flag") >"$WORK/$name.out" 2>&1
    grep -qF "$want" "$WORK/$name.out" || { fail "$name: expected '$want'"; cat "$WORK/$name.out"; }
}
bad bad-fs --bad-fs "probe: FAILED: RootfsException: mount none on /bad (type nosuchfs): No such device"
bad proc-on-symlink --proc-on-symlink "mount proc on /escape (type proc): the destination is a symlink (to /etc)"
bad bind-into-proc --bind-into-proc "/proc/sys/kernel is inside /proc"

# Nothing leaked to the host: no mount of ours, nothing created through the symlinks.
grep -v " $WORK" /proc/self/mountinfo | awk '{$1=$2=""; print}' | sort >"$WORK/mounts.after"
grep -q " $WORK" /proc/self/mountinfo && fail "host: a mount under $WORK is still there"
if ! diff "$WORK/mounts.before" "$WORK/mounts.after" >/dev/null; then
    echo "note: host mount table changed outside $WORK (other jobs?):"; diff "$WORK/mounts.before" "$WORK/mounts.after"
fi
[ -e /etc/injected ] && fail "host: /etc/injected exists"
[ -e /escape2 ] && fail "host: /escape2 exists"
[ -e /bad ] && fail "host: /bad exists"

if [ "$FAILS" -eq 0 ]; then echo "check.sh: all passed"; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; exit 0; fi
echo "check.sh: $FAILS failure(s); outputs kept in $WORK"; exit 1
