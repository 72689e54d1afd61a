#!/usr/bin/env bash
# hide-cgroup2.sh CMD [ARG...]: runs CMD in a private mount namespace where an empty tmpfs is
# mounted over the cgroup2 mount at /sys/fs/cgroup/unified, so CMD sees a cgroup-v1-only host.
# crun 1.8.1 refuses hybrid hosts whose cgroup2 carries a controller; this changes nothing outside.
# Mounting over is enough (crun and runc look at the filesystem type there) and is cheaper than
# `umount -l` first; only unmounting is not enough: crun would then write into the tmpfs
# directory under the mount.
set -euo pipefail
# shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
exec unshare --mount --propagation private \
    sh -c 'mount -t tmpfs -o size=64k,mode=755 berth-hide-cgroup2 /sys/fs/cgroup/unified && exec "$0" "$@"' "$@"
