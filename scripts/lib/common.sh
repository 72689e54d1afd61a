# shellcheck shell=bash
# Shared helpers for the scripts under scripts/ and bench/. Source it; do not run it.

# The repository root: scripts/lib/ is two levels below it.
BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BERTH_ROOT

# The published runtime; callers may override it with RUNTIME (a path or a command name).
export BERTH_PUBLISHED_RUNTIME="$BERTH_ROOT/artifacts/publish/berth-runtime"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

die() {
    printf '%s: error: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

note() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

is_root() {
    [[ $(id -u) -eq 0 ]]
}

# ensure_packages CMD:PACKAGE...: installs with apt-get the packages whose command is missing.
# Runs `apt-get update` once, and only when something is missing. Needs root to install.
BERTH_APT_UPDATED=${BERTH_APT_UPDATED:-}
ensure_packages() {
    local want=() pair cmd pkg
    for pair in "$@"; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x $cmd ]]; then
            want+=("$pkg")
        fi
    done
    ((${#want[@]} == 0)) && return 0
    is_root || die "missing ${want[*]}: install them (apt-get install ${want[*]}) or run as root"
    local log
    log=$(mktemp)
    if [[ -z $BERTH_APT_UPDATED ]]; then
        if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            die "apt-get update failed"
        fi
        BERTH_APT_UPDATED=1
    fi
    # Packages such as docker.io and containerd start their daemon on install where they can; the tests start
    # their own on private state, so a policy-rc.d (see invoke-rc.d(8)) keeps the default ones from starting.
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" </dev/null >"$log" 2>&1 || rc=$?
    [[ -z $made_policy ]] || rm -f "$policy"
    if ((rc != 0)); then
        cat "$log" >&2
        rm -f "$log"
        die "apt-get install ${want[*]} failed"
    fi
    rm -f "$log"
}

# run_quiet LABEL CMD...: runs CMD with its output kept in a log; prints the log only when CMD fails.
run_quiet() {
    local label=$1 log rc=0
    shift
    log=$(mktemp)
    "$@" >"$log" 2>&1 || rc=$?
    if ((rc != 0)); then
        cat "$log" >&2
        rm -f "$log"
        die "$label failed (exit $rc): $*"
    fi
    rm -f "$log"
}

# runtime_command: the runtime to use, from RUNTIME (default: the published berth-runtime).
# A path is made absolute so it still works after a cd; a bare name is looked up on PATH.
runtime_command() {
    local rt=${RUNTIME:-$BERTH_PUBLISHED_RUNTIME}
    if [[ $rt == */* ]]; then
        realpath -m -- "$rt"
    else
        command -v -- "$rt" || printf '%s\n' "$rt"
    fi
}
