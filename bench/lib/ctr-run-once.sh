#!/usr/bin/env bash
# ctr-run-once.sh SOCKET NAMESPACE RUNC_ROOT RUNTIME IMAGE: one `ctr run --rm --runc-binary RUNTIME IMAGE <id> true`
# with a fresh id (this script's PID), so each benchmark run is a new container.
set -euo pipefail
exec ctr -a "$1" -n "$2" run --rm --runc-binary "$4" --runc-root "$3" "$5" "bench-$$" true </dev/null >/dev/null
