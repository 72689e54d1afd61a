#!/usr/bin/env bash
# bench/engine.sh [--warmup N] [--runs N] [--many N] [--listed N] [--only PARTS]
# berthd against dockerd and podman, whole engines driven by their clients (issue 12's benchmark):
#   run      `docker run --rm --network none IMAGE true` against berthd (in-process driver, and --runtime runc),
#            against dockerd (--bridge none --iptables=false) and `podman run --rm --network none IMAGE true`; and
#            `docker version` against berthd, one API call: what the docker CLI costs by itself
#   exec     `docker exec CONTAINER true` against berthd and dockerd (a running `sleep` container each)
#   memory   what a running container costs: PSS of its monitor (berth-monitor; containerd-shim-runc-v2; conmon)
#            from /proc/PID/smaps_rollup, plus the RSS growth of the daemons (berthd; dockerd + containerd), with
#            1 and --many (10) containers running; the thread count of one monitor
#   idle     berthd's VmRSS 2 s after its first /_ping, before anything else, and again at the end, idle
#   ps       `docker ps -a` with --listed (100) containers (the running ones plus created ones), berthd vs dockerd
#   net      `docker run --rm --network bench-net IMAGE true` on a user-defined bridge network of each daemon (the
#            namespace, veth pair, address, DNS server and their removal), berthd vs dockerd
# --only PARTS runs only those of run, exec, memory, ps and net (comma-separated; idle is always measured).
# Timings in both orders, in one run: hyperfine's all-A-then-all-B, then alternating A B A B (bench/lib/alternate.sh);
# ratios are taken within each. berthd (artifacts/publish, from scripts/build.sh) and dockerd (its own containerd)
# are started here on private data roots, exec roots and sockets under /tmp/berth-engine; podman runs on private
# storage. Both daemons run in a network namespace this script makes (their bridges stay in there, subnets from
# 198.18.0.0/15); no traffic leaves it. Everything started is stopped and removed at the end. Writes a markdown report
# to stdout and to bench/results/engine-<date>.md. Needs root. BERTHD chooses the berthd binary (berth-monitor is
# taken from beside it).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/private-engines.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/private-engines.sh"

warmup=2 runs=15 many=10 listed=100
only=run,exec,memory,ps,net
args=()
while (($#)); do
    if [[ $1 == --only ]]; then
        (($# >= 2)) || die "--only needs a comma-separated list of parts: run, exec, memory, ps, net"
        only=$2
        shift 2
    else
        args+=("$1")
        shift
    fi
done
[[ -n ${only//,/} ]] || die "--only needs at least one part: run, exec, memory, ps, net"
for p in ${only//,/ }; do
    [[ $p == @(run|exec|memory|ps|net) ]] || die "--only: unknown part \"$p\" (run, exec, memory, ps, net)"
done
# part NAME: whether --only chose that part.
part() { [[ ,$only, == *,$1,* ]]; }
bench_options many listed -- "${args[@]}"
((listed >= many)) || die "--listed ($listed) must be at least --many ($many)"

is_root || die "run as root (the daemons run containers)"
ensure_packages hyperfine:hyperfine jq:jq curl:curl /bin/busybox:busybox-static runc:runc docker:docker.io \
    dockerd:docker.io podman:podman conmon:conmon

berthd=$(realpath -m -- "${BERTHD:-$BERTH_ROOT/artifacts/publish/berthd}")
[[ -x $berthd && -x $(dirname "$berthd")/berth-monitor ]] \
    || die "no berthd with berth-monitor beside it at $berthd: run scripts/build.sh"
monitor_exe=$(dirname "$berthd")/berth-monitor

mkdir -p /tmp/berth-engine
work=$(mktemp -d /tmp/berth-engine/b.XXXXXX)
cgroup_parent=berth-engine-${work##*.}
berthd_pid='' dockerd_pid=''
# The docker CLI's configuration (podman reads it too, for credentials): private and empty.
export DOCKER_CONFIG=$work/cli
mkdir -p "$DOCKER_CONFIG"
printf '{}' >"$DOCKER_CONFIG/config.json"
bsock=$work/berthd/b.sock dsock=$work/dockerd/d.sock
bdocker=(docker -H "unix://$bsock") ddocker=(docker -H "unix://$dsock")

# remove_all DOCKER...: removes every container of that daemon.
remove_all() {
    local ids
    ids=$("$@" ps -aq 2>/dev/null) || return 0
    [[ -z $ids ]] || "$@" rm -f $ids >/dev/null 2>&1 || true
}
# stop_daemon PID SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop_daemon() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid d
    if [[ -n ${podman_args:-} ]]; then
        podman "${podman_args[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
    fi
    if [[ -n $berthd_pid ]]; then
        remove_all "${bdocker[@]}"
        stop_daemon "$berthd_pid" 20
    fi
    if [[ -n $dockerd_pid ]]; then
        remove_all "${ddocker[@]}"
        stop_daemon "$dockerd_pid" 30
        # dockerd stops the containerd it started; one that outlived it is killed by its pid file.
        pid=$(cat "$work/dockerd/exec/containerd/containerd.pid" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]] && grep -qF "$work" "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid" || true; fi
    fi
    bench_unmount_under "$work"
    rm -rf "$work"
    for d in /sys/fs/cgroup/*/"$cgroup_parent"; do
        if [[ -d $d ]]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
}
trap cleanup EXIT

kib() { awk -v k="$2:" '$1 == k {print $2; exit}' "/proc/$1/status" 2>/dev/null || echo 0; }
pss() { awk '$1 == "Pss:" {print $2; exit}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN {printf "%.2f", k / 1024}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The image, as a docker archive (both daemons load it) and as a rootfs tar (podman imports it).
bench_busybox_image "$work"
image=berth-bench/busybox:latest

# The daemons' network namespace (nsenter execs the daemon: $! is the daemon's pid); unmounted with the rest of $work.
netns=$work/netns
: >"$netns"
unshare --net="$netns" true || die "cannot make the daemons' network namespace at $netns"
nsenter --net="$netns" ip link set lo up

# berthd, on its own roots; its idle RSS before it does anything.
mkdir -p "$work/berthd"
nsenter --net="$netns" -- "$berthd" --data-root "$work/berthd/data" --exec-root "$work/berthd/exec" -H "unix://$bsock" \
    </dev/null >"$work/berthd.log" 2>&1 &
berthd_pid=$!
for ((i = 0; ; i++)); do
    curl -sf --max-time 5 --unix-socket "$bsock" http://berthd/_ping >/dev/null 2>&1 && break
    kill -0 "$berthd_pid" 2>/dev/null || { cat "$work/berthd.log" >&2; die "berthd exited before answering /_ping"; }
    ((i < 600)) || die "berthd did not answer /_ping within 60 s"
    sleep 0.1
done
sleep 2
berthd_idle_start=$(kib "$berthd_pid" VmRSS)
berthd_idle_load=$(load)
run_quiet "docker load into berthd" "${bdocker[@]}" load -i "$work/archive.tar"

# dockerd, as the client tests start it: no bridge, no firewall, its own containerd under its exec root.
mkdir -p "$work/dockerd"
printf '{}' >"$work/dockerd/daemon.json"
nsenter --net="$netns" -- dockerd --config-file "$work/dockerd/daemon.json" --data-root "$work/dockerd/data" --exec-root "$work/dockerd/exec" \
    --host "unix://$dsock" --pidfile "$work/dockerd/dockerd.pid" --bridge none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --cgroup-parent "/$cgroup_parent" </dev/null >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for ((i = 0; ; i++)); do
    "${ddocker[@]}" version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$work/dockerd.log" >&2; die "dockerd exited before it answered"; }
    ((i < 600)) || die "dockerd did not answer within 60 s"
    sleep 0.1
done
run_quiet "docker load into dockerd" "${ddocker[@]}" load -i "$work/archive.tar"
containerd_pid=$(cat "$work/dockerd/exec/containerd/containerd.pid")

bench_podman "$work"
podman_image=localhost/berth-bench/busybox:latest
# runc, as under dockerd (podman's default here is crun, which refuses this host's hybrid cgroups).
podman_args+=(--runtime "$(command -v runc)")

# Rows: "label|command" (words without spaces inside them: hyperfine -N and alternate.sh split on spaces).
run_rows=(
    "berthd|${bdocker[*]} run --rm --network none $image true"
    "berthd, runc driver|${bdocker[*]} run --rm --runtime runc --network none $image true"
    "dockerd|${ddocker[*]} run --rm --network none $image true"
    "docker version (the CLI's floor)|${bdocker[*]} version"
    "podman|podman ${podman_args[*]} run --rm --network none --pull never --cgroup-parent /$cgroup_parent $podman_image true"
)

# Seconds a single timed command may take.
bound=120
# timed NAME ROWS...: each command once (it must work), then hyperfine (all-A-then-all-B) and alternate.sh (A B A B);
# NAME.tsv gets "order<TAB>label<TAB>mean<TAB>sd<TAB>median" (ms) and NAME.load the load average before each.
timed() {
    local name=$1 row label cmd args=() alt=() out
    shift
    for row in "$@"; do
        IFS='|' read -r label cmd <<<"$row"
        # Bounded: a client that hangs (one did, waiting on berthd after a start that failed) fails the series instead;
        # SIGKILL, since `docker run` passes SIGTERM on to its container.
        cmd="timeout -s KILL $bound $cmd"
        # shellcheck disable=SC2086 # the command is words without spaces inside them
        out=$($cmd 2>&1) || die "$label: a trial of \`$cmd\` failed: $out"
        args+=(-n "$label" "$cmd")
        alt+=("$label" "$cmd")
    done
    note "$name: hyperfine --warmup $warmup --runs $runs (load $(load))"
    printf 'all-A-then-all-B\t%s\n' "$(load)" >>"$work/$name.load"
    hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$work/$name.json" "${args[@]}" >"$work/$name.log" 2>&1 \
        || { cat "$work/$name.log" >&2; die "hyperfine failed for $name"; }
    jq -r '.results[] | ["all-A-then-all-B", .command, (.mean * 1000), (.stddev * 1000), (.median * 1000)] | @tsv' \
        "$work/$name.json" >>"$work/$name.tsv"
    note "$name: alternating, $runs rounds after $warmup (load $(load))"
    printf 'alternating\t%s\n' "$(load)" >>"$work/$name.load"
    "$BERTH_ROOT/bench/lib/alternate.sh" "$warmup" "$runs" "${alt[@]}" \
        | awk -F'\t' -v OFS='\t' '{print "alternating", $1, $2, $3, $4}' >>"$work/$name.tsv"
}

if part run; then timed run "${run_rows[@]}"; fi

# exec: one running container per daemon.
if part exec; then
    "${bdocker[@]}" run -d --network none --name bench-exec "$image" sleep 1000000 >/dev/null
    "${ddocker[@]}" run -d --network none --name bench-exec "$image" sleep 1000000 >/dev/null
    timed exec "berthd|${bdocker[*]} exec bench-exec true" "dockerd|${ddocker[*]} exec bench-exec true"
    "${bdocker[@]}" rm -f bench-exec >/dev/null
    "${ddocker[@]}" rm -f bench-exec >/dev/null
fi

# net: a bridge network of each daemon, its containers joined to it and back at each run.
if part net; then
    run_quiet "berthd network create" "${bdocker[@]}" network create --subnet 198.18.1.0/24 bench-net
    run_quiet "dockerd network create" "${ddocker[@]}" network create --subnet 198.18.2.0/24 bench-net
    timed net "berthd|${bdocker[*]} run --rm --network bench-net $image true" "dockerd|${ddocker[*]} run --rm --network bench-net $image true"
    run_quiet "berthd network rm" "${bdocker[@]}" network rm bench-net
    run_quiet "dockerd network rm" "${ddocker[@]}" network rm bench-net
fi

# pids_of EXE: the processes running EXE whose command line names the work directory (ours, not another's).
pids_of() {
    local p
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/exe" 2>/dev/null) == "$1" ]] || continue
        grep -qF "$work/" "$p/cmdline" 2>/dev/null && printf '%s\n' "${p#/proc/}"
    done
}
# memory ENGINE MONITOR_EXE DAEMON_PIDS IMAGE RUN...: starts containers (`RUN --name NAME IMAGE sleep 1000000`)
# until 1, then --many are running; each time, 3 s later, appends to memory.tsv:
# engine, count, monitor PSS sum, daemons' RSS growth since before the first (KiB), the load average, the thread
# count of the first monitor, and the daemons' RSS before the first (KiB).
memory() {
    local engine=$1 exe=$2 daemons=$3 img=$4 base=0 d n=0 count pids p sum now threads
    shift 4
    for d in $daemons; do base=$((base + $(kib "$d" VmRSS))); done
    for count in 1 "$many"; do
        while ((n < count)); do
            n=$((n + 1))
            "$@" --name "bench-mem-$n" "$img" sleep 1000000 >/dev/null || die "$engine: starting container $n failed"
        done
        sleep 3
        mapfile -t pids < <(pids_of "$exe")
        ((${#pids[@]} == count)) || die "$engine: $count containers running, but ${#pids[@]} monitors ($exe) found"
        sum=0
        for p in "${pids[@]}"; do sum=$((sum + $(pss "$p"))); done
        now=0
        for d in $daemons; do now=$((now + $(kib "$d" VmRSS))); done
        threads=$(find "/proc/${pids[0]}/task" -mindepth 1 -maxdepth 1 | wc -l)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$engine" "$count" "$sum" "$((now - base))" "$(load)" "$threads" "$base" \
            >>"$work/memory.tsv"
        note "memory, $engine, $count running: monitors' PSS $(mib "$sum") MiB, daemon growth $(mib $((now - base))) MiB"
    done
}
running=0
if part memory; then
    memory "berthd, runc driver" "$monitor_exe" "$berthd_pid" "$image" "${bdocker[@]}" run -d --runtime runc --network none
    remove_all "${bdocker[@]}"
    memory podman /usr/bin/conmon "" "$podman_image" podman "${podman_args[@]}" run -d --network none --pull never \
        --cgroup-parent "/$cgroup_parent"
    podman "${podman_args[@]}" rm --all --force --time 0 >/dev/null 2>&1
    shim=$(readlink -f "$(command -v containerd-shim-runc-v2)")
    memory dockerd "$shim" "$dockerd_pid $containerd_pid" "$image" "${ddocker[@]}" run -d --network none
    memory berthd "$monitor_exe" "$berthd_pid" "$image" "${bdocker[@]}" run -d --network none
    running=$many
fi

# docker ps -a with --listed containers: the --many running ones (when memory ran), the rest created.
if part ps; then
    for ((n = running + 1; n <= listed; n++)); do
        "${bdocker[@]}" create --network none --name "bench-ps-$n" "$image" true >/dev/null
        "${ddocker[@]}" create --network none --name "bench-ps-$n" "$image" true >/dev/null
    done
    [[ $("${bdocker[@]}" ps -aq | wc -l) == "$listed" && $("${ddocker[@]}" ps -aq | wc -l) == "$listed" ]] \
        || die "docker ps -a does not list $listed containers on both daemons"
    timed ps "berthd|${bdocker[*]} ps -a" "dockerd|${ddocker[*]} ps -a"
fi

remove_all "${bdocker[@]}"
sleep 2
berthd_idle_end=$(kib "$berthd_pid" VmRSS)
berthd_idle_end_load=$(load)

# ratio NAME ORDER A B: mean of A over mean of B (median in brackets) in that order's rows.
ratio() {
    awk -F'\t' -v o="$2" -v a="$3" -v b="$4" '$1 == o && $2 == a {ma = $3; da = $5} $1 == o && $2 == b {mb = $3; db = $5}
        END {if (ma && mb) printf "%.2f (%.2f)", ma / mb, da / db; else printf "n/a"}' "$work/$1.tsv"
}
table() {
    local name=$1
    printf '| order | load before | command | mean ± sd (ms) | median (ms) |\n|---|---|---|---|---|\n'
    awk -F'\t' 'NR == FNR {l[$1] = $2; next} {printf "| %s | %s | %s | %.1f ± %.1f | %.1f |\n", $1, l[$1], $2, $3, $4, $5}' \
        "$work/$name.load" "$work/$name.tsv"
}

mkdir -p "$BERTH_ROOT/bench/results"
report=$BERTH_ROOT/bench/results/engine-$(date +%Y-%m-%d-%H%M).md
{
    printf '# berthd against dockerd and podman, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- host: %s, kernel %s, %s CPUs, load average at the end: %s\n' \
        "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(uname -r)" "$(nproc)" "$(load)"
    printf -- '- berthd: %s; %s; %s; %s\n' "$berthd" "$(dockerd --version)" "$(podman --version)" "$(docker --version)"
    printf -- '- --warmup %s --runs %s; image: busybox-static, one layer; every container --network none but in net; parts: %s\n' \
        "$warmup" "$runs" "$only"
    if part run; then
        printf '\n## docker run --rm IMAGE true\n\n'
        table run
        for o in all-A-then-all-B alternating; do
            printf '\n%s: berthd/dockerd %s, berthd (runc driver)/dockerd %s, berthd/podman %s, podman/dockerd %s (mean, median in brackets)\n' \
                "$o" "$(ratio run "$o" berthd dockerd)" "$(ratio run "$o" "berthd, runc driver" dockerd)" \
                "$(ratio run "$o" berthd podman)" "$(ratio run "$o" podman dockerd)"
        done
    fi
    if part exec; then
        printf '\n## docker exec CONTAINER true\n\n'
        table exec
        for o in all-A-then-all-B alternating; do printf '\n%s: berthd/dockerd %s\n' "$o" "$(ratio exec "$o" berthd dockerd)"; done
    fi
    if part memory; then
        printf '\n## What a running container costs (`sleep` in busybox; the container'"'"'s own process not counted)\n\n'
        printf '| engine | running | monitors'"'"' PSS, all (MiB) | per container (MiB) | daemon RSS before (MiB) | growth (MiB) | per container (MiB) | monitor + daemon per container (MiB) | threads of a monitor | load |\n'
        printf '|---|---|---|---|---|---|---|---|---|---|\n'
        awk -F'\t' '{printf "| %s | %d | %.2f | %.2f | %.1f | %.2f | %.2f | **%.2f** | %d | %s |\n", $1, $2, $3 / 1024, $3 / 1024 / $2,
            $7 / 1024, $4 / 1024, $4 / 1024 / $2, ($3 + $4) / 1024 / $2, $6, $5}' "$work/memory.tsv"
        printf '\nMonitors: berth-monitor (berthd), containerd-shim-runc-v2 (dockerd; daemons: dockerd + containerd), conmon (podman, no daemon).\n'
        if part run || part exec; then
            printf 'The daemons are warm (measured after the timings above): their growth is what the containers add to a heap already grown.\n'
        else
            printf 'The daemons are fresh (no timings ran before): their growth includes their heaps growing into their first containers.\n'
        fi
        printf 'PSS shares a file'"'"'s pages among every process that maps it, other engines'"'"' included: a monitor binary mapped elsewhere too counts less here.\n'
    fi
    printf '\n## berthd idle\n\nVmRSS 2 s after its first /_ping: **%s MiB** (load %s); at the end, every container removed: %s MiB (load %s)\n' \
        "$(mib "$berthd_idle_start")" "$berthd_idle_load" "$(mib "$berthd_idle_end")" "$berthd_idle_end_load"
    if part net; then
        printf '\n## docker run --rm --network bench-net IMAGE true (a user-defined bridge network)\n\n'
        table net
        for o in all-A-then-all-B alternating; do printf '\n%s: berthd/dockerd %s\n' "$o" "$(ratio net "$o" berthd dockerd)"; done
    fi
    if part ps; then
        printf '\n## docker ps -a with %s containers (%s running)\n\n' "$listed" "$running"
        table ps
        for o in all-A-then-all-B alternating; do printf '\n%s: berthd/dockerd %s\n' "$o" "$(ratio ps "$o" berthd dockerd)"; done
    fi
} | tee "$report"
note "report written to ${report#"$BERTH_ROOT"/}"
