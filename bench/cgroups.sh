#!/usr/bin/env bash
# bench/cgroups.sh [--warmup N] [--runs N]
# Latency of the cgroup commands, berth-runtime against runc, pair by pair in one hyperfine call each:
#   update   `<rt> --root R update --memory 64M --cpu-share 512 --pids-limit 200 ID` of a running container
#   stats    `<rt> --root R events --stats ID` of the same container
# Each runtime runs its own container (`run -d` of `sleep`) from one shared bundle, in its own --root.
# Writes a markdown report to stdout and to bench/results/cgroups-<date>.md. Needs root.
# BERTH_RUNTIME (default artifacts/publish/berth-runtime) and RUNC choose the binaries.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

warmup=3 runs=30
bench_options -- "$@"

is_root || die "run as root (containers need namespaces, mounts and cgroups)"
ensure_packages hyperfine:hyperfine jq:jq /bin/busybox:busybox-static runc:runc

bench_runtimes berth runc
bench_require_berth
command -v "$runc" >/dev/null || die "$runc is missing"

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-cg.XXXXXX")
id=bench-cg-$$
names=(runc berth-runtime)
declare -A binary=([runc]=$runc [berth-runtime]=$berth)
cleanup() {
    local name
    for name in "${names[@]}"; do
        "${binary[$name]}" --root "$work/state-$name" delete --force "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

RUNTIME=$runc "$BERTH_ROOT/scripts/make-bundle.sh" "$work/bundle" /bin/sleep 100000
for name in "${names[@]}"; do
    mkdir -p "$work/state-$name"
    "${binary[$name]}" --root "$work/state-$name" run -d --bundle "$work/bundle" "$id" </dev/null >/dev/null 2>&1 \
        || die "$name: run -d of the benchmark container failed"
    # A first call of each command, checked, so that the figures are of commands that work.
    "${binary[$name]}" --root "$work/state-$name" update --memory 67108864 --cpu-share 512 --pids-limit 200 "$id" \
        || die "$name: update failed"
    "${binary[$name]}" --root "$work/state-$name" events --stats "$id" | jq -e '.type == "stats" and .data.memory.usage.limit == 67108864' >/dev/null \
        || die "$name: events --stats failed or does not show the updated memory limit"
done

# bench SCENARIO ARGS...: one hyperfine call over both runtimes; adds "label<TAB>mean<TAB>sd" (ms) to SCENARIO.tsv.
bench() {
    local scenario=$1 name args=()
    shift
    for name in "${names[@]}"; do
        args+=(-n "$name" "${binary[$name]} --root $work/state-$name $* $id")
    done
    note "$scenario: ${names[*]} (hyperfine --warmup $warmup --runs $runs)"
    run_quiet "hyperfine ($scenario)" hyperfine -N --style none --warmup "$warmup" --runs "$runs" \
        --export-json "$work/$scenario.json" "${args[@]}"
    jq -r '.results[] | [.command, (.mean * 1000), (.stddev * 1000)] | @tsv' "$work/$scenario.json" >"$work/$scenario.tsv"
}
bench update update --memory 67108864 --cpu-share 512 --pids-limit 200
bench stats events --stats

value() { awk -F'\t' -v l="$2" '$1 == l {print $2}' "$1"; }
table() {
    printf '| runtime | mean ± sd (ms) |\n|---|---|\n'
    awk -F'\t' '{printf "| %s | %.1f ± %.1f |\n", $1, $2, $3}' "$work/$1.tsv"
    printf '\nberth/runc: **%s**\n' "$(awk -v a="$(value "$work/$1.tsv" berth-runtime)" -v b="$(value "$work/$1.tsv" runc)" 'BEGIN {printf "%.2f", a / b}')"
}

mkdir -p "$BERTH_ROOT/bench/results"
report=$BERTH_ROOT/bench/results/cgroups-$(date +%Y-%m-%d-%H%M).md
{
    printf '# cgroup commands: berth-runtime vs runc, %s\n\n' "$(date '+%Y-%m-%d %H:%M %Z')"
    printf -- '- host: %s, kernel %s, %s CPUs, load average at the end: %s\n' \
        "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(uname -r)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf -- '- runc: %s; berth-runtime: %s\n' "$("$runc" --version 2>/dev/null | head -n 1)" "$berth"
    printf -- '- hyperfine --warmup %s --runs %s, no shell (-N); one running container per runtime (busybox sleep)\n' "$warmup" "$runs"
    printf '\n## update --memory 64M --cpu-share 512 --pids-limit 200\n\n'
    table update
    printf '\n## events --stats\n\n'
    table stats
} | tee "$report"
note "report written to ${report#"$BERTH_ROOT"/}"
