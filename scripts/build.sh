#!/usr/bin/env bash
# Builds the solution (Release) and publishes berth-runtime, berth-monitor, berthd and berth NativeAOT to artifacts/publish/.
# Silent on success; on failure prints the build log and exits non-zero.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$BERTH_ROOT"

command -v dotnet >/dev/null 2>&1 || die "dotnet not found: install the .NET 10 SDK"
# The spawn stage (src/Berth.Linux/native/spawn.c) and the NativeAOT link need a C toolchain.
command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1 \
    || die "no C compiler: apt-get install gcc (or clang)"

# dotnet build prints a summary even at -v q; the log is kept and shown only when something fails.
run_quiet "build" dotnet build Berth.slnx -c Release -v q --nologo -tl:off
# project:binary pairs; each publish is its own NativeAOT link, redone only when its inputs changed.
for pair in Berth.Runtime.Cli:berth-runtime Berth.Monitor:berth-monitor Berth.Daemon:berthd Berth.Cli:berth; do
    project=${pair%%:*} binary=${pair#*:}
    run_quiet "publish $binary" dotnet publish "src/$project" -c Release -o artifacts/publish -v q --nologo -tl:off
    [[ -x artifacts/publish/$binary ]] || die "publish produced no artifacts/publish/$binary"
done
