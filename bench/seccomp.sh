#!/usr/bin/env bash
# bench/seccomp.sh [--warmup N] [--runs N] [--rounds N]
# What a seccomp profile costs at start-up: `<rt> run` of /bin/true without a profile and with Docker's
# default profile (tests/Berth.Seccomp.Tests/Resources/docker-default-seccomp.json as linux.seccomp), for
# berth-runtime, runc and crun, with hyperfine, pair by pair (each runtime: without vs with the profile). The runs
# are split into --rounds hyperfine calls that alternate, so that a load change on a shared machine hits both
# sides of a pair alike; the report gives the median (and mean ± sd) over all runs.
# On a hybrid cgroup host crun only runs through bench/lib/hide-cgroup2.sh; runc and berth-runtime are then
# measured through the same wrapper too, so that the crun comparison is like for like.
# Writes a markdown report to stdout and to bench/results/seccomp-<date>.md, with the load average before
# and after (other work on the machine shows there). Needs root.
# BERTH_RUNTIME (default artifacts/publish/berth-runtime), RUNC, CRUN choose the binaries.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

warmup=3 runs=30 rounds=5
bench_options rounds -- "$@"
per_round=$(((runs + rounds - 1) / rounds))

is_root || die "run as root (containers need namespaces, mounts and cgroups)"
ensure_packages hyperfine:hyperfine jq:jq /bin/busybox:busybox-static runc:runc crun:crun

lib=$BERTH_ROOT/bench/lib
profile=$BERTH_ROOT/tests/Berth.Seccomp.Tests/Resources/docker-default-seccomp.json
[[ -r $profile ]] || die "missing $profile"
bench_runtimes berth runc crun
bench_require_berth

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-seccomp.XXXXXX")
cleanup() {
    local root dir
    for root in "$work"/state-*; do
        [[ -d $root ]] || continue
        for dir in "$root"/*/; do
            [[ -d $dir ]] && "$(<"$root.runtime")" --root "$root" delete --force "$(basename "$dir")" >/dev/null 2>&1
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Two bundles that differ only by linux.seccomp (runc's default config: noNewPrivileges is on, so every runtime
# installs the filter last, right before exec).
RUNTIME=$runc "$BERTH_ROOT/scripts/make-bundle.sh" "$work/none" /bin/true
RUNTIME=$runc "$BERTH_ROOT/scripts/make-bundle.sh" "$work/docker" /bin/true
jq --slurpfile p "$profile" '.linux.seccomp = $p[0]' "$work/docker/config.json" >"$work/config.json"
mv "$work/config.json" "$work/docker/config.json"

hybrid=false
if bench_hybrid_cgroup2; then hybrid=true; fi

# Rows are "label|runtime|wrapper".
rows=("berth-runtime|$berth|" "runc|$runc|")
if $hybrid; then
    rows+=("berth-runtime, wrapped|$berth|$lib/hide-cgroup2.sh" "runc, wrapped|$runc|$lib/hide-cgroup2.sh" "crun, wrapped|$crun|$lib/hide-cgroup2.sh")
else
    rows+=("crun|$crun|")
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
skipped=()
for row in "${rows[@]}"; do
    IFS='|' read -r label rt wrapper <<<"$row"
    name=${label//[^a-z]/}
    ok=true
    for b in none docker; do
        root=$work/state-$name-$b
        mkdir -p "$root"
        printf '%s\n' "$rt" >"$root.runtime"
        if ! err=$("$lib/run-once.sh" "$root" "$work/$b" ${wrapper:+"$wrapper"} "$rt" 2>&1); then
            skipped+=("$label: a trial run ($b) failed: $(printf '%s' "$err" | tail -n 2 | tr '\n' ' ')")
            ok=false
        fi
    done
    $ok || continue
    note "$label: without vs with Docker's profile ($rounds rounds of hyperfine --warmup $warmup --runs $per_round)"
    for ((r = 0; r < rounds; r++)); do
        run_quiet "hyperfine ($label, round $r)" hyperfine -N --style none --warmup "$warmup" --runs "$per_round" \
            --export-json "$work/$name-$r.json" \
            -n "$label|none" "$lib/run-once.sh $work/state-$name-none $work/none ${wrapper:+$wrapper }$rt" \
            -n "$label|docker" "$lib/run-once.sh $work/state-$name-docker $work/docker ${wrapper:+$wrapper }$rt"
    done
    # label, bundle, median, mean, sd (ms) over the runs of every round.
    jq -rs '[.[].results[]] | group_by(.command)[] | (map(.times) | add | sort) as $t | ($t | add / length) as $m
        | [(.[0].command | split("|")[0]), (.[0].command | split("|")[1]),
           (($t[(($t | length) - 1) / 2 | floor] + $t[($t | length) / 2 | floor]) / 2 * 1000), ($m * 1000),
           ((($t | map((. - $m) * (. - $m)) | add) / ($t | length) | sqrt) * 1000)] | @tsv' \
        "$work/$name"-*.json >>"$work/results.tsv"
done
for reason in "${skipped[@]}"; do note "skipped $reason"; done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# median LABEL BUNDLE: in ms
median() { awk -F'\t' -v l="$1" -v b="$2" '$1 == l && $2 == b {print $3}' "$work/results.tsv"; }
ratio() {
    local a b
    a=$(median "$1" "$2") b=$(median "$3" "$4")
    if [[ -n $a && -n $b ]]; then awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}'; else echo "n/a"; fi
}

mkdir -p "$BERTH_ROOT/bench/results"
report=$BERTH_ROOT/bench/results/seccomp-$(date +%Y-%m-%d-%H%M).md
{
    printf '# Start-up with and without a seccomp profile, %s\n\n' "$(date '+%Y-%m-%d %H:%M %Z')"
    printf -- '- host: %s, kernel %s, %s CPUs; load average before: %s, after: %s\n' \
        "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(uname -r)" "$(nproc)" "$load_before" "$load_after"
    printf -- '- runc: %s; crun: %s; berth-runtime: %s\n' \
        "$("$runc" --version 2>/dev/null | head -n 1)" "$("$crun" --version 2>/dev/null | head -n 1)" "$berth"
    printf -- "- %s alternating rounds of hyperfine --warmup %s --runs %s, no shell (-N); \`run\` of /bin/true, busybox-static bundle, \`runc spec\` config; \"docker\" = Docker's default profile as linux.seccomp\n" "$rounds" "$warmup" "$per_round"
    ! $hybrid || printf -- '- hybrid cgroups: "wrapped" = run through bench/lib/hide-cgroup2.sh, which crun needs here\n'
    for reason in "${skipped[@]}"; do printf -- '- skipped %s\n' "$reason"; done
    printf '\nMedian (mean ± sd) in ms; the cost is the difference of the medians.\n'
    printf '\n| runtime | no profile | Docker profile | cost |\n|---|---|---|---|\n'
    for row in "${rows[@]}"; do
        label=${row%%|*}
        n=$(median "$label" none) d=$(median "$label" docker)
        [[ -n $n && -n $d ]] || continue
        awk -F'\t' -v l="$label" '$1 == l {m[$2] = $3; a[$2] = sprintf("%.1f (%.1f ± %.1f)", $3, $4, $5)}
            END {printf "| %s | %s | %s | %+.1f |\n", l, a["none"], a["docker"], m["docker"] - m["none"]}' "$work/results.tsv"
    done
    printf '\nWith the profile: berth/runc %s' "$(ratio berth-runtime docker runc docker)"
    if $hybrid; then
        printf ', berth/crun (both wrapped) %s\n' "$(ratio "berth-runtime, wrapped" docker "crun, wrapped" docker)"
    else
        printf ', berth/crun %s\n' "$(ratio berth-runtime docker crun docker)"
    fi
} | tee "$report"
note "report written to ${report#"$BERTH_ROOT"/}"
