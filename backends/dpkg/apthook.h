/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * apt's DPkg::Pre-Install-Pkgs hook stream, protocol versions 2 and 3
 * (apt.conf(5); apt-pkg/deb/dpkgpm.cc SendPkgsInfo in apt 2.6).
 *
 * apt writes the whole stream to the hook's InfoFD, closes it, and only then
 * runs dpkg (if the hook exits 0):
 *
 *	VERSION 3
 *	APT::Architecture=amd64			one key=value per config item
 *	DPkg::Pre-Install-Pkgs::=/usr/sbin/x%20y	(a list item: "Key::=value")
 *						one blank line
 *	demo 1.0 all none < 2.0 all none /var/cache/apt/archives/demo_2.0_all.deb
 *	demo 1.0 all none < 2.0 all none **CONFIGURE**
 *	libfoo 1.0 amd64 same > - - none **REMOVE**
 *
 * Keys and values are percent-encoded ("%" and two hex digits) for every
 * byte <= 0x20 or >= 0x7f, for "%", and in keys for "=" and '"': a raw
 * space or control byte never appears in a config line. A package line is
 * NAME OLDVER OLDARCH OLDMA OP NEWVER NEWARCH NEWMA ACTION in version 3 and
 * NAME OLDVER OP NEWVER ACTION in version 2, separated by single spaces; a
 * missing version is "-" (with "- none" for its arch and Multi-Arch type);
 * OP compares the new version with the old one ("<" also for a fresh
 * install, ">" also for a removal); ACTION is the absolute path of the .deb
 * to unpack (it may hold spaces: it is the rest of the line), **CONFIGURE**,
 * **REMOVE** (also a purge), or **ERROR** (a .deb without an absolute path).
 *
 * The parser does no I/O and keeps no state: the caller reads the stream
 * (with its own size cap and deadline) and hands it over whole.
 */
#ifndef PKGUARD_APTHOOK_H
#define PKGUARD_APTHOOK_H

#include <stdbool.h>
#include <stddef.h>

/* The longest line accepted, newline excluded. apt's own lines are far shorter. */
#define PKGUARD_APT_HOOK_MAX_LINE 65536

/*
 * One installed package instance the transaction replaces: upgraded,
 * downgraded, reinstalled or removed. All strings are owned by the
 * struct pkguard_apt_hook that holds the target.
 */
struct pkguard_apt_target {
	/*
	 * The name to check, as dpkg's database knows the instance:
	 * "name:arch" for a Multi-Arch: same package (version 3 only), whose
	 * instances of several architectures can be installed side by side
	 * and replaced one at a time; plain "name" for every other package,
	 * of which only one instance can be installed.
	 */
	char *name;
	char *old_version; /* the installed version, never NULL */
	char *old_arch;	   /* its architecture; NULL in version 2 */
	char *new_version; /* the version unpacked, NULL for a removal */
	char *new_arch;	   /* its architecture; NULL for a removal and in version 2 */
	bool remove;	   /* removed (or purged), nothing installed in its place */
	unsigned line;	   /* the first package line that names it */
};

struct pkguard_apt_hook {
	unsigned version;  /* the protocol: 2 or 3 */
	char *native_arch; /* APT::Architecture, or NULL if apt sent none */
	/*
	 * The targets, one per package (and architecture for Multi-Arch:
	 * same), in the order apt first names them.
	 */
	struct pkguard_apt_target *targets;
	size_t n_targets;
	size_t n_lines;	    /* package lines read */
	size_t n_fresh;	    /* lines that install a package not installed before: skipped */
	size_t n_configure; /* **CONFIGURE** lines: they replace no file; skipped */
	/* Why parsing failed: "line 7: ...", or "" after success. */
	char error[256];
};

/*
 * Parse the LEN bytes at BUF, the whole stream, into *OUT, which is
 * overwritten (initialised first). The targets are the packages whose
 * installed instance the run replaces: an upgrade ("<" with an old
 * version), a downgrade, a reinstall ("="), a removal; a line repeated
 * for one package (unpack, then configure) makes one target. Fresh
 * installs and **CONFIGURE** lines are skipped: they replace nothing.
 *
 * Returns 0; -PKGUARD_EPARSE for a stream that is not protocol 2 or 3 or is
 * malformed (an empty stream, protocol 1's list of .deb files, a missing or
 * extra blank line, a malformed percent escape, a NUL, CR or other control
 * byte, a line cut short or longer than PKGUARD_APT_HOOK_MAX_LINE, a package
 * line with too few fields or an invalid name, version, operator or action);
 * or -ENOMEM. On failure OUT holds nothing but OUT->error, which says what
 * is wrong and where; after success free what it holds with
 * pkguard_apt_hook_release() (harmless after a failure too).
 */
int pkguard_apt_hook_parse(const char *buf, size_t len, struct pkguard_apt_hook *out);

/* Free what HOOK holds and zero it; a zeroed struct is a no-op. */
void pkguard_apt_hook_release(struct pkguard_apt_hook *hook);

#endif
