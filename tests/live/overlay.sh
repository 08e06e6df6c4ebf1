#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Live: the scan's BPF iterator stays out where overlayfs is mounted (and not
# where only FUSE's control filesystem is). A mapping of a file on overlayfs
# is a backing file in the kernel: the
# iterator would see the inode underneath, /proc/PID/maps (and stat() of the
# package's path) the one on top. So with the package root itself on
# overlayfs, as on a live system or in a container, a process that maps the
# package's file must still be found: through maps, not BPF.
#
# The whole test runs in a private mount namespace (unshare -m), so the
# overlay is never seen outside it.
#
# Usage: overlay.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
if [ -z "${PKGUARD_OVERLAY_NS:-}" ] && [ "$(id -u)" -eq 0 ]; then
  command -v unshare >/dev/null || {
    echo "SKIP: no unshare (util-linux)"
    exit 77
  }
  PKGUARD_OVERLAY_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
lib_init "$@"

R="$T/root"
make_live_demo "$R"
LIB=/usr/lib/live-demo/libdemo.so.1

# scan_method: how the last pg run read the mappings (its debug line).
scan_method()
{
  sed -n 's/^pkguard: debug: process scan: //p' "$OUT.err" | head -1
}

# Without overlayfs: the iterator, where this kernel and build allow it.
hold "$HELPERS/t-map" "$R$LIB"
mapper=$READY
pg -v --root "$R" --json check live-demo
bpf=yes
# A check loads it while the package database loads (pkguard_scan_early_start()).
case $(scan_method) in
"mappings through BPF (loaded early)") ;;
*)
  bpf=no
  echo "# the BPF iterator is not available here: $(scan_method)"
  ;;
esac
expect "plain root: the mapper is a user" jq_true --argjson pid "$mapper" \
  'any(.packages[0].processes[]; .pid == $pid and .reason == "map")'
# FUSE's control filesystem (systemd mounts it on every host) holds no files
# to map: it must not keep the iterator out.
if [ "$bpf" = yes ] && mkdir -p "$T/fusectl" && mount -t fusectl fusectl "$T/fusectl" 2>/dev/null; then
  pg -v --root "$R" --json check live-demo
  expect "fusectl mounted: still BPF" eq "$(scan_method)" "mappings through BPF (loaded early)"
  umount "$T/fusectl"
fi
stop "$mapper"

# The same root seen through overlayfs, and a process that maps the
# package's file there.
mkdir -p "$T/upper" "$T/work" "$T/merged"
mount -t overlay overlay -o "lowerdir=$R,upperdir=$T/upper,workdir=$T/work" "$T/merged" ||
  fail_setup "cannot mount overlayfs"
hold "$HELPERS/t-map" "$T/merged$LIB"
mapper=$READY
pg -v --root "$T/merged" --json check live-demo
expect "overlay root: no BPF iterator, and why" eq "$(scan_method)" \
  "no BPF iterator (overlayfs or FUSE is mounted)"
expect "overlay root: the mapper is a user" jq_true --argjson pid "$mapper" \
  'any(.packages[0].processes[]; .pid == $pid and .reason == "map" and .file == "/usr/lib/live-demo/libdemo.so.1")'
# What the rule prevents, shown when the iterator exists here: it does
# not see the overlay's inode (a scan-mappings=query run agrees with maps).
printf '[pkguard]\ndenied = warn\nscan-mappings = query\n' >"$T/query.conf"
PKGUARD_CONF=$T/query.conf pg --root "$T/merged" --json check live-demo
expect "overlay root, scan-mappings = query: the mapper is a user" jq_true \
  --argjson pid "$mapper" 'any(.packages[0].processes[]; .pid == $pid and .reason == "map")'
stop "$mapper"
umount "$T/merged"
[ "$bpf" = yes ] || echo "# (the BPF half ran without the iterator)"
finish
