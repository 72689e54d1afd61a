#!/usr/bin/env bash
# bench/exeseal.sh [--warmup N] [--runs N]
# What sealing the runtime binary (CVE-2019-5736) costs at start-up: `run` of /bin/true, pair by pair with
# hyperfine (each comparison is one hyperfine call, so both sides see the same host load):
#   overlay vs memfd      berth-runtime's two methods (BERTH_EXESEAL, see src/Berth.Runtime/SealedBinary.cs)
#   overlay vs runc       runc 1.1 copies itself into a memfd
#   overlay vs crun       through bench/lib/hide-cgroup2.sh on a hybrid cgroup host (crun needs it there)
# Every berth-runtime command goes through `env BERTH_EXESEAL=...`, so the pairs stay like for like.
# Prints a markdown table. Needs root. BERTH_RUNTIME, RUNC, CRUN choose the binaries.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

warmup=3 runs=40
bench_options -- "$@"
is_root || die "run as root (containers need namespaces, mounts and cgroups)"
ensure_packages hyperfine:hyperfine jq:jq /bin/busybox:busybox-static runc:runc crun:crun

lib=$BERTH_ROOT/bench/lib
bench_runtimes berth runc crun
bench_require_berth

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-exeseal.XXXXXX")
trap 'rm -rf "$work"' EXIT
RUNTIME=$runc "$BERTH_ROOT/scripts/make-bundle.sh" "$work/bundle" /bin/true

hide=""
if bench_hybrid_cgroup2; then
    hide="$lib/hide-cgroup2.sh "
fi

n=0
# pair LABEL CMD LABEL CMD: one hyperfine call; each CMD is a runtime command line for run-once.sh.
pair() {
    local args=() i
    for i in 0 2; do
        local label=${*:$((i + 1)):1} cmd=${*:$((i + 2)):1}
        n=$((n + 1))
        mkdir -p "$work/state-$n"
        args+=(-n "$label" "$lib/run-once.sh $work/state-$n $work/bundle $cmd")
    done
    run_quiet "hyperfine ($1 vs $3)" hyperfine -N --style none --warmup "$warmup" --runs "$runs" \
        --export-json "$work/pair.json" "${args[@]}"
    jq -r '.results[] | "| \(.command) | \(.mean * 1000 | . * 10 | round / 10) ± \(.stddev * 1000 | . * 10 | round / 10) | \(.median * 1000 | . * 10 | round / 10) | \((.user + .system) * 1000 | . * 10 | round / 10) |"' \
        "$work/pair.json"
    printf '|  |  |  |  |\n'
}

printf '# sealing the runtime binary: run of /bin/true, %s\n\n' "$(date '+%Y-%m-%d %H:%M %Z')"
printf -- '- kernel %s, %s CPUs; hyperfine -N --warmup %s --runs %s; berth-runtime %s\n' \
    "$(uname -r)" "$(nproc)" "$warmup" "$runs" "$berth"
printf -- '- load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| command | mean ± sd (ms) | median (ms) | CPU user+sys (ms) |\n|---|---|---|---|\n'
pair "berth overlay" "env BERTH_EXESEAL=overlay $berth" "berth memfd" "env BERTH_EXESEAL=memfd $berth"
pair "berth overlay" "env BERTH_EXESEAL=overlay $berth" "runc (memfd copy)" "env $runc"
pair "berth overlay${hide:+, wrapped}" "${hide}env BERTH_EXESEAL=overlay $berth" \
    "crun${hide:+, wrapped}" "${hide}env $crun"
