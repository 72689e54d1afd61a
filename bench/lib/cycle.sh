#!/usr/bin/env bash
# cycle.sh ROOT BUNDLE RUNTIME [ARG...]: create, start, wait for the container's process to exit,
# delete; with a fresh id. The container's process is not our child (create returns while it waits
# in "created"), so waiting means watching /proc/PID/stat until it is gone or a zombie ("Z").
set -euo pipefail
root=$1 bundle=$2
shift 2
id=cycle-$$
pidfile=$root.pid-$id
wait_exit() {
    local pid='' state
    # The pid file may lack a final newline: then read fails at EOF but has the number.
    read -r pid 2>/dev/null <"$pidfile" || true
    if [[ ! $pid =~ ^[0-9]+$ ]]; then
        echo "cycle.sh: '$* create' wrote no --pid-file ($pidfile)" >&2
        return 1
    fi
    while read -r _ _ state _ 2>/dev/null <"/proc/$pid/stat" && [[ $state != Z ]]; do :; done
}
if "$@" --root "$root" create --bundle "$bundle" --pid-file "$pidfile" "$id" </dev/null >/dev/null &&
    "$@" --root "$root" start "$id" &&
    wait_exit "$@" &&
    "$@" --root "$root" delete "$id"; then
    rm -f "$pidfile"
    exit 0
fi
"$@" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
rm -f "$pidfile"
exit 1
