#!/usr/bin/env bash
# bench/clients.sh [--warmup N] [--runs N]
# Benchmarks berth-runtime against runc and crun under real clients, pair by pair, with hyperfine:
#   podman  `podman run --rm IMAGE true`        (podman 4.3 + conmon, --runtime PATH)
#   ctr     `ctr run --rm IMAGE ID true`        (containerd 1.6 + runc v2 shim, --runc-binary PATH)
# Each client runs on private state made here (podman --root/--runroot/--tmpdir and its own containers.conf;
# a containerd of its own on a socket in the work dir), with a busybox-static image built here, no registry.
# On a hybrid cgroup host crun runs through bench/lib/hide-cgroup2.sh; runc and berth-runtime are measured both
# plain and through the same wrapper, so berth/runc compares plain figures and berth/crun wrapped ones.
# Writes a markdown report to stdout and to bench/results/clients-<date>.md. Needs root.
# BERTH_RUNTIME (default artifacts/publish/berth-runtime), RUNC, CRUN choose the binaries.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/private-engines.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/private-engines.sh"

warmup=2 runs=15
bench_options -- "$@"

is_root || die "run as root (podman and containerd run containers)"
ensure_packages hyperfine:hyperfine /bin/busybox:busybox-static runc:runc crun:crun podman:podman conmon:conmon \
    containerd:containerd ctr:containerd

lib=$BERTH_ROOT/bench/lib
bench_runtimes berth runc crun
bench_require_berth

mkdir -p /tmp/berth-clients
work=$(mktemp -d /tmp/berth-clients/bench.XXXXXX)
ns=bench-${work##*.}
ns=${ns,,}
containerd_pid=
cleanup() {
    local m
    if [[ -n ${podman_args:-} ]]; then
        podman "${podman_args[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
    fi
    if [[ -n $containerd_pid ]]; then
        kill "$containerd_pid" 2>/dev/null || true
        wait "$containerd_pid" 2>/dev/null || true
    fi
    # Overlay mounts podman's and containerd's storage leave behind.
    bench_unmount_under "$work"
    rm -rf "$work"
    for m in /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/*/berth-clients-bench; do
        if [[ -d $m ]]; then find "$m" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
}
trap cleanup EXIT

# The image (WORK/rootfs.tar for podman import, WORK/archive.tar for ctr) and podman on private storage.
bench_busybox_image "$work"
bench_podman "$work"

# containerd: its own config, socket and state; ctr talks to it in namespace $ns.
sock=$work/c.sock
cat >"$work/containerd.toml" <<CONF
version = 2
root = "$work/containerd-root"
state = "$work/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/containerd-opt"
CONF
containerd --config "$work/containerd.toml" </dev/null >"$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do
    [[ -S $sock ]] && ctr -a "$sock" version >/dev/null 2>&1 && break
    kill -0 "$containerd_pid" 2>/dev/null || { cat "$work/containerd.log" >&2; die "containerd exited"; }
    sleep 0.2
done
run_quiet "ctr images import" ctr -a "$sock" -n "$ns" images import "$work/archive.tar"
ctr_image=docker.io/berth-bench/busybox:latest

# A runtime through the wrapper, as one executable (podman and ctr take a path).
wrap() {
    local out=$work/wrapped-$1
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$lib/hide-cgroup2.sh" "$2" >"$out"
    chmod +x "$out"
    printf '%s\n' "$out"
}
hybrid=false
if bench_hybrid_cgroup2; then hybrid=true; fi
# Rows are "label|runtime path".
plain=("runc|$runc" "berth-runtime|$berth")
wrapped=()
if $hybrid; then
    wrapped=("runc, wrapped|$(wrap runc "$runc")" "crun, wrapped|$(wrap crun "$crun")" "berth-runtime, wrapped|$(wrap berth "$berth")")
else
    plain+=("crun|$crun")
fi

podman_cmd() { printf 'podman %s --runtime %s run --rm --pull never --cgroup-parent /berth-clients-bench localhost/berth-bench/busybox:latest true' "${podman_args[*]}" "$1"; }
ctr_cmd() { printf '%s %s %s %s %s %s' "$lib/ctr-run-once.sh" "$sock" "$ns" "$work/runc-root-${2//[^a-z]/}" "$1" "$ctr_image"; }

# Each runtime must run the scenario once before it is measured.
skipped=()
check() {
    local client=$1 label=$2 rt=$3 cmd out
    cmd=$("${client}_cmd" "$rt" "$label")
    # shellcheck disable=SC2086 # the command is words without spaces inside them
    if ! out=$($cmd 2>&1); then
        skipped+=("$client with $label: a trial run failed: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')")
        return 1
    fi
}

# bench CLIENT GROUP ROWS...: one hyperfine call; adds "label<TAB>mean<TAB>sd" (ms) to CLIENT.tsv.
bench() {
    local client=$1 group=$2 row label rt args=() kept=()
    shift 2
    for row in "$@"; do
        IFS='|' read -r label rt <<<"$row"
        check "$client" "$label" "$rt" || continue
        kept+=("$label")
        args+=(-n "$label" "$("${client}_cmd" "$rt" "$label")")
    done
    ((${#kept[@]} > 1)) || return 0
    note "$client, $group: ${kept[*]} (hyperfine --warmup $warmup --runs $runs)"
    hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$work/$client-$group.json" "${args[@]}" >"$work/$client-$group.log" 2>&1 \
        || { cat "$work/$client-$group.log" >&2; die "hyperfine failed for $client, $group"; }
    jq -r '.results[] | [.command, (.mean * 1000), (.stddev * 1000), (.median * 1000)] | @tsv' "$work/$client-$group.json" >>"$work/$client.tsv"
}
for client in podman ctr; do
    bench "$client" plain "${plain[@]}"
    ((${#wrapped[@]} == 0)) || bench "$client" wrapped "${wrapped[@]}"
done
for reason in "${skipped[@]}"; do note "skipped $reason"; done

value() { awk -F'\t' -v l="$2" '$1 == l {print $2}' "$1" 2>/dev/null; }
ratio() {
    local a b
    a=$(value "$1" "$2") b=$(value "$1" "$3")
    if [[ -n $a && -n $b ]]; then awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}'; else echo "n/a"; fi
}
table() {
    local tsv=$work/$1.tsv
    printf '| runtime | mean ± sd (ms) | median (ms) |\n|---|---|---|\n'
    [[ ! -e $tsv ]] || awk -F'\t' '{printf "| %s | %.1f ± %.1f | %.1f |\n", $1, $2, $3, $4}' "$tsv"
    printf '\nberth/runc (plain): %s' "$(ratio "$tsv" berth-runtime runc)"
    if $hybrid; then
        printf ', berth/crun (both wrapped): %s; crun/runc (both wrapped): %s\n' \
            "$(ratio "$tsv" "berth-runtime, wrapped" "crun, wrapped")" "$(ratio "$tsv" "crun, wrapped" "runc, wrapped")"
    else
        printf ', berth/crun: %s\n' "$(ratio "$tsv" berth-runtime crun)"
    fi
}

mkdir -p "$BERTH_ROOT/bench/results"
report=$BERTH_ROOT/bench/results/clients-$(date +%Y-%m-%d-%H%M).md
{
    printf '# podman and ctr with berth-runtime vs runc vs crun, %s\n\n' "$(date '+%Y-%m-%d %H:%M %Z')"
    printf -- '- host: %s, kernel %s, %s CPUs, load average at the end: %s\n' \
        "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(uname -r)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf -- '- %s; %s; %s\n' "$(podman --version)" "$(ctr --version)" "$(conmon --version 2>/dev/null | head -n 1)"
    printf -- '- runc: %s; crun: %s; berth-runtime: %s\n' \
        "$("$runc" --version | head -n 1)" "$("$crun" --version | head -n 1)" "$berth"
    printf -- '- hyperfine -N --warmup %s --runs %s; image: busybox-static, one layer; podman: overlay, cgroupfs, --network none\n' "$warmup" "$runs"
    $hybrid && printf -- '- hybrid cgroups: "wrapped" = the runtime run through bench/lib/hide-cgroup2.sh, which crun needs here\n'
    for reason in "${skipped[@]}"; do printf -- '- skipped %s\n' "$reason"; done
    printf '\n## podman run --rm IMAGE true\n\n'
    table podman
    printf '\n## ctr run --rm IMAGE ID true\n\n'
    table ctr
} | tee "$report"
note "report written to ${report#"$BERTH_ROOT"/}"
