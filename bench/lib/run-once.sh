#!/usr/bin/env bash
# run-once.sh ROOT BUNDLE RUNTIME [ARG...]: one `RUNTIME [ARG...] --root ROOT run --bundle BUNDLE <id>`
# with a fresh id (this script's PID: each benchmark run is a new process). `run` deletes the
# container when it exits; if the runtime left it behind anyway, delete it and leave a mark
# (ROOT.leftover) so bench/runtime.sh can say so.
set -euo pipefail
root=$1 bundle=$2
shift 2
id=run-$$
rc=0
"$@" --root "$root" run --bundle "$bundle" "$id" </dev/null >/dev/null || rc=$?
if [[ -e $root/$id ]]; then
    : >"$root.leftover"
    "$@" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
fi
exit "$rc"
