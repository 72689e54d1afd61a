#!/usr/bin/env bash
# bench/exec.sh [--warmup N] [--runs N]
# `<rt> exec <id> true` on a running container (runc's default config, `sleep` as init, the same bundle),
# berth-runtime against runc, with hyperfine. Each runtime runs its own container from its own state root.
# Writes a markdown report to stdout. Needs root. BERTH_RUNTIME and RUNC choose the binaries.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

warmup=3 runs=30
bench_options -- "$@"
is_root || die "run as root (containers need namespaces, mounts and cgroups)"
ensure_packages hyperfine:hyperfine jq:jq /bin/busybox:busybox-static runc:runc

bench_runtimes berth runc
bench_require_berth
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-exec.XXXXXX")
id=bench-exec-$$
cleanup() {
    "$berth" --root "$work/state-berth" delete --force "$id" >/dev/null 2>&1 || true
    "$runc" --root "$work/state-runc" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

RUNTIME=$runc "$BERTH_ROOT/scripts/make-bundle.sh" "$work/bundle" /bin/sleep 100000
for rt in berth runc; do
    bin=${!rt}
    "$bin" --root "$work/state-$rt" run -d --bundle "$work/bundle" "$id" </dev/null >/dev/null 2>&1 \
        || die "$rt: run -d of the sleeping container failed"
    [[ $("$bin" --root "$work/state-$rt" exec "$id" sh -c 'echo ok') == ok ]] || die "$rt: exec does not work"
done

hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$work/exec.json" \
    -n berth-runtime "$berth --root $work/state-berth exec $id true" \
    -n runc "$runc --root $work/state-runc exec $id true" >&2
echo "| runtime | exec true (ms) |"
echo "|---|---|"
jq -r '.results[] | "| \(.command) | \(.mean * 1000 * 10 | round / 10) ± \(.stddev * 1000 * 10 | round / 10) |"' "$work/exec.json"
jq -r '(.results[0].mean / .results[1].mean * 100 | round / 100) as $r | "\nberth/runc: **\($r)**"' "$work/exec.json"
