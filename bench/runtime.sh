#!/usr/bin/env bash
# bench/runtime.sh [--warmup N] [--runs N] [--rss-runs N]
# Benchmarks berth-runtime against runc and crun, pair by pair, in both orders:
#   run    `<rt> --root R run --bundle B <fresh id>` of /bin/true
#   cycle  create, start, wait for the process to exit, delete
#   RSS    peak resident set of one `run` (GNU time, max over --rss-runs runs)
# run and cycle are timed twice: with hyperfine (all runs of A, then all of B) and alternating A B A B
# (bench/lib/alternate.sh, which also reports each command's CPU time): a runtime that waits idly shows only
# in the second, where each pair meets the machine in the same state.
# On a hybrid cgroup host where crun refuses to run, crun runs with the cgroup2 mount hidden
# (bench/lib/hide-cgroup2.sh); runc and berth-runtime are measured both plain and through the same
# wrapper, so berth/runc compares plain figures and berth/crun compares wrapped ones.
# Writes a markdown report to stdout and to bench/results/<date>.md. Needs root.
# BERTH_RUNTIME (default artifacts/publish/berth-runtime), RUNC, CRUN choose the binaries.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

warmup=3 runs=30 rss_runs=5
bench_options rss-runs -- "$@"

is_root || die "run as root (containers need namespaces, mounts and cgroups)"
ensure_packages hyperfine:hyperfine jq:jq /usr/bin/time:time /bin/busybox:busybox-static runc:runc crun:crun

lib=$BERTH_ROOT/bench/lib
bench_runtimes berth runc crun

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
bundle=$work/bundle
cleanup() {
    local root rt
    for root in "$work"/state-*; do
        [[ -d $root ]] || continue
        rt=$(<"$root.runtime")
        for dir in "$root"/*/; do
            [[ -d $dir ]] || continue
            "$rt" --root "$root" delete --force "$(basename "$dir")" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT

# One bundle for every runtime, with runc's default config: the same work for all. A second one
# leaves a mark in its rootfs, to check that a runtime really ran the container before measuring it.
RUNTIME=$runc "$BERTH_ROOT/scripts/make-bundle.sh" "$bundle" /bin/true
check_bundle=$work/check-bundle
RUNTIME=$runc "$BERTH_ROOT/scripts/make-bundle.sh" "$check_bundle" /bin/touch /ran

# crun 1.8.1 refuses a hybrid host whose cgroup2 carries a controller (machine-notes §1).
hybrid=false
if bench_hybrid_cgroup2; then hybrid=true; fi

# state_root NAME RUNTIME: a fresh --root directory for one benchmarked command.
state_root() {
    local root=$work/state-$1
    mkdir -p "$root"
    printf '%s\n' "$2" >"$root.runtime"
    printf '%s\n' "$root"
}

# Commands are "label|runtime|wrapper" (wrapper empty or hide-cgroup2.sh).
plain=("runc|$runc|")
wrapped=()
if $hybrid; then
    wrapped+=("runc, wrapped|$runc|$lib/hide-cgroup2.sh" "crun, wrapped|$crun|$lib/hide-cgroup2.sh")
else
    plain+=("crun|$crun|")
fi

# usable LABEL RUNTIME WRAPPER: one run and one cycle must work before the runtime is measured.
skipped=()
usable() {
    local label=$1 rt=$2 wrapper=$3 root err
    if [[ $rt == */* && ! -x $rt ]] || ! command -v "$rt" >/dev/null 2>&1; then
        skipped+=("$label: $rt is missing")
        return 1
    fi
    root=$(state_root "check-${label//[^a-z]/}" "$rt")
    rm -f "$check_bundle/rootfs/ran"
    if ! err=$("$lib/run-once.sh" "$root" "$check_bundle" ${wrapper:+"$wrapper"} "$rt" 2>&1); then
        skipped+=("$label: a trial run failed: $(printf '%s' "$err" | tail -n 3 | tr '\n' ' ')")
        return 1
    fi
    if [[ ! -e $check_bundle/rootfs/ran ]]; then
        skipped+=("$label: a trial run exited 0 but the container did not run (/ran not created)")
        return 1
    fi
    if ! err=$("$lib/cycle.sh" "$root" "$bundle" ${wrapper:+"$wrapper"} "$rt" 2>&1); then
        skipped+=("$label: a trial create/start/delete failed: $(printf '%s' "$err" | tail -n 3 | tr '\n' ' ')")
        return 1
    fi
}

# Keep only the runc/crun rows that work, then add berth-runtime's if it works.
filter() {
    local -n rows=$1
    local kept=() row label rt wrapper
    for row in "${rows[@]}"; do
        IFS='|' read -r label rt wrapper <<<"$row"
        if usable "$label" "$rt" "$wrapper"; then kept+=("$row"); fi
    done
    rows=("${kept[@]}")
}
filter plain
filter wrapped
berth_ok=false
if usable berth-runtime "$berth" ""; then
    berth_ok=true
    plain+=("berth-runtime|$berth|")
    ! $hybrid || wrapped+=("berth-runtime, wrapped|$berth|$lib/hide-cgroup2.sh")
fi
for reason in "${skipped[@]}"; do note "skipped $reason"; done

# bench SCENARIO SCRIPT ROWS...: one hyperfine comparison; adds "label<TAB>mean<TAB>sd" (ms) to SCENARIO.tsv.
bench() {
    local scenario=$1 script=$2 row label rt wrapper root args=()
    shift 2
    (($#)) || return 0
    for row in "$@"; do
        IFS='|' read -r label rt wrapper <<<"$row"
        root=$(state_root "$scenario-${label//[^a-z]/}" "$rt")
        args+=(-n "$label" "$lib/$script $root $bundle ${wrapper:+$wrapper }$rt")
    done
    note "$scenario: $(printf '%s\n' "$@" | cut -d'|' -f1 | paste -sd';' | sed 's/;/; /g') (hyperfine --warmup $warmup --runs $runs)"
    # hyperfine's warnings (outliers on a busy host) go to its log; the report carries the sd.
    run_quiet "hyperfine ($scenario)" hyperfine -N --style none --warmup "$warmup" --runs "$runs" \
        --export-json "$work/$scenario.json" "${args[@]}"
    jq -r '.results[] | [.command, (.mean * 1000), (.stddev * 1000)] | @tsv' "$work/$scenario.json" >>"$work/$scenario.tsv"
}

# The helper scripts cost something on their own: measure them with /bin/true as the "runtime".
baseline_plain=("helper only (runtime = /bin/true)|/bin/true|")
baseline_wrapped=("helper + wrapper (runtime = /bin/true)|/bin/true|$lib/hide-cgroup2.sh")
for scenario in run cycle; do
    script=run-once.sh
    [[ $scenario == cycle ]] && script=cycle.sh
    rows=("${plain[@]}")
    [[ $scenario == run ]] && rows+=("${baseline_plain[@]}")
    bench "$scenario" "$script" "${rows[@]}"
    if $hybrid; then
        rows=("${wrapped[@]}")
        [[ $scenario == run ]] && rows+=("${baseline_wrapped[@]}")
        bench "$scenario" "$script" "${rows[@]}"
    fi
done

# The same pairs alternating, with CPU time: berth-runtime against each other runtime in turn.
alternate() {
    local scenario=$1 script=$2 rows_name=$3 row label rt wrapper root berth_row=''
    local -n rows=$rows_name
    for row in "${rows[@]}"; do [[ ${row%%|*} == berth-runtime* ]] && berth_row=$row; done
    [[ -n $berth_row ]] || return 0
    for row in "${rows[@]}"; do
        [[ $row == "$berth_row" ]] && continue
        local args=()
        for pair in "$berth_row" "$row"; do
            IFS='|' read -r label rt wrapper <<<"$pair"
            root=$(state_root "alt-$scenario-${label//[^a-z]/}" "$rt")
            args+=("$label" "$lib/$script $root $bundle ${wrapper:+$wrapper }$rt")
        done
        note "$scenario, alternating: ${berth_row%%|*} / ${row%%|*} ($runs rounds)"
        "$lib/alternate.sh" "$warmup" "$runs" "${args[@]}" | awk -v p="${row%%|*}" -F'\t' '{print p "\t" $0}' >>"$work/alt-$scenario.tsv" \
            || note "$scenario, alternating: a run failed"
    done
}
for scenario in run cycle; do
    script=run-once.sh
    [[ $scenario == cycle ]] && script=cycle.sh
    alternate "$scenario" "$script" plain
    ! $hybrid || alternate "$scenario" "$script" wrapped
done

# Peak RSS: GNU time reports ru_maxrss of the process it starts, which covers that process and the
# descendants it waited for (the runtime's init stage and the container's /bin/true). With the wrapper,
# time runs inside it, so unshare and sh are not counted. Max over rss_runs runs, in MiB.
rss_of() {
    local label=$1 rt=$2 wrapper=$3 root out max=0 i kib
    root=$(state_root "rss-${label//[^a-z]/}" "$rt")
    out=$work/rss.out
    for ((i = 0; i < rss_runs; i++)); do
        ${wrapper:+"$wrapper"} /usr/bin/time -f %M -o "$out" "$rt" --root "$root" run --bundle "$bundle" "rss-$i" \
            </dev/null >/dev/null 2>&1 || { note "RSS: $label run failed"; return 1; }
        [[ -e $root/rss-$i ]] && "$rt" --root "$root" delete --force "rss-$i" >/dev/null 2>&1
        kib=$(tail -n 1 "$out")
        ((kib > max)) && max=$kib
    done
    printf '%s\t%s\n' "$label" "$(awk -v k="$max" 'BEGIN {printf "%.1f", k / 1024}')" >>"$work/rss.tsv"
}
note "rss: max RSS of one run, over $rss_runs runs each"
for row in "${plain[@]}" "${wrapped[@]}"; do
    IFS='|' read -r label rt wrapper <<<"$row"
    # One crun figure is enough: the wrapper does not change the runtime's own memory.
    [[ $label == *", wrapped" && $label != crun* ]] && continue
    rss_of "$label" "$rt" "$wrapper" || true
done

# value FILE LABEL COLUMN: a figure from a .tsv file, empty when absent.
value() { awk -F'\t' -v l="$2" -v c="$3" '$1 == l {print $c}' "$1" 2>/dev/null; }
ratio() {
    local a b
    a=$(value "$1" "$2" 2) b=$(value "$1" "$3" 2)
    if [[ -n $a && -n $b ]]; then awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}'; else echo pending; fi
}
timing_table() {
    local tsv=$work/$1.tsv
    printf '| runtime | mean ± sd (ms) |\n|---|---|\n'
    [[ ! -e $tsv ]] || awk -F'\t' '{printf "| %s | %.1f ± %.1f |\n", $1, $2, $3}' "$tsv"
    $berth_ok || printf '| berth-runtime | pending |\n'
    printf '\nberth/runc (plain): %s' "$(ratio "$tsv" berth-runtime runc)"
    if $hybrid; then
        printf ', berth/crun (both wrapped): %s' "$(ratio "$tsv" "berth-runtime, wrapped" "crun, wrapped")"
        printf '; for scale, crun/runc (both wrapped): %s\n' "$(ratio "$tsv" "crun, wrapped" "runc, wrapped")"
    else
        printf ', berth/crun: %s; for scale, crun/runc: %s\n' "$(ratio "$tsv" berth-runtime crun)" "$(ratio "$tsv" crun runc)"
    fi
    local helper wrapper
    helper=$(value "$tsv" "${baseline_plain[0]%%|*}" 2) wrapper=$(value "$tsv" "${baseline_wrapped[0]%%|*}" 2)
    if [[ -n $helper && -n $wrapper ]]; then
        printf 'The wrapper costs about %s ms per call (helper + wrapper minus helper only).\n' \
            "$(awk -v a="$wrapper" -v b="$helper" 'BEGIN {printf "%.1f", a - b}')"
    fi
}

mkdir -p "$BERTH_ROOT/bench/results"
report=$BERTH_ROOT/bench/results/$(date +%Y-%m-%d-%H%M).md
{
    printf '# berth-runtime vs runc vs crun, %s\n\n' "$(date '+%Y-%m-%d %H:%M %Z')"
    printf -- '- host: %s, kernel %s, %s CPUs, load average at the end: %s\n' \
        "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(uname -r)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf -- '- runc: %s; crun: %s; berth-runtime: %s\n' \
        "$("$runc" --version 2>/dev/null | head -n 1)" "$("$crun" --version 2>/dev/null | head -n 1)" \
        "$($berth_ok && echo "$berth" || echo "not measured")"
    printf -- "- hyperfine --warmup %s --runs %s, no shell (-N); bundle: busybox-static, \`runc spec\` config, args /bin/true\n" "$warmup" "$runs"
    if $hybrid; then
        printf -- '- hybrid cgroups: "wrapped" = run through bench/lib/hide-cgroup2.sh (a private mount namespace with a tmpfs mounted over the cgroup2 mount), which crun needs here\n'
    fi
    for reason in "${skipped[@]}"; do printf -- '- skipped %s\n' "$reason"; done
    for root in "$work"/state-*.leftover; do
        [[ -e $root ]] && printf -- "- %s left containers behind after \`run\` (deleted by the helper; that delete is in its figures)\n" \
            "$(<"${root%.leftover}.runtime")"
    done
    printf '\n## run of /bin/true\n\n'
    timing_table run
    printf '\n## create, start, wait, delete\n\n'
    timing_table cycle
    for scenario in run cycle; do
        [[ -e $work/alt-$scenario.tsv ]] || continue
        printf '\n## %s, alternating A B A B (%s rounds)\n\n' "$scenario" "$runs"
        printf '| pair | runtime | wall mean ± sd (ms) | wall median (ms) | CPU mean (ms) |\n|---|---|---|---|---|\n'
        awk -F'\t' '{printf "| vs %s | %s | %.1f ± %.1f | %.1f | %.1f |\n", $1, $2, $3, $4, $5, $6}' "$work/alt-$scenario.tsv"
        # Ratios of berth-runtime to the other runtime of each pair (rows come in pairs: berth first).
        awk -F'\t' 'NR % 2 == 1 {b = $3; bc = $6; bm = $5} NR % 2 == 0 {printf "\nberth/%s: wall %.2f (median %.2f), CPU %.2f", $2, b / $3, bm / $5, bc / $6}' "$work/alt-$scenario.tsv"
        printf '\n'
    done
    printf '\n## peak RSS of one run (max over %s runs)\n\n| runtime | max RSS (MiB) |\n|---|---|\n' "$rss_runs"
    [[ ! -e $work/rss.tsv ]] || awk -F'\t' '{printf "| %s | %s |\n", $1, $2}' "$work/rss.tsv"
    $berth_ok || printf '| berth-runtime | pending |\n'
    printf '\nberth/runc: %s, berth/crun: %s\n' \
        "$(ratio "$work/rss.tsv" berth-runtime runc)" "$(ratio "$work/rss.tsv" berth-runtime "$($hybrid && echo "crun, wrapped" || echo crun)")"
} | tee "$report"
note "report written to ${report#"$BERTH_ROOT"/}"
