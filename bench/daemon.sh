#!/usr/bin/env bash
# bench/daemon.sh [--warmup N] [--runs N] [--rss-runs N]
# berthd framework-dependent (JIT: this tree published with PublishAot=false into the work directory, as berthd
# shipped before it went NativeAOT) against berthd NativeAOT (artifacts/publish/berthd, from scripts/build.sh), pair
# by pair: every round starts both, the order alternating between rounds.
#   start    exec to the first 200 of GET /_ping on the daemon's socket (wall time), and the CPU time the
#            daemon used to get there (utime+stime from /proc/PID/stat at that moment)
#   memory   VmRSS 2 s after the ping (idle), VmRSS after pulling a busybox-static image from a docker-registry
#            on 127.0.0.1 (a fresh data root each run), and VmHWM (peak) at that point; the largest of N runs
#   size     the AOT binary; the JIT build's output directory, plus the shared frameworks it loads at run time
# Each daemon runs on its own data and exec roots under a temp directory. Prints a markdown report. Needs root.
# BERTHD_AOT chooses the AOT binary; BERTHD_JIT a framework-dependent one (then nothing is built).
set -euo pipefail
# shellcheck source=../scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"

warmup=2 runs=20 rss_runs=3
while (($#)); do
    case $1 in
        --warmup) warmup=${2:?--warmup needs a number}; shift 2 ;;
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --rss-runs) rss_runs=${2:?--rss-runs needs a number}; shift 2 ;;
        -h | --help) sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $warmup =~ ^[0-9]+$ && $runs =~ ^[1-9][0-9]*$ && $rss_runs =~ ^[1-9][0-9]*$ ]] \
    || die "--warmup, --runs and --rss-runs take whole numbers (runs at least 1)"
is_root || die "run as root (berthd locks its data root and unpacks layers as root)"
ensure_packages curl:curl /bin/busybox:busybox-static skopeo:skopeo docker-registry:docker-registry

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-daemon-bench.XXXXXX")
registry_pid='' daemon_pid=''
cleanup() {
    local pid
    for pid in "$daemon_pid" "$registry_pid"; do
        [[ -z $pid ]] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    done
    rm -rf "$work"
}
trap cleanup EXIT

declare -A bin=([aot]=$(realpath -m -- "${BERTHD_AOT:-$BERTH_ROOT/artifacts/publish/berthd}"))
[[ -x ${bin[aot]} ]] || die "no NativeAOT berthd at ${bin[aot]}: run scripts/build.sh"
if [[ -n ${BERTHD_JIT:-} ]]; then
    bin[jit]=$(realpath -m -- "$BERTHD_JIT")
else
    # Its own artifacts path, so the repository's intermediate files (and their NativeAOT state) stay as they are.
    note "publishing a framework-dependent berthd into $work/jit (a minute or two)"
    run_quiet "framework-dependent publish" dotnet publish "$BERTH_ROOT/src/Berth.Daemon" -c Release -p:PublishAot=false \
        -p:SelfContained=false "-p:ArtifactsPath=$work/artifacts" -o "$work/jit" -v q --nologo -tl:off
    bin[jit]=$work/jit/berthd
fi
[[ -x ${bin[jit]} ]] || die "no framework-dependent berthd at ${bin[jit]}"

# A fifo nobody writes: `read -t` on it is a sleep without a fork, so polling costs the daemon no CPU to speak of.
mkfifo "$work/never"
exec {never}<>"$work/never"
nap() { read -rt "$1" -u "$never" || true; }

micros() { local t=${1/./}; printf '%d\n' "$((10#$t))"; }
ticks_ms=$((1000 / $(getconf CLK_TCK)))

# start SIDE ROOT: starts berthd on ROOT's socket and waits for /_ping; sets daemon_pid, ready_us and cpu_ms.
start() {
    local side=$1 root=$2 t0 t1 stat
    mkdir -p "$root"
    rm -f "$root/berthd.log"
    t0=$EPOCHREALTIME
    "${bin[$side]}" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$root/berth.sock" \
        </dev/null >/dev/null 2>"$root/berthd.log" &
    daemon_pid=$!
    until [[ -S $root/berth.sock ]] && curl -sf --max-time 5 --unix-socket "$root/berth.sock" http://berthd/_ping >/dev/null 2>&1; do
        if ! kill -0 "$daemon_pid" 2>/dev/null; then
            cat "$root/berthd.log" >&2
            die "berthd ($side) exited before answering /_ping"
        fi
        [[ -S $root/berth.sock ]] || nap 0.001
    done
    t1=$EPOCHREALTIME
    ready_us=$(($(micros "$t1") - $(micros "$t0")))
    read -ra stat <"/proc/$daemon_pid/stat"
    cpu_ms=$(((stat[13] + stat[14]) * ticks_ms))
}

# stop: SIGTERM and wait; berthd exits 0 after a clean stop.
stop() {
    local rc=0
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || rc=$?
    daemon_pid=''
    ((rc == 0)) || die "berthd exited with $rc on SIGTERM"
}

status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# The image: busybox-static and an sh link in one layer, as an OCI layout written here (GNU tar; umoci 0.4's layers end
# without tar's end-of-archive blocks, which berthd's layer reader refuses), copied by skopeo into a docker-registry of
# our own on a free loopback port.
mkdir -p "$work/rootfs/bin" "$work/layout/blobs/sha256"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
tar -C "$work/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/layer.tar" bin
diff_id=$(sha256sum <"$work/layer.tar" | cut -d' ' -f1)
gzip -n "$work/layer.tar"
# blob FILE: moves FILE into the layout's blobs; prints "sha256:HEX SIZE".
blob() {
    local hex size
    hex=$(sha256sum <"$1" | cut -d' ' -f1)
    size=$(stat -c %s "$1")
    mv "$1" "$work/layout/blobs/sha256/$hex"
    printf 'sha256:%s %s\n' "$hex" "$size"
}
read -r layer_digest layer_size < <(blob "$work/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff_id" >"$work/config.json"
read -r config_digest config_size < <(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$manifest_digest" "$manifest_size" >"$work/layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
for attempt in 1 2 3; do
    port=$((20000 + RANDOM % 20000))
    cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
    docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
    registry_pid=$!
    for _ in {1..100}; do
        curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break 2
        kill -0 "$registry_pid" 2>/dev/null || break
        nap 0.05
    done
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
    registry_pid=''
    ((attempt < 3)) || { cat "$work/registry.log" >&2; die "docker-registry did not start"; }
done
image=127.0.0.1:$port/bench/busybox
run_quiet "skopeo copy" skopeo copy --dest-tls-verify=false "oci:$work/layout:bench" "docker://$image:bench"

# Start-up, pair by pair.
declare -A wall=() cpu=()
for ((round = 1; round <= warmup + runs; round++)); do
    order=(jit aot)
    ((round % 2)) || order=(aot jit)
    for side in "${order[@]}"; do
        start "$side" "$work/$side"
        stop
        if ((round > warmup)); then
            wall[$side]+="$ready_us "
            cpu[$side]+="$cpu_ms "
        fi
    done
done

# stats VALUES DIVISOR: mean ± sd, median and min of whitespace-separated values, divided by DIVISOR.
stats() {
    tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk -v d="$2" '{v[++n] = $1 / d; s += $1 / d}
        END {m = s / n; for (i = 1; i <= n; i++) q += (v[i] - m) ^ 2
             med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
             printf "%.1f ± %.1f | %.1f | %.1f", m, sqrt(q / (n > 1 ? n - 1 : 1)), med, v[1]}'
}

# Memory: idle, after a pull, peak; the largest of rss_runs runs, each on a fresh data root.
declare -A idle=() pulled=() peak=()
for ((round = 1; round <= rss_runs; round++)); do
    for side in jit aot; do
        rm -rf "$work/rss-$side"
        start "$side" "$work/rss-$side"
        sleep 2
        i=$(status_kib "$daemon_pid" VmRSS)
        curl -sS --fail-with-body --unix-socket "$work/rss-$side/berth.sock" -X POST \
            "http://berthd/images/create?fromImage=$image&tag=bench" >"$work/pull.out" \
            || { cat "$work/pull.out" >&2; die "pull through berthd ($side) failed"; }
        ! grep -q '"error' "$work/pull.out" || { cat "$work/pull.out" >&2; die "pull through berthd ($side) reported an error"; }
        curl -sf --unix-socket "$work/rss-$side/berth.sock" "http://berthd/images/$image:bench/json" >/dev/null \
            || die "berthd ($side) does not list $image:bench after the pull"
        p=$(status_kib "$daemon_pid" VmRSS)
        h=$(status_kib "$daemon_pid" VmHWM)
        stop
        if ((i > ${idle[$side]:-0})); then idle[$side]=$i; fi
        if ((p > ${pulled[$side]:-0})); then pulled[$side]=$p; fi
        if ((h > ${peak[$side]:-0})); then peak[$side]=$h; fi
    done
done
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

aot_size=$(stat -c %s "${bin[aot]}")
# The JIT side needs its whole directory (assemblies, apphost; symbols left out) and the shared frameworks.
jit_size=$(find "$(dirname "${bin[jit]}")" -type f ! -name '*.pdb' -printf '%s\n' | awk '{s += $1} END {print s}')
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
# The newest patch of each (the one roll-forward picks).
frameworks=$(for f in Microsoft.NETCore.App Microsoft.AspNetCore.App; do
    find "$dotnet_root/shared/$f" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -1
done | xargs du -scb | tail -1 | cut -f1)

printf '# berthd: framework-dependent (JIT) against NativeAOT, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf -- '- kernel %s, %s CPUs; %s rounds after %s warm-up rounds, each round both daemons (alternating first)\n' \
    "$(uname -r)" "$(nproc)" "$runs" "$warmup"
printf -- '- jit: %s\n- aot: %s\n' "${bin[jit]}" "${bin[aot]}"
printf -- '- load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| berthd | exec to /_ping: mean ± sd (ms) | median | min | CPU to ready: mean ± sd (ms) | median | min |\n'
printf '|---|---|---|---|---|---|---|\n'
for side in jit aot; do
    printf '| %s | %s | %s |\n' "$side" "$(stats "${wall[$side]}" 1000)" "$(stats "${cpu[$side]}" 1)"
done
printf '\n| berthd | RSS idle (MiB) | RSS after a pull (MiB) | peak RSS (MiB) | on disk (MiB) |\n|---|---|---|---|---|\n'
printf '| jit | %s | %s | %s | %s (its directory) + %s (the shared .NET and ASP.NET Core frameworks) |\n' \
    "$(mib "${idle[jit]}")" "$(mib "${pulled[jit]}")" "$(mib "${peak[jit]}")" "$(mib $((jit_size / 1024)))" "$(mib $((frameworks / 1024)))"
printf '| aot | %s | %s | %s | %s |\n' \
    "$(mib "${idle[aot]}")" "$(mib "${pulled[aot]}")" "$(mib "${peak[aot]}")" "$(mib $((aot_size / 1024)))"
printf '\nmemory: the largest of %s runs each, a fresh data root per run; the pull is %s:bench (busybox-static, one layer)\n' \
    "$rss_runs" "$image"
