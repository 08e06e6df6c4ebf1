#!/bin/sh
# The rpm hold as the real front-ends read it: after t-rpmhold places a hold
# in a scratch root, `dnf versionlock list` and `zypper locks` show it; after
# zypper rewrites its file, pkguard still finds and lifts only its own lock.
# Usage: rpm-hold-tools.sh T-RPMHOLD. Skips (77) without dnf's versionlock
# plugin and zypper, or without root (zypper --root wants it).
set -eu
HOLD=$1
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
T=$(mktemp -d /tmp/pkguard-rpmhold.XXXXXX)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
R=$T/root
mkdir -p "$R/etc/dnf/plugins" "$R/etc/zypp" "$T/conf"
# dnf reads plugin configuration from the host even with --installroot:
# point it at a copy that names the root's list.
printf '[main]\nenabled = 1\nlocklist = %s\n' "$R/etc/dnf/plugins/versionlock.list" \
	>"$T/conf/versionlock.conf"
dnf() {
	command dnf -q --installroot="$R" --setopt=pluginconfpath="$T/conf" \
		--setopt=reposdir="$T/none" --releasever=1 "$@"
}

# Debian bookworm's dnf-plugins-core and zypper conflict: often only one.
have_dnf=no; have_zypper=no
command -v dnf >/dev/null && dnf versionlock --help >/dev/null 2>&1 && have_dnf=yes
command -v zypper >/dev/null && have_zypper=yes
[ $have_dnf = yes ] || [ $have_zypper = yes ] || { echo "skip: no dnf versionlock, no zypper"; exit 77; }
printf '[main]\nenabled = 1\nlocklist = /etc/dnf/plugins/versionlock.list\n' \
	>"$R/etc/dnf/plugins/versionlock.conf"
printf '\ntype: package\nmatch_type: glob\ncase_sensitive: on\nsolvable_name: bar\n\n' \
	>"$R/etc/zypp/locks"

out=$("$HOLD" "$R" foo 2:1.0-1)
[ "$out" = "rc 0 " ] || { echo "FAIL: hold: $out"; exit 1; }

if [ $have_dnf = yes ]; then
	list=$(dnf versionlock list 2>&1)
	[ "$list" = "foo-2:1.0-1.*" ] || { echo "FAIL: dnf versionlock list: $list"; exit 1; }
	echo "ok: dnf versionlock list shows foo-2:1.0-1.*"
fi

if [ $have_zypper = yes ]; then
	locks=$(zypper --non-interactive --root "$R" locks 2>&1)
	echo "$locks" | grep -Eq '^[0-9]+ *\| *foo *\| *package' ||
		{ echo "FAIL: zypper locks: $locks"; exit 1; }
	# zypper rewrites the whole file (dropping "#" lines): the mark survives.
	zypper --non-interactive --root "$R" addlock baz >/dev/null
	out=$("$HOLD" "$R" foo)
	[ "$out" = "rc 0 " ] || { echo "FAIL: lift after rewrite: $out"; exit 1; }
	locks=$(zypper --non-interactive --root "$R" locks 2>&1)
	if echo "$locks" | grep -Eq '\| *foo *\|' ||
		! echo "$locks" | grep -Eq '\| *bar *\|' || ! echo "$locks" | grep -Eq '\| *baz *\|'; then
		echo "FAIL: zypper locks after lift: $locks"; exit 1
	fi
	echo "ok: zypper locks showed foo, and after a rewrite only foo was lifted"
fi
