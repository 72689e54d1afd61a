# shellcheck shell=bash
# What bench scripts that drive whole engines share: a busybox-static image built here, and podman on private
# storage and configuration (podman-notes.md). Source it after bench/lib/common.sh; do not run it.

# bench_busybox_image WORK: a busybox-static rootfs (every applet linked, /etc/passwd and /etc/group for root) as
# WORK/rootfs.tar (for `podman import`), and as WORK/archive.tar, a one-layer docker archive tagged
# berth-bench/busybox:latest (for `docker load` and `ctr images import`).
bench_busybox_image() {
    local work=$1 rootfs=$1/rootfs archive=$1/archive layer config applet
    mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root}
    install -m 0755 /bin/busybox "$rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"; done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\n' >"$rootfs/etc/group"
    tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$work/rootfs.tar" .
    layer=$(sha256sum "$work/rootfs.tar" | cut -d' ' -f1)
    mkdir -p "$archive/$layer"
    cp "$work/rootfs.tar" "$archive/$layer/layer.tar"
    printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$layer" >"$archive/config.json"
    config=$(sha256sum "$archive/config.json" | cut -d' ' -f1)
    mv "$archive/config.json" "$archive/$config.json"
    printf '[{"Config":"%s.json","RepoTags":["berth-bench/busybox:latest"],"Layers":["%s/layer.tar"]}]' "$config" "$layer" >"$archive/manifest.json"
    tar -C "$archive" -cf "$work/archive.tar" .
}

# bench_podman WORK: podman's storage, run root, temp dir and configuration under WORK (no network, cgroupfs,
# events to a file); exports CONTAINERS_CONF and CONTAINERS_STORAGE_CONF and sets podman_args, the options every
# podman command of the script takes. Imports WORK/rootfs.tar (bench_busybox_image) as
# localhost/berth-bench/busybox:latest.
bench_podman() {
    local work=$1
    cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
[network]
network_config_dir = "$work/networks"
CONF
    cat >"$work/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$work/podman-root"
runroot = "$work/podman-runroot"
CONF
    export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
    podman_args=(--root "$work/podman-root" --runroot "$work/podman-runroot" --tmpdir "$work/podman-tmp")
    run_quiet "podman import" podman "${podman_args[@]}" import -q "$work/rootfs.tar" localhost/berth-bench/busybox:latest
}

# bench_unmount_under DIR: lazily unmounts every mount at or below DIR, deepest first (the overlays engines leave).
bench_unmount_under() {
    local m
    awk -v w="$1" '$5 == w || index($5, w "/") == 1 {print length($5), $5}' /proc/self/mountinfo \
        | sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
