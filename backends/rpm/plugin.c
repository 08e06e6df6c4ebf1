/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard.so, the rpm transaction plugin: guards every transaction that goes
 * through librpm (rpm -U/-e, dnf, zypper) from inside rpm.
 *
 * tsm_pre runs once per transaction, after rpm has taken its database lock
 * and before %pretrans and any file is touched; failing it makes rpmtsRun()
 * give up with nothing changed. There the files of the TR_REMOVED elements
 * (the installed versions about to be replaced or erased) are the targets of
 * one pkguard run. A test transaction (rpm --test, dnf's first pass) decides
 * and reports but never waits or stops units: the real one does that.
 * tsm_post is the post step: units stopped for the upgrade start again and
 * the processes left running replaced files are recorded.
 *
 * This code runs inside rpm's process: no exit, no signal handlers, the
 * environment untouched, everything allocated in a hook freed before it
 * returns (the context lives from init to cleanup), and every message goes
 * through rpmlog so that dnf and zypper show it. An internal failure lets
 * the transaction go on, loudly, unless the policy says on-error = block.
 *
 * Options, the macro's text after the plugin's path:
 *   %__transaction_pkguard %{__plugindir}/pkguard.so [--config FILE] [--state FILE]
 */
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rpm/rpmfiles.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmte.h>
#include <rpm/rpmts.h>
#include <rpm/rpmtypes.h>

#include "pkguard/run.h"
#include "rpmdb.h"

#ifdef PKGUARD_HAVE_RPMPLUGIN_H
#include <rpm/rpmplugin.h>
#else
/*
 * rpm < 4.20 does not install its plugin header (lib/rpmplugin.h). This is
 * its hooks struct, field for field as in rpm 4.12 to 4.19 (only
 * fsm_file_prepare's parameters changed, in 4.18, and it is not used here),
 * and the accessors librpm exports without declaring them.
 */
typedef rpmFlags rpmFsmOp;

struct rpmPluginHooks_s {
	rpmRC (*init)(rpmPlugin plugin, rpmts ts);
	void (*cleanup)(rpmPlugin plugin);
	rpmRC (*tsm_pre)(rpmPlugin plugin, rpmts ts);
	rpmRC (*tsm_post)(rpmPlugin plugin, rpmts ts, int res);
	rpmRC (*psm_pre)(rpmPlugin plugin, rpmte te);
	rpmRC (*psm_post)(rpmPlugin plugin, rpmte te, int res);
	rpmRC (*scriptlet_pre)(rpmPlugin plugin, const char *s_name, int type);
	rpmRC (*scriptlet_fork_post)(rpmPlugin plugin, const char *path, int type);
	rpmRC (*scriptlet_post)(rpmPlugin plugin, const char *s_name, int type, int res);
	rpmRC (*fsm_file_pre)(rpmPlugin plugin, rpmfi fi, const char *path, mode_t file_mode,
			      rpmFsmOp op);
	rpmRC (*fsm_file_post)(rpmPlugin plugin, rpmfi fi, const char *path, mode_t file_mode,
			       rpmFsmOp op, int res);
	rpmRC (*fsm_file_prepare)(rpmPlugin plugin, rpmfi fi, int fd, const char *path,
				  const char *dest, mode_t file_mode, rpmFsmOp op);
};

const char *rpmPluginOpts(rpmPlugin plugin);
void rpmPluginSetData(rpmPlugin plugin, void *data);
void *rpmPluginGetData(rpmPlugin plugin);
#endif

/* The plugin's state, from init to cleanup (rpmPluginSetData: no globals). */
struct plugin {
	struct pkguard_ctx *ctx;
	char *config_path; /* --config, or NULL for the installed configuration */
	char *state_path;  /* --state, or NULL for the default */
	bool post_due;	   /* a real run let the transaction go: tsm_post has work */
	bool waiting_said; /* the wait's first message was logged */
};

static void log_to_rpm(void *userdata, enum pkguard_log_level level, const char *msg)
{
	static const int pri[] = {
		[PKGUARD_LOG_ERR] = RPMLOG_ERR,
		[PKGUARD_LOG_WARN] = RPMLOG_WARNING,
		[PKGUARD_LOG_INFO] = RPMLOG_NOTICE,
		[PKGUARD_LOG_DEBUG] = RPMLOG_DEBUG,
	};

	(void)userdata;
	/* rpm prefixes "error: " and "warning: " itself. */
	rpmlog(pri[level], "pkguard: %s\n", msg);
}

/* The report, line by line, through rpmlog: refusals as errors. */
static void report(const struct pkguard_run *r)
{
	char *text = NULL, *line, *next;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out) {
		rpmlog(RPMLOG_ERR, "pkguard: cannot report the decision: %s\n", strerror(errno));
		return;
	}
	pkguard_run_report(r, out);
	if (fclose(out) != 0 || !text) {
		free(text);
		return;
	}
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (pkguard_run_refuses(r))
			rpmlog(RPMLOG_ERR, "%.*s", (int)(next - line), line);
		else if (strncmp(line, "pkguard: warning: ", 18) == 0)
			rpmlog(RPMLOG_WARNING, "pkguard: %.*s", (int)(next - line - 18), line + 18);
		else
			rpmlog(RPMLOG_NOTICE, "%.*s", (int)(next - line), line);
	}
	free(text);
}

/* A wait inside tsm_pre keeps rpm's database locked: say so, once. */
static void wait_progress(void *userdata, const char *what, uint64_t left_ms)
{
	struct plugin *p = userdata;

	if (!what || p->waiting_said)
		return;
	p->waiting_said = true;
	rpmlog(RPMLOG_WARNING,
	       "pkguard: waiting up to %llu s for %s; rpm's database stays locked meanwhile\n",
	       (unsigned long long)((left_ms + 999) / 1000), what);
}

static int parse_opts(struct plugin *p, const char *text)
{
	const char **argv = NULL;
	int argc = 0, i, rc = 0;

	if (!text || !*text)
		return 0;
	if (poptParseArgvString(text, &argc, &argv) != 0) {
		rpmlog(RPMLOG_WARNING, "pkguard: cannot parse the plugin's options '%s'\n", text);
		return -EINVAL;
	}
	for (i = 0; i < argc && rc == 0; i++) {
		char **slot = strcmp(argv[i], "--config") == 0	? &p->config_path
			      : strcmp(argv[i], "--state") == 0 ? &p->state_path
								: NULL;

		if (!slot || i + 1 == argc) {
			rpmlog(RPMLOG_WARNING,
			       "pkguard: plugin option '%s' %s (it knows --config FILE and "
			       "--state FILE)\n",
			       argv[i], slot ? "needs a value" : "is unknown");
			rc = -EINVAL;
			break;
		}
		free(*slot);
		*slot = strdup(argv[++i]);
		if (!*slot)
			rc = -ENOMEM;
	}
	free(argv); /* popt allocates the vector and its strings in one block */
	return rc;
}

static void plugin_free(struct plugin *p)
{
	if (!p)
		return;
	pkguard_ctx_free(p->ctx);
	free(p->config_path);
	free(p->state_path);
	free(p);
}

static rpmRC pkguard_init(rpmPlugin plugin, rpmts ts)
{
	struct plugin *p = calloc(1, sizeof(*p));

	(void)ts;
	if (!p || pkguard_ctx_new(&p->ctx) < 0 || parse_opts(p, rpmPluginOpts(plugin)) < 0) {
		/* RPMRC_NOTFOUND drops the plugin; RPMRC_FAIL would fail rpm. */
		rpmlog(RPMLOG_WARNING,
		       "pkguard: the plugin cannot start: transactions are NOT guarded\n");
		plugin_free(p);
		return RPMRC_NOTFOUND;
	}
	pkguard_ctx_set_logger(p->ctx, log_to_rpm, p);
	pkguard_ctx_set_log_level(p->ctx, rpmIsDebug() ? PKGUARD_LOG_DEBUG : PKGUARD_LOG_INFO);
	rpmPluginSetData(plugin, p);
	return RPMRC_OK;
}

static void pkguard_cleanup(rpmPlugin plugin)
{
	plugin_free(rpmPluginGetData(plugin));
}

/* The targets of one transaction: what the TR_REMOVED elements hold. */
struct targets {
	struct pkguard_run_target *items;
	char ***files; /* per item, owned */
	size_t n;
};

static void targets_free(struct targets *t)
{
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		for (j = 0; j < t->items[i].n_files; j++)
			free(t->files[i][j]);
		free(t->files[i]);
	}
	free(t->files);
	free(t->items);
	memset(t, 0, sizeof(*t));
}

static int add_removed(struct pkguard_ctx *ctx, struct targets *t, rpmte te)
{
	rpmte added = rpmteDependsOn(te); /* the element that replaces it, if any */
	rpmfiles files = rpmteFiles(te);
	size_t i, n = files ? (size_t)rpmfilesFC(files) : 0;
	struct pkguard_run_target *items;
	char ***lists, **paths;

	items = realloc(t->items, (t->n + 1) * sizeof(*items));
	if (items)
		t->items = items;
	lists = items ? realloc(t->files, (t->n + 1) * sizeof(*lists)) : NULL;
	if (lists)
		t->files = lists;
	paths = lists ? calloc(n ? n : 1, sizeof(*paths)) : NULL;
	if (!paths) {
		rpmfilesFree(files);
		return pkguard_fail(ctx, -ENOMEM, "cannot read the transaction");
	}
	t->files[t->n] = paths;
	t->items[t->n] = (struct pkguard_run_target){
		.name = rpmteN(te),
		.old_version = rpmteEVR(te),
		.new_version = added ? rpmteEVR(added) : NULL,
		.arch = rpmteA(te),
		.files = (const char *const *)paths,
		.n_files = 0,
	};
	t->n++;
	/* Paths as the package lists them: under the transaction's root, our context's. */
	for (i = 0; i < n; i++) {
		paths[i] = rpmfilesFN(files, (int)i);
		if (!paths[i]) {
			rpmfilesFree(files);
			return pkguard_fail(ctx, -ENOMEM, "cannot read the transaction");
		}
		t->items[t->n - 1].n_files++;
	}
	rpmfilesFree(files);
	return 0;
}

static int collect(struct pkguard_ctx *ctx, rpmts ts, struct targets *t)
{
	rpmtsi it = rpmtsiInit(ts);
	rpmte te;
	int rc = 0;

	while (rc == 0 && (te = rpmtsiNext(it, TR_REMOVED)))
		rc = add_removed(ctx, t, te);
	rpmtsiFree(it);
	return rc;
}

/* The context's root is the transaction's: "/tmp/r/" as rpm gives it is "/tmp/r". */
static int set_root(struct pkguard_ctx *ctx, rpmts ts)
{
	const char *root = rpmtsRootDir(ts);
	char *copy;
	size_t n;
	int rc;

	if (!root || !*root)
		root = "/";
	copy = strdup(root);
	if (!copy)
		return pkguard_fail(ctx, -ENOMEM, "cannot read the transaction");
	for (n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
		copy[n - 1] = '\0';
	rc = pkguard_ctx_set_root(ctx, copy);
	free(copy);
	return rc;
}

static struct pkguard_run_opts run_opts(struct plugin *p, rpmts ts, const char *entry)
{
	return (struct pkguard_run_opts){
		.mode = (rpmtsFlags(ts) & RPMTRANS_FLAG_TEST) ? PKGUARD_RUN_TEST : PKGUARD_RUN_ACT,
		.entry = entry,
		.config_path = p->config_path,
		.state_path = p->state_path,
		.backend = &pkguard_rpm_ops,
		.wait_progress = wait_progress,
		.userdata = p,
	};
}

static rpmRC pkguard_tsm_pre(rpmPlugin plugin, rpmts ts)
{
	struct plugin *p = rpmPluginGetData(plugin);
	struct pkguard_run_opts opts = run_opts(p, ts, "rpm plugin");
	struct pkguard_run r = {0};
	struct targets t = {0};
	char msg[256];
	bool refuse;
	int rc;

	p->post_due = false;
	p->waiting_said = false;
	rc = set_root(p->ctx, ts);
	if (rc == 0)
		rc = collect(p->ctx, ts, &t);
	if (rc < 0) {
		refuse = pkguard_run_fail_open(p->ctx, &opts, "reading the transaction");
		targets_free(&t);
		return refuse ? RPMRC_FAIL : RPMRC_OK;
	}
	/* A fresh install replaces nothing that could be running. */
	if (t.n == 0) {
		targets_free(&t);
		return RPMRC_OK;
	}
	/* rpm --noplugins has no dnf or zypper counterpart: this is the one for all three. */
	snprintf(msg, sizeof(msg),
		 "disabled by PKGUARD_DISABLE=1 for this rpm transaction: %zu installed "
		 "package%s replaced or erased without a check",
		 t.n, t.n == 1 ? "" : "s");
	if (pkguard_run_disabled(p->ctx, &opts, msg)) {
		p->post_due = opts.mode == PKGUARD_RUN_ACT;
		targets_free(&t);
		return RPMRC_OK;
	}
	rc = pkguard_run_execute(&r, p->ctx, &opts, t.items, t.n);
	refuse = rc == 0 && pkguard_run_refuses(&r);
	if (rc == 0)
		report(&r);
	else
		/* Only a dry run returns errors; a real one failed open inside. */
		rpmlog(RPMLOG_ERR, "pkguard: %s; ALLOWING the transaction\n",
		       pkguard_ctx_errmsg(p->ctx));
	p->post_due = opts.mode == PKGUARD_RUN_ACT && !refuse;
	pkguard_run_release(&r);
	targets_free(&t);
	return refuse ? RPMRC_FAIL : RPMRC_OK;
}

static rpmRC pkguard_tsm_post(rpmPlugin plugin, rpmts ts, int res)
{
	struct plugin *p = rpmPluginGetData(plugin);
	struct pkguard_run_opts opts = run_opts(p, ts, "post rpm");

	(void)res; /* a failed transaction still needs its units started again */
	if (!p->post_due)
		return RPMRC_OK;
	p->post_due = false;
	/* rpm's own transaction set reads the database: no second opening of it. */
	if (pkguard_rpm_attach(p->ctx, ts, &opts.db) < 0) {
		rpmlog(RPMLOG_ERR, "pkguard: post step: %s\n", pkguard_ctx_errmsg(p->ctx));
		return RPMRC_OK;
	}
	pkguard_post(p->ctx, &opts);
	pkguard_rpm_ops.close(opts.db);
	return RPMRC_OK;
}

/* The only symbol this object exports (see plugin.map). */
__attribute__((visibility("default"))) struct rpmPluginHooks_s pkguard_hooks = {
	.init = pkguard_init,
	.cleanup = pkguard_cleanup,
	.tsm_pre = pkguard_tsm_pre,
	.tsm_post = pkguard_tsm_post,
};
