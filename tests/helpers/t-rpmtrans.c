/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-rpmtrans: one real librpm transaction, for running the rpm plugin inside
 * a sanitizer build. Debian's rpm program hangs at start with the ASan
 * runtime preloaded (in rpmcliInit()), so it cannot load an ASan-built
 * plugin; this program, built with the sanitizers itself, makes the same
 * librpm calls rpm -U and rpm -e make, without rpmcliInit(): rpm's
 * configuration, the macros given, a transaction set on ROOT, elements,
 * rpmtsRun() (plugins are loaded by librpm from %{__plugindir} and
 * %__transaction_NAME, as always).
 *
 * Usage: t-rpmtrans ROOT [-D 'MACRO VALUE']... [--test] [--oldpackage] -U FILE... | -e NAME...
 * Exit status: 0 done, 1 the transaction failed (a plugin refused it), 2 usage
 * or setup error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rpm/header.h>
#include <rpm/rpmcli.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmts.h>

static int add_file(rpmts ts, const char *path)
{
	FD_t fd = Fopen(path, "r.ufdio");
	Header h = NULL;
	rpmRC rc;

	if (!fd || Ferror(fd)) {
		fprintf(stderr, "t-rpmtrans: cannot open %s\n", path);
		return -1;
	}
	rc = rpmReadPackageFile(ts, fd, path, &h);
	Fclose(fd);
	if (rc != RPMRC_OK && rc != RPMRC_NOTTRUSTED && rc != RPMRC_NOKEY) {
		fprintf(stderr, "t-rpmtrans: cannot read %s\n", path);
		return -1;
	}
	/* The key is what the notify callback opens: the file's name. */
	rc = rpmtsAddInstallElement(ts, h, path, 1, NULL) == 0 ? RPMRC_OK : RPMRC_FAIL;
	headerFree(h);
	return rc == RPMRC_OK ? 0 : -1;
}

static int add_erase(rpmts ts, const char *name)
{
	rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMDBI_LABEL, name, 0);
	Header h;
	int n = 0;

	while ((h = rpmdbNextIterator(mi))) {
		if (rpmtsAddEraseElement(ts, h, -1) == 0)
			n++;
	}
	rpmdbFreeIterator(mi);
	if (!n)
		fprintf(stderr, "t-rpmtrans: package %s is not installed\n", name);
	return n ? 0 : -1;
}

int main(int argc, char **argv)
{
	rpmtransFlags flags = RPMTRANS_FLAG_NONE;
	rpmprobFilterFlags filter = RPMPROB_FILTER_NONE;
	int i = 2, rc = 2, erase = -1;
	rpmts ts = NULL;

	if (argc < 4)
		goto usage;
	if (rpmReadConfigFiles(NULL, NULL) != 0) {
		fprintf(stderr, "t-rpmtrans: cannot read rpm's configuration\n");
		return 2;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "-D") == 0 && i + 1 < argc)
			rpmDefineMacro(NULL, argv[++i], RMIL_CMDLINE);
		else if (strcmp(argv[i], "--test") == 0)
			flags |= RPMTRANS_FLAG_TEST;
		else if (strcmp(argv[i], "--oldpackage") == 0)
			filter |= RPMPROB_FILTER_OLDPACKAGE;
		else
			break;
	}
	if (i >= argc - 1 || (strcmp(argv[i], "-U") != 0 && strcmp(argv[i], "-e") != 0))
		goto usage;
	erase = strcmp(argv[i], "-e") == 0;
	ts = rpmtsCreate();
	if (rpmtsSetRootDir(ts, argv[1]) != 0) {
		fprintf(stderr, "t-rpmtrans: bad root %s\n", argv[1]);
		goto out;
	}
	rpmtsSetVSFlags(ts, rpmtsVSFlags(ts) | RPMVSF_MASK_NOSIGNATURES);
	rpmtsSetFlags(ts, flags);
	rpmtsSetNotifyCallback(ts, rpmShowProgress, (void *)(long)INSTALL_NONE);
	for (i++; i < argc; i++) {
		if ((erase ? add_erase(ts, argv[i]) : add_file(ts, argv[i])) < 0)
			goto out;
	}
	/* No dependency check, as rpm --nodeps: the test roots hold no dependencies. */
	rc = rpmtsRun(ts, NULL, filter) == 0 ? 0 : 1;
out:
	rpmtsFree(ts);
	rpmFreeMacros(NULL);
	rpmFreeRpmrc();
	return rc;
usage:
	fprintf(stderr,
		"usage: t-rpmtrans ROOT [-D 'MACRO VALUE']... [--test] [--oldpackage] -U FILE... "
		"| -e NAME...\n");
	return 2;
}
