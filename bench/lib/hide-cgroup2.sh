#!/usr/bin/env bash
# hide-cgroup2.sh CMD [ARG...]: runs CMD in a private mount namespace where the cgroup2 mount at
# /sys/fs/cgroup/unified is replaced by an empty tmpfs, so CMD sees a cgroup-v1-only host.
# crun 1.8.1 refuses hybrid hosts whose cgroup2 carries a controller; this changes nothing outside.
# Only unmounting is not enough: crun would then write into the tmpfs directory under the mount.
set -euo pipefail
# shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
exec unshare --mount --propagation private \
    sh -c 'umount -l /sys/fs/cgroup/unified && mount -t tmpfs none /sys/fs/cgroup/unified && exec "$0" "$@"' "$@"
