#!/usr/bin/env bash
# test.sh: installs what is missing (as root), builds, runs the unit tests and then the integration
# tests (as root, against the NativeAOT binaries in artifacts/publish/). Prints one line per test project and a
# closing "N passed, N failed" line; exits non-zero when anything failed or could not run.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$BERTH_ROOT"

# The test projects, in the order they run. Each must exist: a missing one is a failure.
unit_projects=(
    tests/Berth.Oci.Tests
    tests/Berth.Cgroups.Tests
    tests/Berth.Runtime.Tests
    tests/Berth.Engine.Tests
    tests/Berth.Seccomp.Tests
    tests/Berth.Snapshots.Tests
    tests/Berth.Images.Tests
    # against a real docker-registry on 127.0.0.1 and skopeo: no root needed
    tests/Berth.Registry.Tests
    tests/Berth.Api.Tests
)
integration_projects=(
    tests/Berth.Integration.Tests
    # berth-monitor with real containers under both exec drivers (in-process and runc)
    tests/Berth.Monitor.Tests
    # 1000 cycles with leak accounting, the runtime killed at each phase, racing commands, config.json fuzzing
    tests/Berth.Reliability.Tests
    tests/Berth.Snapshots.RootTests
    # links and addresses in network namespaces the tests make, the embedded DNS server, the port proxy
    tests/Berth.Network.Tests
    tests/Berth.Clients.Tests
    tests/Berth.Daemon.Tests
    # Testcontainers for .NET against berthd (Docker.DotNet's suite is in Berth.Clients.Tests)
    tests/Berth.DotNetClients.Tests
)
# A hung test (a container that never exits) fails its project instead of stalling the run.
hang_timeout=${BERTH_TEST_HANG_TIMEOUT:-15m}

command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK"
if is_root; then
    ensure_packages /bin/busybox:busybox-static runc:runc crun:crun hyperfine:hyperfine jq:jq umoci:umoci zstd:zstd \
        docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils
    # The clients that Berth.Clients.Tests drives (each started on private state by the tests).
    ensure_packages podman:podman conmon:conmon containerd:containerd ctr:containerd dockerd:docker.io docker:docker.io \
        script:bsdutils tar:tar curl:curl docker-compose:docker-compose
    command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1 || ensure_packages gcc:gcc
fi

if ! "$BERTH_ROOT/scripts/build.sh"; then
    echo "test.sh: build failed, no tests run: 0 passed, 1 failed, 0 skipped"
    exit 1
fi

passed=0 failed=0 skipped=0

# run_project DIR [ENV=VALUE...]: runs one test project's already built tests and adds up its summary.
run_project() {
    local dir=$1 name log rc=0 summary p f s
    shift
    name=${dir##*/}
    if [[ ! -d $dir ]]; then
        printf '  %-28s missing: %s does not exist\n' "$name" "$dir"
        failed=$((failed + 1))
        return
    fi
    log=$(mktemp)
    env "$@" dotnet test "$dir" -c Release --no-build --nologo -v q -tl:off \
        --logger "console;verbosity=minimal" \
        --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none >"$log" 2>&1 || rc=$?
    # "Passed!  - Failed:     0, Passed:     1, Skipped:     0, Total:     1, Duration: ..." per assembly
    summary=$(sed -nE 's/^(Passed|Failed)! +- Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+),.*/\3 \2 \4/p' "$log" \
        | awk '{p += $1; f += $2; s += $3} END {if (NR) print p, f, s}')
    p=0 f=0 s=0
    [[ -z $summary ]] || read -r p f s <<<"$summary"
    if ((rc != 0 && f == 0)); then
        # dotnet test failed without a failed test: a crash, a hang, or a missing build output.
        f=1
        printf '  %-28s did not run cleanly (exit %d):\n' "$name" "$rc"
        sed 's/^/    /' "$log"
    else
        printf '  %-28s %d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
        ((f == 0)) || sed -n '/^  Failed /,/^$/p; /^\[xUnit.net.*\[FAIL\]/p' "$log" | sed 's/^/    /'
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    rm -f "$log"
}

echo "unit tests:"
for project in "${unit_projects[@]}"; do
    run_project "$project"
done

echo "integration tests (BERTH_RUNTIME=artifacts/publish/berth-runtime):"
if is_root; then
    for project in "${integration_projects[@]}"; do
        run_project "$project" BERTH_RUNTIME="$BERTH_PUBLISHED_RUNTIME"
    done
else
    printf '  %-28s not run: integration tests need root\n' "${integration_projects[*]##*/}"
    failed=$((failed + 1))
fi

printf 'test.sh: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
((failed == 0))
