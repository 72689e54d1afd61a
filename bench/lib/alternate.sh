#!/usr/bin/env bash
# alternate.sh WARMUP RUNS LABEL COMMAND [LABEL COMMAND]...: runs the commands in turn, A B A B ..., for RUNS
# rounds after WARMUP unmeasured ones, and prints one line per command: label, mean wall time, its sd, median
# (ms), and mean CPU time of the command and its children (ms, from bash's `times`). Unlike hyperfine's
# all-A-then-all-B, each pair shares the machine's state of the moment, so a runtime that waits idly (for the
# kernel, for another process) shows it against one that does not. COMMAND is split on spaces (no quoting).
set -euo pipefail
warmup=$1 runs=$2
shift 2
labels=() commands=()
while (($#)); do
    labels+=("$1") commands+=("$2")
    shift 2
done
n=${#labels[@]}

# cpu_ms: user + system time of this shell's finished children so far, in ms (bash's `times`, second line).
times_file=$(mktemp)
trap 'rm -f "$times_file"' EXIT
# Sets $cpu_now (called directly: in a command substitution `times` would be the subshell's).
cpu_ms() {
    local line
    times >"$times_file"
    line=$(tail -n 1 "$times_file")
    cpu_now=$(awk -v l="$line" 'BEGIN {
        split(l, f, " "); t = 0
        for (i = 1; i <= 2; i++) { split(f[i], p, "m"); sub("s", "", p[2]); t += p[1] * 60000 + p[2] * 1000 }
        printf "%.3f", t }')
}

declare -A wall cpu
for ((round = -warmup; round < runs; round++)); do
    for ((i = 0; i < n; i++)); do
        cpu_ms
        c0=$cpu_now
        t0=$EPOCHREALTIME
        ${commands[i]} >/dev/null 2>&1 || { echo "alternate.sh: ${labels[i]} failed: ${commands[i]}" >&2; exit 1; }
        t1=$EPOCHREALTIME
        cpu_ms
        c1=$cpu_now
        if ((round >= 0)); then
            wall[$i]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) * 1000}') "
            cpu[$i]+="$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.3f", b - a}') "
        fi
    done
done
for ((i = 0; i < n; i++)); do
    printf '%s\t' "${labels[i]}"
    printf '%s\n' "${wall[$i]}" | tr ' ' '\n' | grep . | sort -n | awk -v c="${cpu[$i]}" '
        { v[NR] = $1; s += $1; q += $1 * $1 }
        END {
            m = s / NR; sd = sqrt(q / NR - m * m); med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            k = split(c, cs, " "); ct = 0; for (j = 1; j <= k; j++) ct += cs[j]
            printf "%.2f\t%.2f\t%.2f\t%.2f\n", m, sd, med, ct / k }'
done
