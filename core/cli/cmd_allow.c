/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard allow --once PKG...: let the next upgrade of each package through,
 * whatever the policy says. The override is recorded in the state database
 * and consumed by the next transaction that upgrades the package.
 */
#include <errno.h>
#include <json.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int usage_error(struct cli *cli, const char *what)
{
	return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
			    "allow: %s (usage: pkguard allow --once PKG...; only one-shot "
			    "overrides exist: each lets the next upgrade of PKG through once)",
			    what);
}

/*
 * A package name is stored and later compared with the names the package
 * manager passes: refuse what no package manager would call a package, so a
 * typo such as an empty argument or a pasted line break records nothing.
 */
static bool plausible_name(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (!*p || *p == '-')
		return false;
	for (; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '/')
			return false;
	}
	return true;
}

static int found(void *userdata, const struct pkguard_pkginfo *pkg)
{
	return 0;
}

/*
 * Whether NAME is installed, for a warning only: 1 yes, 0 no, <0 unknown (no
 * backend or the database cannot be read). An override for a package that is
 * not installed yet is legitimate: it may be installed before it is upgraded.
 */
static int installed(struct cli *cli, struct pkguard_pkgdb *db, const char *name)
{
	int rc;

	if (!db)
		return -ENOENT;
	rc = cli->backend->lookup(db, name, found, NULL);
	if (rc == -PKGUARD_ENOPKG)
		return 0;
	return rc < 0 ? rc : 1;
}

static int run_allow(struct cli *cli, int argc, char **argv)
{
	struct pkguard_pkgdb *db = NULL;
	struct pkguard_state *st = NULL;
	json_object *out = NULL, *list = NULL;
	bool once = false;
	int npkgs = 0, i, rc;

	/* Package names never start with '-': every such argument is an option. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = true;
		else if (argv[i][0] == '-')
			return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
					    "allow: unknown option '%s' (usage: pkguard allow "
					    "--once PKG...)",
					    esc(0, argv[i]));
		else if (!plausible_name(argv[i]))
			return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
					    "allow: '%s' is not a package name", esc(0, argv[i]));
		else
			npkgs++;
	}
	if (!once)
		return usage_error(cli, "--once is required");
	if (!npkgs)
		return usage_error(cli, "name at least one package");
	if (geteuid() != 0 && !cli->state_path)
		return pkguard_fail(cli->ctx, -EACCES,
				    "allow: only root can write the state database '%s'",
				    PKGUARD_STATE_DEFAULT_PATH);

	/* Best effort: the backend only tells whether a warning is due. */
	if (!cli->backend) {
		pkguard_log(cli->ctx, PKGUARD_LOG_WARN,
			    "no package manager of this build manages '%s'; not checking whether "
			    "packages are installed",
			    esc(0, pkguard_ctx_root(cli->ctx)));
	} else if (cli->backend->open(cli->ctx, &db) < 0) {
		pkguard_log(cli->ctx, PKGUARD_LOG_WARN,
			    "%s; not checking whether packages are installed",
			    pkguard_ctx_errmsg(cli->ctx));
		db = NULL;
	}
	rc = cli_open_state(cli, &st);
	if (rc < 0)
		goto out;
	if (cli->json) {
		out = json_object_new_object();
		list = json_object_new_array();
		json_object_object_add(out, "overrides", list);
	}
	for (i = 1; i < argc; i++) {
		int inst;

		if (argv[i][0] == '-')
			continue;
		inst = installed(cli, db, argv[i]);
		if (inst == 0)
			pkguard_log(cli->ctx, PKGUARD_LOG_WARN,
				    "'%s' is not installed in '%s'; recording the override anyway",
				    esc(0, argv[i]), esc(1, pkguard_ctx_root(cli->ctx)));
		rc = pkguard_state_override_add(st, argv[i], getuid());
		if (rc < 0)
			goto out;
		if (list) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "package",
					       json_object_new_string(esc(0, argv[i])));
			json_object_object_add(o, "by_uid", json_object_new_int64(getuid()));
			json_object_object_add(o, "installed",
					       inst < 0 ? NULL : json_object_new_boolean(inst));
			json_object_array_add(list, o);
		} else {
			printf("recorded a one-shot override for %s: the next upgrade of %s will "
			       "pass, whatever the policy says\n",
			       esc(0, argv[i]), esc(1, argv[i]));
		}
	}
	if (out) {
		rc = json_print(out);
		out = NULL;
	}
	rc = rc < 0 ? rc : 0;
out:
	json_object_put(out);
	pkguard_state_close(st);
	if (db)
		cli->backend->close(db);
	return rc;
}

const struct pkguard_command cmd_allow = {
	.name = "allow",
	.args = "--once PKG...",
	.summary = "let the next upgrade of these packages through, once",
	.run = run_allow,
};
