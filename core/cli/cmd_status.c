/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard status: what the state database holds now. Deferrals, the holds
 * pkguard placed, units stopped for an upgrade and not started again,
 * processes that need a restart, pending overrides, the last decisions and
 * the recent errors and warnings; as text, as JSON (docs/status.schema.json)
 * or as OpenMetrics for node_exporter's textfile collector.
 */
#include <dirent.h>
#include <errno.h>
#include <json.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define STATUS_JSON_VERSION 1
#define RECENT_RUNS	    10
#define RECENT_EVENTS	    10
#define WHEN_SIZE	    80 /* "2026-11-22 21:30 (3h ago)", with room for any date */

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_OPENMETRICS };

/* Rows copied out of one state list: the columns asked for, NULL for SQL NULL. */
struct rows {
	size_t ncols;
	size_t n, cap;
	char **cells;
};

struct loader {
	struct pkguard_ctx *ctx;
	const char *const *cols;
	size_t ncols;
	unsigned max; /* stop once this many rows were kept; 0: all */
	bool (*keep)(const struct loader *l, const struct pkguard_state_row *row);
	const struct rows *runs; /* for keep_target */
	struct rows *out;
	bool stop_after; /* stop at the first row KEEP refuses after one it kept */
};

/* Column indexes, in the order of the *_cols arrays below. */
enum { D_PACKAGE, D_VERSION, D_FIRST, D_LAST, D_COUNT };
enum { H_PACKAGE, H_BACKEND, H_PLACED };
enum { U_UNIT, U_MANAGER, U_STOPPED, U_RUN, U_ERROR };
enum { N_PACKAGE, N_PID, N_START, N_UID, N_COMM, N_UNIT, N_FILE, N_SINCE };
enum { O_PACKAGE, O_CREATED, O_BY };
enum { R_ID, R_STARTED, R_FINISHED, R_ENTRY, R_BACKEND, R_ROOT, R_VERDICT, R_ERROR };
enum { T_RUN, T_NAME, T_OLD, T_NEW, T_ACTION, T_ORIGIN, T_DETAIL };
enum { E_TIME, E_RUN, E_LEVEL, E_MESSAGE };

/* The column sets documented with enum pkguard_state_list (state.h). */
static const char *const deferral_cols[] = {"package", "version", "first", "last", "count"};
static const char *const hold_cols[] = {"package", "backend", "placed"};
static const char *const unit_cols[] = {"unit", "manager", "stopped", "run_id", "error"};
static const char *const needs_cols[] = {"package", "pid",  "start_time", "uid",
					 "comm",    "unit", "file",	  "since"};
static const char *const override_cols[] = {"package", "created", "by_uid"};
static const char *const run_cols[] = {"id",	  "started", "finished", "entry",
				       "backend", "root",    "verdict",	 "error"};
static const char *const target_cols[] = {"run_id", "name",   "old",   "new",
					  "action", "origin", "detail"};
static const char *const event_cols[] = {"time", "run_id", "level", "message"};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

struct status {
	const char *path;
	int64_t now;
	struct pkguard_config *cfg; /* NULL when it could not be read */
	struct rows deferrals, holds, units, needs, overrides, runs, targets, events;
	size_t *needs_order; /* needs-restart rows sorted by unit, process, file */
	char **quarantined;
	size_t n_quarantined;
};

static const char *cell(const struct rows *r, size_t row, size_t col)
{
	return r->cells[row * r->ncols + col];
}

static const char *row_value(const struct pkguard_state_row *row, const char *name)
{
	size_t i;

	for (i = 0; i < row->n; i++) {
		if (strcmp(row->names[i], name) == 0)
			return row->values[i];
	}
	return NULL;
}

static bool num(const char *s, int64_t *v)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !*end && errno == 0;
}

static int64_t num_or(const char *s, int64_t dflt)
{
	int64_t v;

	return num(s, &v) ? v : dflt;
}

static int load_row(void *userdata, const struct pkguard_state_row *row)
{
	struct loader *l = userdata;
	struct rows *r = l->out;
	size_t i;

	if (l->keep && !l->keep(l, row))
		return l->stop_after && r->n ? 1 : 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		char **cells = realloc(r->cells, cap * r->ncols * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		r->cells = cells;
		r->cap = cap;
	}
	for (i = 0; i < r->ncols; i++) {
		const char *v = row_value(row, l->cols[i]);

		r->cells[r->n * r->ncols + i] = v ? strdup(v) : NULL;
		if (v && !r->cells[r->n * r->ncols + i]) {
			while (i--)
				free(r->cells[r->n * r->ncols + i]);
			return -ENOMEM;
		}
	}
	r->n++;
	/* Enough: a non-zero return ends the walk (and the read transaction). */
	return l->max && r->n >= l->max ? 1 : 0;
}

static void rows_release(struct rows *r)
{
	size_t i;

	for (i = 0; i < r->n * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}

/* Events worth an admin's attention: errors and warnings, not info. */
static bool keep_event(const struct loader *l, const struct pkguard_state_row *row)
{
	const char *level = row_value(row, "level");

	return level && (strcmp(level, "error") == 0 || strcmp(level, "warning") == 0);
}

/* The targets of the runs shown. */
static bool keep_target(const struct loader *l, const struct pkguard_state_row *row)
{
	const char *id = row_value(row, "run_id");
	size_t i;

	for (i = 0; id && i < l->runs->n; i++) {
		const char *run = cell(l->runs, i, R_ID);

		if (run && strcmp(run, id) == 0)
			return true;
	}
	return false;
}

static int unit_cmp(const char *a, const char *b)
{
	/* Processes without a unit come last. */
	bool na = !a || !*a, nb = !b || !*b;

	if (na || nb)
		return na - nb;
	return strcmp(a, b);
}

static int needs_cmp(const void *pa, const void *pb, void *userdata)
{
	const struct rows *r = userdata;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int64_t x, y;
	int c;

	c = unit_cmp(cell(r, a, N_UNIT), cell(r, b, N_UNIT));
	if (c)
		return c;
	x = num_or(cell(r, a, N_PID), 0);
	y = num_or(cell(r, b, N_PID), 0);
	if (x != y)
		return x < y ? -1 : 1;
	x = num_or(cell(r, a, N_START), 0);
	y = num_or(cell(r, b, N_START), 0);
	if (x != y)
		return x < y ? -1 : 1;
	c = strcmp(cell(r, a, N_FILE) ? cell(r, a, N_FILE) : "",
		   cell(r, b, N_FILE) ? cell(r, b, N_FILE) : "");
	return c ? c : (a < b ? -1 : a > b);
}

/* Do needs-restart rows A and B name the same unit, and the same process? */
static bool same_unit(const struct rows *r, size_t a, size_t b)
{
	return unit_cmp(cell(r, a, N_UNIT), cell(r, b, N_UNIT)) == 0;
}

static bool same_process(const struct rows *r, size_t a, size_t b)
{
	return same_unit(r, a, b) && num_or(cell(r, a, N_PID), 0) == num_or(cell(r, b, N_PID), 0) &&
	       num_or(cell(r, a, N_START), 0) == num_or(cell(r, b, N_START), 0);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A quarantined database (see pkguard_state_open) stays beside the live one
 * as "<name>.corrupt-<unix time>" until an admin looks at it; while one is
 * there, status says so, in every format.
 */
static int find_quarantined(struct status *s)
{
	char dirbuf[PATH_MAX], basebuf[PATH_MAX], prefix[NAME_MAX + 16];
	const char *dir, *base;
	struct dirent *de;
	DIR *d;

	snprintf(dirbuf, sizeof(dirbuf), "%s", s->path);
	snprintf(basebuf, sizeof(basebuf), "%s", s->path);
	dir = dirname(dirbuf);
	base = basename(basebuf);
	snprintf(prefix, sizeof(prefix), "%s.corrupt-", base);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char **q;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		q = realloc(s->quarantined, (s->n_quarantined + 1) * sizeof(*q));
		if (!q)
			break;
		s->quarantined = q;
		q[s->n_quarantined] = strdup(de->d_name);
		if (!q[s->n_quarantined])
			break;
		s->n_quarantined++;
	}
	closedir(d);
	if (de)
		return -ENOMEM;
	/* readdir's order is the file system's: oldest first, by the time in the name. */
	if (s->n_quarantined > 1)
		qsort(s->quarantined, s->n_quarantined, sizeof(*s->quarantined), name_cmp);
	return 0;
}

/* Copy LIST out of the database with the columns and filter of L. */
static int load(struct pkguard_state *st, enum pkguard_state_list list, unsigned limit,
		struct loader l)
{
	int rc;

	l.out->ncols = l.ncols;
	rc = pkguard_state_list(st, list, limit, load_row, &l);
	if (rc == -ENOMEM)
		return pkguard_fail(l.ctx, rc, "cannot read the state database");
	return rc < 0 ? rc : 0;
}

static int status_load(struct cli *cli, struct pkguard_state *st, struct status *s)
{
	struct pkguard_ctx *ctx = cli->ctx;
	size_t i;
	int rc;

	rc = load(st, PKGUARD_STATE_DEFERRALS, 0,
		  (struct loader){ctx, deferral_cols, NCOLS(deferral_cols), .out = &s->deferrals});
	if (rc == 0)
		rc = load(st, PKGUARD_STATE_HOLDS, 0,
			  (struct loader){ctx, hold_cols, NCOLS(hold_cols), .out = &s->holds});
	if (rc == 0)
		rc = load(st, PKGUARD_STATE_STOPPED_UNITS, 0,
			  (struct loader){ctx, unit_cols, NCOLS(unit_cols), .out = &s->units});
	if (rc == 0)
		rc = load(st, PKGUARD_STATE_NEEDS_RESTART, 0,
			  (struct loader){ctx, needs_cols, NCOLS(needs_cols), .out = &s->needs});
	if (rc == 0)
		rc = load(st, PKGUARD_STATE_OVERRIDES, 0,
			  (struct loader){ctx, override_cols, NCOLS(override_cols),
					  .out = &s->overrides});
	if (rc == 0)
		rc = load(st, PKGUARD_STATE_RUNS, RECENT_RUNS,
			  (struct loader){ctx, run_cols, NCOLS(run_cols), .out = &s->runs});
	/*
	 * Targets come in the order of the runs, newest first (state.h): those
	 * of the runs shown are one block, after the targets of any run
	 * recorded since, and the first row past that block ends the walk.
	 */
	if (rc == 0 && s->runs.n)
		rc = load(st, PKGUARD_STATE_TARGETS, 0,
			  (struct loader){ctx, target_cols, NCOLS(target_cols), .keep = keep_target,
					  .runs = &s->runs, .out = &s->targets,
					  .stop_after = true});
	/* Newest first: stop at the tenth error or warning. */
	if (rc == 0)
		rc = load(st, PKGUARD_STATE_EVENTS, 0,
			  (struct loader){ctx, event_cols, NCOLS(event_cols), RECENT_EVENTS,
					  keep_event, .out = &s->events});
	if (rc < 0)
		return rc;

	s->needs_order = calloc(s->needs.n ? s->needs.n : 1, sizeof(*s->needs_order));
	if (!s->needs_order)
		return pkguard_fail(cli->ctx, -ENOMEM, "cannot read the state database");
	for (i = 0; i < s->needs.n; i++)
		s->needs_order[i] = i;
	qsort_r(s->needs_order, s->needs.n, sizeof(*s->needs_order), needs_cmp, &s->needs);
	if (find_quarantined(s) < 0)
		return pkguard_fail(cli->ctx, -ENOMEM, "cannot read the state database");
	return 0;
}

static void status_release(struct status *s)
{
	size_t i;

	rows_release(&s->deferrals);
	rows_release(&s->holds);
	rows_release(&s->units);
	rows_release(&s->needs);
	rows_release(&s->overrides);
	rows_release(&s->runs);
	rows_release(&s->targets);
	rows_release(&s->events);
	free(s->needs_order);
	for (i = 0; i < s->n_quarantined; i++)
		free(s->quarantined[i]);
	free(s->quarantined);
	pkguard_config_free(s->cfg);
}

/*
 * Text from the database, made safe to show. Process-controlled text (comm,
 * file labels) is stored escaped already, names are stored as given;
 * escaping an escaped string again would double its backslashes. So a string
 * is shown as it is when escaping would change nothing but its backslashes,
 * and escaped otherwise: whatever a writer stored, no control byte, invalid
 * UTF-8 or bidi control reaches the output.
 */
static const char *shown(unsigned slot, const char *s)
{
	const char *e, *p, *q;

	if (!s)
		return NULL;
	e = esc(slot, s);
	for (p = s, q = e; *p; p++, q++) {
		if (*p == '\\' && q[0] == '\\' && q[1] == '\\')
			q++;
		else if (*p != *q)
			return e;
	}
	return *q ? e : s;
}

/* max-defer for PACKAGE in seconds, or -1 when the configuration is unknown. */
static int64_t max_defer_s(const struct status *s, const char *package)
{
	struct pkguard_policy pol;
	int64_t v;

	if (!s->cfg || !package || pkguard_config_resolve(s->cfg, package, &pol) < 0)
		return -1;
	v = (int64_t)(pol.max_defer_ms / 1000);
	pkguard_policy_release(&pol);
	return v;
}

/* ---- text ---- */

/* "45s", "12m", "5h", "3d": the unit changes once a number would pass two of the next. */
static const char *span(char *buf, size_t size, int64_t s)
{
	if (s < 0)
		s = -s;
	if (s < 120)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 120 * 60)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 48 * 3600)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
	return buf;
}

/* A configured duration in the largest unit that states it exactly: "7d", "36h", "90s". */
static const char *duration(char *buf, size_t size, int64_t s)
{
	if (s && s % 86400 == 0)
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
	else if (s && s % 3600 == 0)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else if (s && s % 60 == 0)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, size, "%llds", (long long)s);
	return buf;
}

/* "2026-11-22 21:30 (3h ago)", local time; "-" when T is unknown. */
static const char *when(char *buf, size_t size, const char *t, int64_t now)
{
	char date[32], age[32];
	struct tm tm;
	int64_t v;
	time_t tt;

	if (!num(t, &v))
		return "-";
	tt = (time_t)v;
	if (!localtime_r(&tt, &tm) || !strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm))
		snprintf(date, sizeof(date), "@%lld", (long long)v);
	span(age, sizeof(age), now - v);
	if (now >= v)
		snprintf(buf, size, "%s (%s ago)", date, age);
	else
		snprintf(buf, size, "%s (in %s)", date, age);
	return buf;
}

static void heading(bool *first, const char *title)
{
	printf("%s%s:\n", *first ? "" : "\n", title);
	*first = false;
}

static void print_rows_or_none(struct pkguard_table *t)
{
	if (t->nrows)
		pkguard_table_print(t, stdout, "  ");
	else
		printf("  none\n");
	pkguard_table_release(t);
}

static void text_deferrals(const struct status *s)
{
	static const char *const headers[] = {"PACKAGE", "VERSION", "SINCE",
					      "LAST",	 "COUNT",   "MAX-DEFER"};
	const struct rows *r = &s->deferrals;
	struct pkguard_table t;
	size_t i;

	pkguard_table_init(&t, NCOLS(headers), headers);
	for (i = 0; i < r->n; i++) {
		char since[WHEN_SIZE], last[WHEN_SIZE], limit[96], a[32], b[32];
		int64_t max = max_defer_s(s, cell(r, i, D_PACKAGE));
		int64_t first = num_or(cell(r, i, D_FIRST), s->now);
		const char *version = cell(r, i, D_VERSION);
		const char *row[6];

		if (max < 0)
			snprintf(limit, sizeof(limit), "-");
		else if (first + max > s->now)
			snprintf(limit, sizeof(limit), "%s (expires in %s)",
				 duration(a, sizeof(a), max),
				 span(b, sizeof(b), first + max - s->now));
		else
			snprintf(limit, sizeof(limit), "%s (expired)", duration(a, sizeof(a), max));
		row[0] = shown(0, cell(r, i, D_PACKAGE));
		row[1] = version && *version ? shown(1, version) : "-";
		row[2] = when(since, sizeof(since), cell(r, i, D_FIRST), s->now);
		row[3] = when(last, sizeof(last), cell(r, i, D_LAST), s->now);
		row[4] = shown(2, cell(r, i, D_COUNT));
		row[5] = limit;
		if (pkguard_table_add(&t, row) < 0)
			break;
	}
	print_rows_or_none(&t);
}

static void text_holds(const struct status *s)
{
	static const char *const headers[] = {"PACKAGE", "BACKEND", "PLACED"};
	const struct rows *r = &s->holds;
	struct pkguard_table t;
	size_t i;

	pkguard_table_init(&t, NCOLS(headers), headers);
	for (i = 0; i < r->n; i++) {
		char placed[WHEN_SIZE];
		const char *row[] = {shown(0, cell(r, i, H_PACKAGE)),
				     shown(1, cell(r, i, H_BACKEND)),
				     when(placed, sizeof(placed), cell(r, i, H_PLACED), s->now)};

		if (pkguard_table_add(&t, row) < 0)
			break;
	}
	print_rows_or_none(&t);
}

static void text_units(const struct status *s)
{
	static const char *const headers[] = {"UNIT", "MANAGER", "STOPPED", "RUN", "START ERROR"};
	const struct rows *r = &s->units;
	struct pkguard_table t;
	size_t i;

	pkguard_table_init(&t, NCOLS(headers), headers);
	for (i = 0; i < r->n; i++) {
		char stopped[WHEN_SIZE];
		const char *row[] = {shown(0, cell(r, i, U_UNIT)), shown(1, cell(r, i, U_MANAGER)),
				     when(stopped, sizeof(stopped), cell(r, i, U_STOPPED), s->now),
				     shown(2, cell(r, i, U_RUN)), shown(3, cell(r, i, U_ERROR))};

		if (pkguard_table_add(&t, row) < 0)
			break;
	}
	print_rows_or_none(&t);
}

static void text_needs_restart(const struct status *s)
{
	static const char *const headers[] = {"PID", "USER", "COMMAND", "PACKAGE", "FILE", "SINCE"};
	const struct rows *r = &s->needs;
	size_t i = 0;

	if (!r->n)
		printf("  none\n");
	while (i < r->n) {
		size_t first = s->needs_order[i];
		const char *unit = cell(r, first, N_UNIT);
		struct pkguard_table t;

		printf("  %s:\n", unit && *unit ? shown(0, unit) : "(no unit)");
		pkguard_table_init(&t, NCOLS(headers), headers);
		for (; i < r->n && same_unit(r, first, s->needs_order[i]); i++) {
			size_t k = s->needs_order[i];
			int64_t uid = num_or(cell(r, k, N_UID), -1);
			char since[WHEN_SIZE];
			const char *row[] = {
				shown(1, cell(r, k, N_PID)),
				uid < 0 ? "-" : user_name((uid_t)uid),
				shown(2, cell(r, k, N_COMM)),
				shown(3, cell(r, k, N_PACKAGE)),
				shown(4, cell(r, k, N_FILE)),
				when(since, sizeof(since), cell(r, k, N_SINCE), s->now),
			};

			if (pkguard_table_add(&t, row) < 0)
				break;
		}
		pkguard_table_print(&t, stdout, "    ");
		pkguard_table_release(&t);
	}
}

static void text_overrides(const struct status *s)
{
	static const char *const headers[] = {"PACKAGE", "CREATED", "BY"};
	const struct rows *r = &s->overrides;
	struct pkguard_table t;
	size_t i;

	pkguard_table_init(&t, NCOLS(headers), headers);
	for (i = 0; i < r->n; i++) {
		int64_t uid = num_or(cell(r, i, O_BY), -1);
		char created[WHEN_SIZE];
		const char *row[] = {shown(0, cell(r, i, O_PACKAGE)),
				     when(created, sizeof(created), cell(r, i, O_CREATED), s->now),
				     uid < 0 ? "-" : user_name((uid_t)uid)};

		if (pkguard_table_add(&t, row) < 0)
			break;
	}
	print_rows_or_none(&t);
}

static void text_runs(const struct status *s)
{
	static const char *const headers[] = {"PACKAGE", "VERSION", "ACTION", "ORIGIN", "DETAIL"};
	size_t i, j;

	if (!s->runs.n)
		printf("  none\n");
	for (i = 0; i < s->runs.n; i++) {
		const struct rows *r = &s->runs;
		const char *verdict = cell(r, i, R_VERDICT), *error = cell(r, i, R_ERROR);
		const char *backend = cell(r, i, R_BACKEND);
		char started[WHEN_SIZE];
		struct pkguard_table t;

		printf("  %s  %s: %s  (run %s, root %s%s%s)\n",
		       when(started, sizeof(started), cell(r, i, R_STARTED), s->now),
		       shown(0, cell(r, i, R_ENTRY) ? cell(r, i, R_ENTRY) : "-"),
		       verdict ? shown(1, verdict) : "unfinished", shown(2, cell(r, i, R_ID)),
		       cell(r, i, R_ROOT) ? shown(3, cell(r, i, R_ROOT)) : "-",
		       backend ? ", backend " : "", backend ? shown(4, backend) : "");
		if (error)
			printf("    error: %s\n", shown(0, error));
		pkguard_table_init(&t, NCOLS(headers), headers);
		for (j = 0; j < s->targets.n; j++) {
			const struct rows *tr = &s->targets;
			const char *old = cell(tr, j, T_OLD), *new = cell(tr, j, T_NEW);
			char version[512];
			const char *row[5];

			if (!cell(r, i, R_ID) || !cell(tr, j, T_RUN) ||
			    strcmp(cell(r, i, R_ID), cell(tr, j, T_RUN)) != 0)
				continue;
			if (old && new)
				snprintf(version, sizeof(version), "%s -> %s", shown(0, old),
					 shown(1, new));
			else
				snprintf(version, sizeof(version), "%s",
					 old || new ? shown(0, old ? old : new) : "-");
			row[0] = shown(2, cell(tr, j, T_NAME));
			row[1] = version;
			row[2] = shown(3, cell(tr, j, T_ACTION));
			row[3] = shown(4, cell(tr, j, T_ORIGIN));
			row[4] = shown(5, cell(tr, j, T_DETAIL));
			if (pkguard_table_add(&t, row) < 0)
				break;
		}
		if (t.nrows)
			pkguard_table_print(&t, stdout, "    ");
		else
			printf("    no packages\n");
		pkguard_table_release(&t);
	}
}

static void text_events(const struct status *s)
{
	static const char *const headers[] = {"TIME", "LEVEL", "RUN", "MESSAGE"};
	const struct rows *r = &s->events;
	struct pkguard_table t;
	size_t i;

	pkguard_table_init(&t, NCOLS(headers), headers);
	for (i = 0; i < r->n; i++) {
		char at[WHEN_SIZE];
		const char *row[] = {when(at, sizeof(at), cell(r, i, E_TIME), s->now),
				     shown(0, cell(r, i, E_LEVEL)), shown(1, cell(r, i, E_RUN)),
				     shown(2, cell(r, i, E_MESSAGE))};

		if (pkguard_table_add(&t, row) < 0)
			break;
	}
	print_rows_or_none(&t);
}

static int report_text(const struct status *s)
{
	bool first = true;
	size_t i;

	printf("state database: %s\n", shown(0, s->path));
	for (i = 0; i < s->n_quarantined; i++)
		printf("quarantined corrupt database beside it: %s\n", shown(0, s->quarantined[i]));
	printf("\n");
	heading(&first, "Deferred upgrades");
	text_deferrals(s);
	heading(&first, "Holds placed by pkguard");
	text_holds(s);
	heading(&first, "Units stopped for an upgrade, not started again");
	text_units(s);
	heading(&first, "Needs restart (processes running replaced files)");
	text_needs_restart(s);
	heading(&first, "Pending one-shot overrides (pkguard allow --once)");
	text_overrides(s);
	heading(&first, "Recent decisions");
	text_runs(s);
	heading(&first, "Recent errors and warnings");
	text_events(s);
	return 0;
}

/* ---- JSON: the shape is docs/status.schema.json ---- */

static json_object *jstr(unsigned slot, const char *s)
{
	return s ? json_object_new_string(shown(slot, s)) : NULL;
}

static json_object *jint(const char *s)
{
	int64_t v;

	return num(s, &v) ? json_object_new_int64(v) : NULL;
}

static json_object *json_deferrals(const struct status *s)
{
	const struct rows *r = &s->deferrals;
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		json_object *o = json_object_new_object();
		int64_t first = num_or(cell(r, i, D_FIRST), s->now);
		int64_t max = max_defer_s(s, cell(r, i, D_PACKAGE));

		json_object_object_add(o, "package", jstr(0, cell(r, i, D_PACKAGE)));
		json_object_object_add(o, "version", jstr(0, cell(r, i, D_VERSION)));
		json_object_object_add(o, "since", json_object_new_int64(first));
		json_object_object_add(o, "last",
				       json_object_new_int64(num_or(cell(r, i, D_LAST), first)));
		json_object_object_add(o, "count",
				       json_object_new_int64(num_or(cell(r, i, D_COUNT), 0)));
		json_object_object_add(o, "age_seconds", json_object_new_int64(s->now - first));
		json_object_object_add(o, "max_defer_seconds",
				       max < 0 ? NULL : json_object_new_int64(max));
		json_object_object_add(o, "expires",
				       max < 0 ? NULL : json_object_new_int64(first + max));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *json_holds(const struct status *s)
{
	const struct rows *r = &s->holds;
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "package", jstr(0, cell(r, i, H_PACKAGE)));
		json_object_object_add(o, "backend", jstr(0, cell(r, i, H_BACKEND)));
		json_object_object_add(o, "placed",
				       json_object_new_int64(num_or(cell(r, i, H_PLACED), 0)));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *json_units(const struct status *s)
{
	const struct rows *r = &s->units;
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "unit", jstr(0, cell(r, i, U_UNIT)));
		json_object_object_add(o, "manager", jstr(0, cell(r, i, U_MANAGER)));
		json_object_object_add(o, "stopped",
				       json_object_new_int64(num_or(cell(r, i, U_STOPPED), 0)));
		json_object_object_add(o, "run_id", jint(cell(r, i, U_RUN)));
		json_object_object_add(o, "error", jstr(0, cell(r, i, U_ERROR)));
		json_object_array_add(a, o);
	}
	return a;
}

/* [{unit, processes: [{pid, ..., files: [{package, file}]}]}], as needs-restart --json. */
static json_object *json_needs_restart(const struct status *s)
{
	const struct rows *r = &s->needs;
	json_object *units = json_object_new_array(), *procs = NULL, *files = NULL, *p = NULL;
	size_t i;

	for (i = 0; i < r->n; i++) {
		size_t k = s->needs_order[i], prev = i ? s->needs_order[i - 1] : 0;
		json_object *f = json_object_new_object();
		int64_t uid = num_or(cell(r, k, N_UID), -1);

		if (!i || !same_unit(r, prev, k)) {
			json_object *u = json_object_new_object();
			const char *unit = cell(r, k, N_UNIT);

			procs = json_object_new_array();
			json_object_object_add(u, "unit", unit && *unit ? jstr(0, unit) : NULL);
			json_object_object_add(u, "processes", procs);
			json_object_array_add(units, u);
		}
		if (!i || !same_process(r, prev, k)) {
			p = json_object_new_object();
			files = json_object_new_array();
			json_object_object_add(p, "pid",
					       json_object_new_int64(num_or(cell(r, k, N_PID), 0)));
			json_object_object_add(
				p, "start_time",
				json_object_new_int64(num_or(cell(r, k, N_START), 0)));
			json_object_object_add(p, "uid", json_object_new_int64(uid));
			json_object_object_add(
				p, "user",
				uid < 0 ? NULL : json_object_new_string(user_name((uid_t)uid)));
			json_object_object_add(p, "comm", jstr(0, cell(r, k, N_COMM)));
			json_object_object_add(
				p, "since", json_object_new_int64(num_or(cell(r, k, N_SINCE), 0)));
			json_object_object_add(p, "files", files);
			json_object_array_add(procs, p);
		} else {
			/* The process's "since" is its oldest entry's. */
			int64_t since = num_or(cell(r, k, N_SINCE), 0);
			json_object *old = json_object_object_get(p, "since");

			if (since < json_object_get_int64(old))
				json_object_object_add(p, "since", json_object_new_int64(since));
		}
		json_object_object_add(f, "package", jstr(0, cell(r, k, N_PACKAGE)));
		json_object_object_add(f, "file", jstr(0, cell(r, k, N_FILE)));
		json_object_array_add(files, f);
	}
	return units;
}

static json_object *json_overrides(const struct status *s)
{
	const struct rows *r = &s->overrides;
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		json_object *o = json_object_new_object();
		int64_t uid = num_or(cell(r, i, O_BY), -1);

		json_object_object_add(o, "package", jstr(0, cell(r, i, O_PACKAGE)));
		json_object_object_add(o, "created",
				       json_object_new_int64(num_or(cell(r, i, O_CREATED), 0)));
		json_object_object_add(o, "by_uid", uid < 0 ? NULL : json_object_new_int64(uid));
		json_object_object_add(o, "by_user",
				       uid < 0 ? NULL
					       : json_object_new_string(user_name((uid_t)uid)));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *json_runs(const struct status *s)
{
	const struct rows *r = &s->runs, *tr = &s->targets;
	json_object *a = json_object_new_array();
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		json_object *o = json_object_new_object(), *targets = json_object_new_array();

		json_object_object_add(o, "id", json_object_new_int64(num_or(cell(r, i, R_ID), 0)));
		json_object_object_add(o, "started",
				       json_object_new_int64(num_or(cell(r, i, R_STARTED), 0)));
		json_object_object_add(o, "finished", jint(cell(r, i, R_FINISHED)));
		json_object_object_add(o, "entry",
				       jstr(0, cell(r, i, R_ENTRY) ? cell(r, i, R_ENTRY) : ""));
		json_object_object_add(o, "backend", jstr(0, cell(r, i, R_BACKEND)));
		json_object_object_add(o, "root", jstr(0, cell(r, i, R_ROOT)));
		json_object_object_add(o, "verdict", jstr(0, cell(r, i, R_VERDICT)));
		json_object_object_add(o, "error", jstr(0, cell(r, i, R_ERROR)));
		for (j = 0; j < tr->n; j++) {
			json_object *t;

			if (!cell(r, i, R_ID) || !cell(tr, j, T_RUN) ||
			    strcmp(cell(r, i, R_ID), cell(tr, j, T_RUN)) != 0)
				continue;
			t = json_object_new_object();
			json_object_object_add(t, "package", jstr(0, cell(tr, j, T_NAME)));
			json_object_object_add(t, "old_version", jstr(0, cell(tr, j, T_OLD)));
			json_object_object_add(t, "new_version", jstr(0, cell(tr, j, T_NEW)));
			json_object_object_add(t, "action", jstr(0, cell(tr, j, T_ACTION)));
			json_object_object_add(t, "origin", jstr(0, cell(tr, j, T_ORIGIN)));
			json_object_object_add(t, "detail", jstr(0, cell(tr, j, T_DETAIL)));
			json_object_array_add(targets, t);
		}
		json_object_object_add(o, "targets", targets);
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *json_events(const struct status *s)
{
	const struct rows *r = &s->events;
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "time",
				       json_object_new_int64(num_or(cell(r, i, E_TIME), 0)));
		json_object_object_add(o, "run_id", jint(cell(r, i, E_RUN)));
		json_object_object_add(o, "level", jstr(0, cell(r, i, E_LEVEL)));
		json_object_object_add(o, "message",
				       jstr(0, cell(r, i, E_MESSAGE) ? cell(r, i, E_MESSAGE) : ""));
		json_object_array_add(a, o);
	}
	return a;
}

static int report_json(const struct status *s)
{
	json_object *o = json_object_new_object(), *q = json_object_new_array();
	size_t i;

	json_object_object_add(o, "version", json_object_new_int(STATUS_JSON_VERSION));
	json_object_object_add(o, "time", json_object_new_int64(s->now));
	json_object_object_add(o, "state", jstr(0, s->path));
	for (i = 0; i < s->n_quarantined; i++)
		json_object_array_add(q, jstr(0, s->quarantined[i]));
	json_object_object_add(o, "quarantined", q);
	json_object_object_add(o, "deferrals", json_deferrals(s));
	json_object_object_add(o, "holds", json_holds(s));
	json_object_object_add(o, "stopped_units", json_units(s));
	json_object_object_add(o, "needs_restart", json_needs_restart(s));
	json_object_object_add(o, "overrides", json_overrides(s));
	json_object_object_add(o, "runs", json_runs(s));
	json_object_object_add(o, "events", json_events(s));
	return json_print(o);
}

/* ---- OpenMetrics ---- */

/*
 * Every family is a gauge: the state database keeps a pruned history, so no
 * number read from it only ever grows, and gauges alone are read the same
 * by OpenMetrics parsers and by the classic text parser of node_exporter's
 * textfile collector (which takes "# EOF" for a comment).
 */
static void om_family(const char *name, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* A label value: shown() first (valid UTF-8, no control bytes), then \\, \" and \n. */
static void om_label_value(const char *s)
{
	const char *p;

	for (p = shown(0, s ? s : ""); *p; p++) {
		if (*p == '\\' || *p == '"')
			printf("\\%c", *p);
		else if (*p == '\n')
			printf("\\n");
		else
			putchar(*p);
	}
}

static void om_sample(const char *name, const char *label, const char *value, int64_t v)
{
	printf("%s", name);
	if (label) {
		printf("{%s=\"", label);
		om_label_value(value);
		printf("\"}");
	}
	printf(" %lld\n", (long long)v);
}

/* Counts by a label's value, for the per-unit and per-package families. */
struct tally {
	const char *key[64];
	int64_t n[64];
	size_t len;
};

static void tally_add(struct tally *t, const char *key, int64_t n)
{
	size_t i;

	for (i = 0; i < t->len; i++) {
		if (strcmp(t->key[i], key) == 0) {
			t->n[i] += n;
			return;
		}
	}
	/* Bounded: a label per unit or package is fine, past 64 they fold into "other". */
	if (t->len == 64) {
		t->key[63] = "other";
		t->n[63] += n;
		return;
	}
	t->key[t->len] = key;
	t->n[t->len++] = n;
}

static int count_verdict(void *userdata, const struct pkguard_state_row *row)
{
	const char *v = row_value(row, "verdict");
	struct tally *t = userdata;
	size_t i;

	/* Only the fixed verdict names: the key must outlive the row. */
	static const char *const verdicts[] = {"allow", "warn",	 "wait", "restart",
					       "defer", "block", "error"};

	for (i = 0; v && i < NCOLS(verdicts); i++) {
		if (strcmp(v, verdicts[i]) == 0) {
			tally_add(t, verdicts[i], 1);
			return 0;
		}
	}
	tally_add(t, v ? "other" : "unfinished", 1);
	return 0;
}

static int report_openmetrics(struct cli *cli, struct pkguard_state *st, const struct status *s)
{
	struct tally by_unit = {0}, by_package = {0}, verdicts = {0};
	int64_t failed = 0, last_error = -1;
	size_t i;
	int rc;

	om_family("pkguard_deferrals", "Packages whose upgrade pkguard defers now.");
	om_sample("pkguard_deferrals", NULL, NULL, (int64_t)s->deferrals.n);
	om_family("pkguard_deferral_age_seconds", "Time since pkguard first deferred the package.");
	for (i = 0; i < s->deferrals.n; i++)
		om_sample("pkguard_deferral_age_seconds", "package",
			  cell(&s->deferrals, i, D_PACKAGE),
			  s->now - num_or(cell(&s->deferrals, i, D_FIRST), s->now));
	om_family("pkguard_deferral_runs", "Runs that deferred the package so far.");
	for (i = 0; i < s->deferrals.n; i++)
		om_sample("pkguard_deferral_runs", "package", cell(&s->deferrals, i, D_PACKAGE),
			  num_or(cell(&s->deferrals, i, D_COUNT), 0));
	if (s->cfg) {
		om_family("pkguard_deferral_max_age_seconds",
			  "The max-defer policy of the package: the deferral ends at this age.");
		for (i = 0; i < s->deferrals.n; i++)
			om_sample("pkguard_deferral_max_age_seconds", "package",
				  cell(&s->deferrals, i, D_PACKAGE),
				  max_defer_s(s, cell(&s->deferrals, i, D_PACKAGE)));
	}
	om_family("pkguard_holds", "Package holds that pkguard placed and has not lifted.");
	om_sample("pkguard_holds", NULL, NULL, (int64_t)s->holds.n);

	for (i = 0; i < s->units.n; i++)
		failed += cell(&s->units, i, U_ERROR) != NULL;
	om_family("pkguard_stopped_units", "Units stopped for an upgrade and not started again.");
	om_sample("pkguard_stopped_units", NULL, NULL, (int64_t)s->units.n);
	om_family("pkguard_stopped_units_start_failed",
		  "Units stopped for an upgrade whose start failed.");
	om_sample("pkguard_stopped_units_start_failed", NULL, NULL, failed);

	/* Distinct processes: rows are sorted by unit, then process. */
	for (i = 0; i < s->needs.n; i++) {
		size_t k = s->needs_order[i];
		const char *unit = cell(&s->needs, k, N_UNIT);

		if (i == 0 || !same_process(&s->needs, s->needs_order[i - 1], k))
			tally_add(&by_unit, unit ? unit : "", 1);
	}
	for (i = 0; i < s->needs.n; i++) {
		const char *pkg = cell(&s->needs, i, N_PACKAGE);
		size_t j;
		bool dup = false;

		/* A process counts once per package, however many of its files it uses. */
		for (j = 0; j < i && !dup; j++) {
			dup = cell(&s->needs, j, N_PACKAGE) && pkg &&
			      strcmp(cell(&s->needs, j, N_PACKAGE), pkg) == 0 &&
			      num_or(cell(&s->needs, j, N_PID), 0) ==
				      num_or(cell(&s->needs, i, N_PID), 0) &&
			      num_or(cell(&s->needs, j, N_START), 0) ==
				      num_or(cell(&s->needs, i, N_START), 0);
		}
		if (!dup)
			tally_add(&by_package, pkg ? pkg : "", 1);
	}
	om_family("pkguard_needs_restart_processes",
		  "Processes running replaced files, by unit (empty for none).");
	for (i = 0; i < by_unit.len; i++)
		om_sample("pkguard_needs_restart_processes", "unit", by_unit.key[i], by_unit.n[i]);
	om_family("pkguard_needs_restart_package_processes",
		  "Processes running replaced files of the package.");
	for (i = 0; i < by_package.len; i++)
		om_sample("pkguard_needs_restart_package_processes", "package", by_package.key[i],
			  by_package.n[i]);

	om_family("pkguard_pending_overrides", "One-shot overrides not used yet.");
	om_sample("pkguard_pending_overrides", NULL, NULL, (int64_t)s->overrides.n);

	om_family("pkguard_last_run_timestamp_seconds", "When the newest recorded run started.");
	if (s->runs.n)
		om_sample("pkguard_last_run_timestamp_seconds", NULL, NULL,
			  num_or(cell(&s->runs, 0, R_STARTED), 0));
	om_family("pkguard_last_run_verdict",
		  "The verdict of the newest recorded run (1 for its verdict label).");
	if (s->runs.n)
		om_sample("pkguard_last_run_verdict", "verdict",
			  cell(&s->runs, 0, R_VERDICT) ? cell(&s->runs, 0, R_VERDICT)
						       : "unfinished",
			  1);

	rc = pkguard_state_list(st, PKGUARD_STATE_RUNS, 0, count_verdict, &verdicts);
	if (rc < 0)
		return rc;
	om_family("pkguard_runs", "Runs kept in the state database's history, by verdict.");
	for (i = 0; i < verdicts.len; i++)
		om_sample("pkguard_runs", "verdict", verdicts.key[i], verdicts.n[i]);

	for (i = 0; i < s->events.n && last_error < 0; i++) {
		if (cell(&s->events, i, E_LEVEL) &&
		    strcmp(cell(&s->events, i, E_LEVEL), "error") == 0)
			last_error = num_or(cell(&s->events, i, E_TIME), -1);
	}
	om_family("pkguard_last_error_timestamp_seconds",
		  "When pkguard last recorded an error (among its recent events).");
	if (last_error >= 0)
		om_sample("pkguard_last_error_timestamp_seconds", NULL, NULL, last_error);
	om_family("pkguard_state_quarantined",
		  "Corrupt state databases moved aside and still beside the live one.");
	om_sample("pkguard_state_quarantined", NULL, NULL, (int64_t)s->n_quarantined);
	printf("# EOF\n");
	return 0;
}

/* ---- the command ---- */

static int parse_format(struct cli *cli, const char *name, enum format *out)
{
	if (strcmp(name, "text") == 0)
		*out = FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = FORMAT_JSON;
	else if (strcmp(name, "openmetrics") == 0)
		*out = FORMAT_OPENMETRICS;
	else
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "status: unknown format '%s' (text, json or openmetrics)",
				    esc(0, name));
	return 0;
}

/* The format from the global options, or from the same options given after "status". */
static int choose_format(struct cli *cli, int argc, char **argv, enum format *out)
{
	const char *format = cli->format;
	bool json = cli->json;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
			format = argv[++i];
		else if (strncmp(argv[i], "--format=", 9) == 0)
			format = argv[i] + 9;
		else
			return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
					    "status: unexpected argument '%s' (usage: pkguard "
					    "status [--json | --format text|json|openmetrics])",
					    esc(0, argv[i]));
	}
	*out = json ? FORMAT_JSON : FORMAT_TEXT;
	if (!format)
		return 0;
	rc = parse_format(cli, format, out);
	if (rc == 0 && json && *out != FORMAT_JSON)
		rc = pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				  "status: --json and --format %s disagree", esc(0, format));
	return rc;
}

static int run_status(struct cli *cli, int argc, char **argv)
{
	struct status s = {.path = cli->state_path ? cli->state_path : PKGUARD_STATE_DEFAULT_PATH};
	struct pkguard_state *st = NULL;
	enum format format = FORMAT_TEXT;
	int rc;

	rc = choose_format(cli, argc, argv, &format);
	if (rc < 0)
		return rc;
	/* The database is 0600 in a 0700 directory (threats.md #14): say so, not "unsafe". */
	if (geteuid() != 0 && !cli->state_path)
		return pkguard_fail(cli->ctx, -EACCES,
				    "status: the state database '%s' is readable by root only; "
				    "run as root",
				    s.path);
	rc = cli_open_state(cli, &st);
	if (rc < 0)
		return rc;
	/* The policy only adds max-defer to deferrals: status works without it. */
	if (cli_load_config(cli, &s.cfg) < 0) {
		pkguard_log(cli->ctx, PKGUARD_LOG_WARN, "%s; max-defer is not shown",
			    pkguard_ctx_errmsg(cli->ctx));
		s.cfg = NULL;
	}
	s.now = (int64_t)time(NULL);
	rc = status_load(cli, st, &s);
	if (rc < 0)
		goto out;
	switch (format) {
	case FORMAT_TEXT:
		rc = report_text(&s);
		break;
	case FORMAT_JSON:
		rc = report_json(&s);
		break;
	case FORMAT_OPENMETRICS:
		rc = report_openmetrics(cli, st, &s);
		break;
	}
	if (rc < 0 && !*pkguard_ctx_errmsg(cli->ctx))
		rc = pkguard_fail(cli->ctx, rc, "status: cannot write the report");
out:
	status_release(&s);
	pkguard_state_close(st);
	return rc;
}

const struct pkguard_command cmd_status = {
	.name = "status",
	.args = "",
	.summary = "deferrals, holds, stopped units, needs-restart, recent decisions",
	.run = run_status,
};
