#!/usr/bin/env bash
# demo.sh: runs one container with berth-runtime (or RUNTIME) and shows that it is isolated:
# its shell is PID 1, it has its own hostname, and its namespaces differ from the host's.
# Needs root. Uses a temporary bundle and a temporary --root; removes both (and the container).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

is_root || die "run as root (a container needs namespaces and mounts)"
runtime=$(runtime_command)
if [[ -z ${RUNTIME:-} && ! -x $runtime ]]; then
    die "$runtime is missing: run scripts/build.sh first"
fi
command -v "$runtime" >/dev/null 2>&1 || die "runtime not found: $runtime"

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-demo.XXXXXX")
state=$work/state
bundle=$work/bundle
id=berth-demo-$$
cleanup() {
    if [[ -e $state/$id ]]; then
        "$runtime" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Inside the container: PID, hostname, then one "name target" line per namespace.
# shellcheck disable=SC2016 # expanded by the container's shell, not here
probe='echo "pid $$"; echo "hostname $(hostname)"; for f in /proc/self/ns/*; do echo "ns ${f##*/} $(readlink "$f")"; done'
"$BERTH_ROOT/scripts/make-bundle.sh" "$bundle" /bin/sh -c "$probe"
jq '.hostname = "berth-demo"' "$bundle/config.json" >"$work/config.json"
mv "$work/config.json" "$bundle/config.json"

printf '$ %s --root %s run --bundle %s %s\n' "${runtime##*/}" "$state" "$bundle" "$id"
rc=0
out=$("$runtime" --root "$state" run --bundle "$bundle" "$id" </dev/null) || rc=$?
((rc == 0)) || { printf '%s\n' "$out"; die "'${runtime##*/} run' failed (exit $rc)"; }

declare -A inside=()
pid='' hostname=''
while read -r kind name value; do
    case $kind in
        pid) pid=$name ;;
        hostname) hostname=$name ;;
        ns) inside[$name]=$value ;;
    esac
done <<<"$out"
[[ -n $pid && ${#inside[@]} -gt 0 ]] || { printf '%s\n' "$out"; die "unexpected output from the container"; }

printf '\nInside the container its shell is PID %s: it has a PID namespace of its own.\n' "$pid"
printf 'Hostname: %s inside, %s on the host.\n\n' "$hostname" "$(hostname)"
printf '%-20s %-22s %-22s %s\n' namespace host container ''
isolated=0 shared=0
for name in $(printf '%s\n' "${!inside[@]}" | sort); do
    host=$(readlink "/proc/self/ns/$name" 2>/dev/null || echo '-')
    if [[ $host == "${inside[$name]}" ]]; then
        verdict=shared
        shared=$((shared + 1))
    else
        verdict=isolated
        isolated=$((isolated + 1))
    fi
    printf '%-20s %-22s %-22s %s\n' "$name" "$host" "${inside[$name]}" "$verdict"
done
asked=$(jq -r '[.linux.namespaces[].type] | join(", ")' "$bundle/config.json")
printf '\n%d isolated, %d shared with the host; config.json asks for new namespaces: %s.\n' "$isolated" "$shared" "$asked"
[[ $pid == 1 ]] || die "the container's process is PID $pid, not 1"
