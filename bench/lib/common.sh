# shellcheck shell=bash
# What every bench/*.sh script starts with: scripts/lib/common.sh, the --warmup/--runs options, the runtime
# binaries to compare and the hybrid-cgroup test. Source it; do not run it.

# shellcheck source=../../scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

# bench_options [NAME...] -- ARGS...: parses the script's ARGS: --warmup N, --runs N, each extra --NAME N (into
# the variable NAME, dashes as underscores) and -h/--help, which prints the script's header comment (from line 2
# to the first line that is not a comment) and exits. The script sets the defaults of warmup, runs and the extras
# before; dies on an unknown argument or a value that is not a whole number (runs and the extras at least 1).
bench_options() {
    local extras=() spec name value
    while (($#)) && [[ $1 != -- ]]; do
        extras+=("$1")
        shift
    done
    (($#)) || die "bench_options: missing -- before the arguments"
    shift
    while (($#)); do
        case $1 in
            -h | --help)
                sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[-1]}"
                exit 0
                ;;
            --*)
                name=${1#--}
                [[ $name == warmup || $name == runs || " ${extras[*]} " == *" $name "* ]] \
                    || die "unknown argument: $1 (see --help)"
                (($# >= 2)) || die "$1 needs a number"
                printf -v "${name//-/_}" '%s' "$2"
                shift 2
                ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
    done
    local ok=true
    # shellcheck disable=SC2154 # warmup and runs are the calling script's, with its defaults
    [[ $warmup =~ ^[0-9]+$ && $runs =~ ^[1-9][0-9]*$ ]] || ok=false
    for name in "${extras[@]}"; do
        value=${name//-/_}
        [[ ${!value} =~ ^[1-9][0-9]*$ ]] || ok=false
    done
    $ok && return 0
    if ((${#extras[@]} == 0)); then
        die "--warmup and --runs take whole numbers (runs at least 1)"
    fi
    spec=$(printf -- '--%s, ' "${extras[@]}")
    die "--warmup, --runs and ${spec%, } take whole numbers (runs and ${extras[*]} at least 1)"
}

# bench_runtimes NAME...: sets the variable of each NAME (berth, runc, crun) to that runtime's command, from
# BERTH_RUNTIME (default: the published artifacts/publish/berth-runtime), RUNC and CRUN (default: runc and crun
# on PATH); a path is made absolute.
bench_runtimes() {
    local name
    # shellcheck disable=SC2034 # berth, runc and crun are the calling script's variables
    for name in "$@"; do
        case $name in
            berth) berth=$(RUNTIME=${BERTH_RUNTIME:-$BERTH_PUBLISHED_RUNTIME} runtime_command) ;;
            runc) runc=$(RUNTIME=${RUNC:-runc} runtime_command) ;;
            crun) crun=$(RUNTIME=${CRUN:-crun} runtime_command) ;;
            *) die "bench_runtimes: unknown runtime $name (berth, runc or crun)" ;;
        esac
    done
}

# bench_require_berth: dies unless the berth-runtime found by bench_runtimes is an executable.
bench_require_berth() {
    [[ -x $berth ]] || die "no berth-runtime at $berth: run scripts/build.sh first"
}

# bench_hybrid_cgroup2: succeeds when the cgroup2 mount at /sys/fs/cgroup/unified carries a controller, a hybrid
# host that crun 1.8.1 refuses (bench/lib/hide-cgroup2.sh hides it). cgroup files report size 0: the controller
# list is read, not tested with -s.
bench_hybrid_cgroup2() {
    [[ $(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs &&
        -n $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null) ]]
}
