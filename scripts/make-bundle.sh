#!/usr/bin/env bash
# make-bundle.sh DIR [ARG...]: creates (or refreshes) an OCI bundle at DIR:
#   DIR/rootfs       busybox-static (/bin/busybox) with a link per applet, and the usual empty dirs
#   DIR/config.json  from `$RUNTIME spec` (default artifacts/publish/berth-runtime), or a built-in
#                    template when that runtime cannot write one; then terminal false, root writable,
#                    and process.args = ARG... (the spec's default, `sh`, when none are given).
# Idempotent: running it again rewrites config.json and brings the rootfs up to date.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

(($# >= 1)) || die "usage: ${0##*/} DIR [ARG...]"
bundle=$1
shift

ensure_packages /bin/busybox:busybox-static jq:jq
busybox=/bin/busybox
# A dynamically linked busybox would not run in a rootfs without a libc.
"$busybox" true || die "$busybox does not run"
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked: install busybox-static (apt-get install busybox-static)"
fi

rootfs=$bundle/rootfs
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root,run,var/tmp}
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
if ! cmp -s "$busybox" "$rootfs/bin/busybox"; then
    install -m 0755 "$busybox" "$rootfs/bin/busybox"
fi
for applet in $("$busybox" --list); do
    [[ $applet == busybox ]] && continue
    ln -sfn busybox "$rootfs/bin/$applet"
done
# Some programs look in /usr/bin and /sbin; point them at the same directory.
for dir in sbin usr/bin usr/sbin; do
    [[ -e $rootfs/$dir || -L $rootfs/$dir ]] || { mkdir -p "$(dirname "$rootfs/$dir")"; ln -s /bin "$rootfs/$dir"; }
done
[[ -e $rootfs/etc/passwd ]] || printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
[[ -e $rootfs/etc/group ]] || printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

# The OCI defaults (as `runc spec` writes them), for runtimes that have no `spec` command yet.
builtin_spec() {
    cat <<'JSON'
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": true,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh" ],
    "env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "berth",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": [ "nosuid", "noexec", "nodev", "relatime", "ro" ] }
  ],
  "linux": {
    "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
    ],
    "maskedPaths": [
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
    ]
  }
}
JSON
}

runtime=$(runtime_command)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# `spec` writes config.json into the current directory and refuses to overwrite one: use an empty dir.
if (cd "$work" && "$runtime" spec) >"$work/spec.log" 2>&1 && jq -e '.process and .root' "$work/config.json" >/dev/null 2>&1; then
    : # the runtime's own defaults
else
    builtin_spec >"$work/config.json"
    # Expected while berth-runtime has no `spec` yet; say so only when a runtime was chosen explicitly.
    [[ -z ${RUNTIME:-} ]] || note "'$runtime spec' gave no usable config.json; using the built-in template"
fi

args_json=$(jq -cn '$ARGS.positional' --args -- "$@")
jq --argjson args "$args_json" '
    .process.terminal = false
    | .root.path = "rootfs"
    | .root.readonly = false
    | if ($args | length) > 0 then .process.args = $args else . end
' "$work/config.json" >"$work/config.adjusted.json"
mv "$work/config.adjusted.json" "$bundle/config.json"
