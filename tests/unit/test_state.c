/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests: the state database on temporary directories. Times are moved
 * into the past, and fixtures corrupted, through SQLite or the file itself,
 * never through a hidden API.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/context.h"
#include "pkguard/state.h"

struct fixture {
	char dir[64];	/* the mkdtemp() directory */
	char sub[128];	/* DIR/state: the state directory, not created beforehand */
	char path[192]; /* DIR/state/state.db */
	struct pkguard_ctx *ctx;
	char log[2048];
	int log_errors;
	int log_warnings;
};

static void buffer_logger(void *userdata, enum pkguard_log_level level, const char *msg)
{
	struct fixture *f = userdata;

	if (level == PKGUARD_LOG_ERR)
		f->log_errors++;
	if (level == PKGUARD_LOG_WARN)
		f->log_warnings++;
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log), "%d:%s\n", (int)level,
		 msg);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sub, sizeof(f->sub), "%s/state", f->dir);
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->sub);
	assert_int_equal(pkguard_ctx_new(&f->ctx), 0);
	pkguard_ctx_set_logger(f->ctx, buffer_logger, f);
	*state = f;
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pkguard_ctx_free(f->ctx);
	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static struct pkguard_state *open_ok(struct fixture *f)
{
	struct pkguard_state *st = NULL;
	int rc = pkguard_state_open(f->ctx, f->path, &st);

	if (rc != 0)
		fail_msg("open: %d %s", rc, pkguard_ctx_errmsg(f->ctx));
	assert_non_null(st);
	return st;
}

static int64_t begin_run(struct pkguard_state *st, const char *entry)
{
	struct pkguard_run_info info = {.entry = entry, .backend = "dpkg", .root = "/"};
	int64_t id = -1;

	assert_int_equal(pkguard_state_run_begin(st, &info, &id), 0);
	assert_true(id > 0);
	return id;
}

/* Run SQL on the file directly, as an admin with sqlite3 would. */
static void sql(const char *path, const char *text)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", text, err);
	sqlite3_close(db);
}

static int64_t sql_int(const char *path, const char *text)
{
	sqlite3_stmt *s;
	sqlite3 *db;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, text, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static char *sql_text(const char *path, const char *text)
{
	sqlite3_stmt *s;
	sqlite3 *db;
	char *v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, text, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

struct bytes {
	char *data;
	size_t len;
};

static struct bytes read_bytes(const char *path)
{
	struct bytes b = {NULL, 0};
	struct stat sb;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &sb), 0);
	b.len = (size_t)sb.st_size;
	b.data = malloc(b.len + 1);
	assert_non_null(b.data);
	assert_int_equal(fread(b.data, 1, b.len, fp), b.len);
	fclose(fp);
	return b;
}

static void write_bytes(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void assert_same_bytes(struct bytes a, const char *path)
{
	struct bytes b = read_bytes(path);

	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	free(b.data);
}

static mode_t mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static bool exists_suffix(const char *path, const char *suffix)
{
	char name[512];

	snprintf(name, sizeof(name), "%s%s", path, suffix);
	return exists(name);
}

/* How many names in DIR contain NEEDLE. */
static int count_names(const char *dir, const char *needle)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strstr(de->d_name, needle) != NULL;
	closedir(d);
	return n;
}

/* Rows of a list, as name=value pairs. */
#define MAX_ROWS 16
#define MAX_COLS 10

struct rows {
	size_t n;
	size_t cols;
	char *names[MAX_COLS];
	char *values[MAX_ROWS][MAX_COLS];
	int stop_after; /* return 7 after this many rows; 0: never */
};

static int collect(void *userdata, const struct pkguard_state_row *row)
{
	struct rows *r = userdata;
	size_t i;

	assert_true(r->n < MAX_ROWS);
	assert_true(row->n <= MAX_COLS);
	r->cols = row->n;
	for (i = 0; i < row->n; i++) {
		free(r->names[i]);
		r->names[i] = strdup(row->names[i]);
		r->values[r->n][i] = row->values[i] ? strdup(row->values[i]) : NULL;
	}
	r->n++;
	return r->stop_after && r->n == (size_t)r->stop_after ? 7 : 0;
}

static void rows_free(struct rows *r)
{
	size_t i, j;

	for (i = 0; i < MAX_COLS; i++) {
		free(r->names[i]);
		for (j = 0; j < MAX_ROWS; j++)
			free(r->values[j][i]);
	}
	memset(r, 0, sizeof(*r));
}

static void list(struct pkguard_state *st, enum pkguard_state_list which, unsigned limit,
		 struct rows *r)
{
	rows_free(r);
	assert_int_equal(pkguard_state_list(st, which, limit, collect, r), 0);
}

/* Value of column NAME in row I; fails if there is no such column. */
static const char *get(const struct rows *r, size_t i, const char *name)
{
	size_t c;

	assert_true(i < r->n);
	for (c = 0; c < r->cols; c++) {
		if (strcmp(r->names[c], name) == 0)
			return r->values[i][c];
	}
	fail_msg("no column '%s'", name);
	return NULL;
}

static void assert_columns(const struct rows *r, const char *expected)
{
	char got[256] = "";
	size_t c;

	for (c = 0; c < r->cols; c++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", c ? " " : "",
			 r->names[c]);
	assert_string_equal(got, expected);
}

static int64_t num(const char *s)
{
	assert_non_null(s);
	return strtoll(s, NULL, 10);
}

/* ---- creation and reopening ---- */

static void test_create_modes_under_umask_0(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st;
	char wal[256], shm[256], *mode_text;
	mode_t old = umask(0);

	st = open_ok(f);
	assert_int_equal(mode_of(f->sub), 0700);
	assert_int_equal(mode_of(f->path), 0600);
	begin_run(st, "check");
	/* While the connection is open, after a write: SQLite made them. */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	snprintf(shm, sizeof(shm), "%s-shm", f->path);
	assert_int_equal(mode_of(wal), 0600);
	assert_int_equal(mode_of(shm), 0600);
	mode_text = sql_text(f->path, "PRAGMA journal_mode");
	assert_string_equal(mode_text, "wal");
	free(mode_text);
	pkguard_state_close(st);
	umask(old);
	assert_int_equal(f->log_warnings + f->log_errors, 0);
	pkguard_state_close(NULL);
}

static void test_reopen_keeps_rows(void **state)
{
	struct fixture *f = *state;
	struct rows r = {0};
	struct pkguard_state *st;
	int64_t id;

	st = open_ok(f);
	id = begin_run(st, "check");
	pkguard_state_close(st);
	st = open_ok(f);
	list(st, PKGUARD_STATE_RUNS, 0, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(num(get(&r, 0, "id")), id);
	assert_string_equal(get(&r, 0, "entry"), "check");
	assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 1);
	pkguard_state_close(st);
	rows_free(&r);
}

static void test_missing_parent_is_not_created(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/a/b/state.db", f->dir);
	assert_int_equal(pkguard_state_open(f->ctx, path, &st), -ENOENT);
	assert_null(st);
	snprintf(path, sizeof(path), "%s/a", f->dir);
	assert_false(exists(path));
	snprintf(path, sizeof(path), "%s/", f->sub);
	assert_int_equal(pkguard_state_open(f->ctx, path, &st), -EINVAL);
}

/* ---- runs ---- */

static void test_run_round_trip(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state_target t1 = {
		"libfoo", "1.0", "1.1", "defer", "/etc/pkguard.conf:3", "in use by nginx"};
	struct pkguard_state_target t2 = {"bar", NULL, "2.0", "allow", "default", NULL};
	struct pkguard_state_finding fi = {
		.package = "libfoo",
		.pid = 1234,
		.start_time = 987654321,
		.uid = 33,
		.comm = "evil\n\x1b[31m",
		.unit = "nginx.service",
		.reason = "map",
		.file = "/usr/lib/libfoo.so\tx",
	};
	struct pkguard_state *st = open_ok(f);
	struct rows r = {0};
	int64_t now = time(NULL), id, other;
	char *text;

	id = begin_run(st, "hook apt");
	assert_int_equal(pkguard_state_add_target(st, id, &t1), 0);
	assert_int_equal(pkguard_state_add_target(st, id, &t2), 0);
	assert_int_equal(pkguard_state_add_finding(st, id, &fi), 0);
	assert_int_equal(pkguard_state_add_event(st, id, "warning", "fail-open: no /proc"), 0);
	assert_int_equal(pkguard_state_run_end(st, id, "block", NULL), 0);
	other = begin_run(st, "check");

	list(st, PKGUARD_STATE_RUNS, 0, &r);
	assert_columns(&r, "id started finished entry backend root verdict error");
	assert_int_equal(r.n, 2);
	/* Newest first; the second run has not ended. */
	assert_int_equal(num(get(&r, 0, "id")), other);
	assert_null(get(&r, 0, "finished"));
	assert_null(get(&r, 0, "verdict"));
	assert_int_equal(num(get(&r, 1, "id")), id);
	assert_true(num(get(&r, 1, "started")) >= now && num(get(&r, 1, "started")) <= now + 5);
	assert_true(num(get(&r, 1, "finished")) >= num(get(&r, 1, "started")));
	assert_string_equal(get(&r, 1, "entry"), "hook apt");
	assert_string_equal(get(&r, 1, "backend"), "dpkg");
	assert_string_equal(get(&r, 1, "root"), "/");
	assert_string_equal(get(&r, 1, "verdict"), "block");
	assert_null(get(&r, 1, "error"));

	list(st, PKGUARD_STATE_TARGETS, 0, &r);
	assert_columns(&r, "run_id name old new action origin detail");
	assert_int_equal(r.n, 2);
	assert_int_equal(num(get(&r, 0, "run_id")), id);
	assert_string_equal(get(&r, 0, "name"), "libfoo");
	assert_string_equal(get(&r, 0, "old"), "1.0");
	assert_string_equal(get(&r, 0, "new"), "1.1");
	assert_string_equal(get(&r, 0, "action"), "defer");
	assert_string_equal(get(&r, 0, "origin"), "/etc/pkguard.conf:3");
	assert_string_equal(get(&r, 0, "detail"), "in use by nginx");
	assert_string_equal(get(&r, 1, "name"), "bar");
	assert_null(get(&r, 1, "old"));
	assert_null(get(&r, 1, "detail"));

	list(st, PKGUARD_STATE_EVENTS, 0, &r);
	assert_columns(&r, "time run_id level message");
	assert_int_equal(r.n, 1);
	assert_int_equal(num(get(&r, 0, "run_id")), id);
	assert_string_equal(get(&r, 0, "level"), "warning");
	assert_string_equal(get(&r, 0, "message"), "fail-open: no /proc");

	/* Findings have no list: read what was stored, escaped. */
	text = sql_text(f->path, "SELECT comm || '|' || file || '|' || pid || '|' || start_time"
				 " || '|' || uid || '|' || unit || '|' || reason FROM findings");
	assert_string_equal(text, "evil\\n\\x1b[31m|/usr/lib/libfoo.so\\tx|1234|987654321|33|"
				  "nginx.service|map");
	free(text);
	pkguard_state_close(st);
	rows_free(&r);
}

static void test_run_errors(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state_target t = {"x", NULL, NULL, "allow", "default", NULL};
	struct pkguard_state *st = open_ok(f);
	int64_t id = begin_run(st, "check");

	assert_int_equal(pkguard_state_run_end(st, id + 100, "allow", NULL), -ENOENT);
	/* A target of a run that does not exist: the foreign key refuses it. */
	assert_int_equal(pkguard_state_add_target(st, id + 100, &t), -PKGUARD_EBACKEND);
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), "FOREIGN KEY constraint failed"));
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), "cannot record a target in state"));
	assert_int_equal(pkguard_state_add_event(st, id, "loud", "x"), -PKGUARD_EBACKEND);
	assert_int_equal(pkguard_state_add_event(st, id, "error", "x"), 0);
	assert_int_equal(pkguard_state_list(st, (enum pkguard_state_list)99, 0, collect, NULL),
			 -EINVAL);
	/* A failed write leaves no transaction open behind it. */
	assert_int_equal(pkguard_state_run_end(st, id, "allow", "it went wrong"), 0);
	assert_int_equal(
		sql_int(f->path, "SELECT COUNT(*) FROM runs WHERE error = 'it went wrong'"), 1);
	pkguard_state_close(st);
}

static void test_list_limit_and_stop(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st = open_ok(f);
	struct rows r = {0};
	int64_t ids[5];
	int i;

	for (i = 0; i < 5; i++)
		ids[i] = begin_run(st, "check");
	list(st, PKGUARD_STATE_RUNS, 2, &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(num(get(&r, 0, "id")), ids[4]);
	assert_int_equal(num(get(&r, 1, "id")), ids[3]);
	rows_free(&r);
	r.stop_after = 3;
	assert_int_equal(pkguard_state_list(st, PKGUARD_STATE_RUNS, 0, collect, &r), 7);
	assert_int_equal(r.n, 3);
	/* The read transaction ended: writes go on. */
	begin_run(st, "check");
	pkguard_state_close(st);
	rows_free(&r);
}

/* ---- deferrals and holds ---- */

static void test_defer(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st = open_ok(f);
	struct pkguard_deferral d;
	struct rows r = {0};
	int64_t first, run = begin_run(st, "hook apt");
	char big[300];

	assert_int_equal(pkguard_state_deferral(st, "libfoo", &d), 1);
	assert_int_equal(pkguard_state_defer(st, run, "libfoo", "1.1", &d), 0);
	assert_string_equal(d.package, "libfoo");
	assert_string_equal(d.version, "1.1");
	assert_int_equal(d.count, 1);
	assert_int_equal(d.first, d.last);
	first = d.first - 3600;
	sql(f->path, "UPDATE deferrals SET first = first - 3600, last = last - 3600");

	/* Deferred again, with a newer candidate: the first time stays. */
	assert_int_equal(pkguard_state_defer(st, run, "libfoo", "1.2", NULL), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pkguard_state_deferral(st, "libfoo", &d), 0);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.version, "1.2");
	assert_int_equal(d.first, first);
	assert_true(d.last >= first + 3600 && d.last <= first + 3605);
	/* "" and NULL keep the version recorded. */
	assert_int_equal(pkguard_state_defer(st, run, "libfoo", NULL, &d), 0);
	assert_int_equal(d.count, 3);
	assert_string_equal(d.version, "1.2");

	assert_int_equal(pkguard_state_defer(st, run, "other", NULL, NULL), 0);
	list(st, PKGUARD_STATE_DEFERRALS, 0, &r);
	assert_columns(&r, "package version first last count");
	assert_int_equal(r.n, 2);
	assert_string_equal(get(&r, 0, "package"), "libfoo");
	assert_string_equal(get(&r, 0, "count"), "3");
	assert_int_equal(num(get(&r, 0, "first")), d.first);
	assert_string_equal(get(&r, 1, "package"), "other");
	assert_string_equal(get(&r, 1, "version"), "");

	assert_int_equal(pkguard_state_deferral_end(st, "libfoo", "released"), 0);
	assert_int_equal(pkguard_state_deferral_end(st, "libfoo", "released"), 1);
	assert_int_equal(pkguard_state_deferral(st, "libfoo", &d), 1);
	list(st, PKGUARD_STATE_DEFERRALS, 0, &r);
	assert_int_equal(r.n, 1);
	/* A new deferral starts over; the ended one stays as history. */
	assert_int_equal(pkguard_state_defer(st, run, "libfoo", "1.3", &d), 0);
	assert_int_equal(d.count, 1);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM deferrals WHERE package = 'libfoo'"
					  " AND ended IS NOT NULL AND end_reason = 'released'"),
			 1);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pkguard_state_defer(st, run, big, "1", &d), -ENAMETOOLONG);
	assert_int_equal(pkguard_state_defer(st, run, "libfoo", big, NULL), -ENAMETOOLONG);
	pkguard_state_close(st);
	rows_free(&r);
}

static void test_holds(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st = open_ok(f);
	struct rows r = {0};

	assert_int_equal(pkguard_state_hold_placed(st, "libfoo"), 1);
	assert_int_equal(pkguard_state_hold_add(st, "libfoo", "dpkg"), 0);
	assert_int_equal(pkguard_state_hold_add(st, "libfoo", "dpkg"), 0);
	assert_int_equal(pkguard_state_hold_placed(st, "libfoo"), 0);
	assert_int_equal(pkguard_state_hold_placed(st, "libbar"), 1);
	list(st, PKGUARD_STATE_HOLDS, 0, &r);
	assert_columns(&r, "package backend placed");
	assert_int_equal(r.n, 1);
	assert_string_equal(get(&r, 0, "backend"), "dpkg");
	assert_int_equal(pkguard_state_hold_remove(st, "libfoo"), 0);
	assert_int_equal(pkguard_state_hold_placed(st, "libfoo"), 1);
	assert_int_equal(pkguard_state_hold_remove(st, "libfoo"), 1);
	list(st, PKGUARD_STATE_HOLDS, 0, &r);
	assert_int_equal(r.n, 0);
	pkguard_state_close(st);
	rows_free(&r);
}

/* ---- units, needs-restart, overrides ---- */

static void test_stopped_units(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st = open_ok(f);
	struct rows r = {0};
	int64_t run = begin_run(st, "hook apt");

	assert_int_equal(pkguard_state_unit_stopped(st, run, "nginx.service", "systemd"), 0);
	assert_int_equal(pkguard_state_unit_stopped(st, run, "nginx.service", "systemd"), 0);
	assert_int_equal(pkguard_state_unit_stopped(st, run, "cron", "openrc"), 0);
	list(st, PKGUARD_STATE_STOPPED_UNITS, 0, &r);
	assert_columns(&r, "unit manager stopped run_id error");
	assert_int_equal(r.n, 2);
	assert_string_equal(get(&r, 0, "unit"), "nginx.service");
	assert_string_equal(get(&r, 0, "manager"), "systemd");
	assert_int_equal(num(get(&r, 0, "run_id")), run);
	assert_null(get(&r, 0, "error"));

	/* A failed start stays pending, with its error. */
	assert_int_equal(pkguard_state_unit_started(st, "nginx.service", "exit status 1"), 0);
	list(st, PKGUARD_STATE_STOPPED_UNITS, 0, &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(get(&r, 0, "error"), "exit status 1");

	assert_int_equal(pkguard_state_unit_started(st, "nginx.service", NULL), 0);
	list(st, PKGUARD_STATE_STOPPED_UNITS, 0, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(get(&r, 0, "unit"), "cron");
	assert_int_equal(sql_int(f->path,
				 "SELECT COUNT(*) FROM stopped_units WHERE unit ="
				 " 'nginx.service' AND started IS NOT NULL AND error IS NULL"),
			 1);
	pkguard_state_close(st);
	rows_free(&r);
}

static void test_needs_restart_replaces(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state_finding a = {
		"libfoo", 100, 5000, 0, "nginx", "nginx.service", "map", "/usr/lib/libfoo.so.1"};
	struct pkguard_state_finding b = {"libfoo",	   200,	 6000,	1000,
					  "bad\x1b]0;x\a", NULL, "map", NULL};
	struct pkguard_state_finding c = {"bar",  300,	7000,  0,
					  "bard", NULL, "exe", "/usr/bin/bard"};
	struct pkguard_state_finding first[] = {a, b}, second[] = {b, c};
	struct pkguard_state *st = open_ok(f);
	struct rows r = {0};
	int64_t run = begin_run(st, "post apt");

	assert_int_equal(pkguard_state_needs_restart_set(st, run, first, 2), 0);
	list(st, PKGUARD_STATE_NEEDS_RESTART, 0, &r);
	assert_columns(&r, "package pid start_time uid comm unit file since");
	assert_int_equal(r.n, 2);
	assert_string_equal(get(&r, 0, "pid"), "100");
	assert_string_equal(get(&r, 0, "start_time"), "5000");
	assert_string_equal(get(&r, 0, "unit"), "nginx.service");
	assert_string_equal(get(&r, 0, "file"), "/usr/lib/libfoo.so.1");
	assert_string_equal(get(&r, 1, "comm"), "bad\\x1b]0;x\\x07");
	assert_string_equal(get(&r, 1, "uid"), "1000");
	assert_null(get(&r, 1, "file"));

	sql(f->path, "UPDATE needs_restart SET since = 1000");
	assert_int_equal(pkguard_state_needs_restart_set(st, run, second, 2), 0);
	list(st, PKGUARD_STATE_NEEDS_RESTART, 0, &r);
	assert_int_equal(r.n, 2);
	assert_string_equal(get(&r, 0, "package"), "bar");
	/* A process still listed keeps the time it was first found; a new one gets now. */
	assert_true(num(get(&r, 0, "since")) > 1000);
	assert_string_equal(get(&r, 1, "pid"), "200");
	assert_int_equal(num(get(&r, 1, "since")), 1000);

	assert_int_equal(pkguard_state_needs_restart_set(st, run, NULL, 0), 0);
	list(st, PKGUARD_STATE_NEEDS_RESTART, 0, &r);
	assert_int_equal(r.n, 0);
	pkguard_state_close(st);
	rows_free(&r);
}

static void test_overrides(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st = open_ok(f);
	struct rows r = {0};
	int64_t run = begin_run(st, "hook apt");

	assert_int_equal(pkguard_state_override_consume(st, "libfoo", run), 1);
	assert_int_equal(pkguard_state_override_add(st, "libfoo", 0), 0);
	assert_int_equal(pkguard_state_override_add(st, "libfoo", 1000), 0);
	list(st, PKGUARD_STATE_OVERRIDES, 0, &r);
	assert_columns(&r, "package created by_uid");
	assert_int_equal(r.n, 1);
	assert_string_equal(get(&r, 0, "by_uid"), "0");
	assert_int_equal(pkguard_state_override_consume(st, "libfoo", run), 0);
	assert_int_equal(pkguard_state_override_consume(st, "libfoo", run), 1);
	list(st, PKGUARD_STATE_OVERRIDES, 0, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(pkguard_state_override_add(st, "libfoo", 0), 0);
	list(st, PKGUARD_STATE_OVERRIDES, 0, &r);
	assert_int_equal(r.n, 1);
	pkguard_state_close(st);
	rows_free(&r);
}

/* ---- pruning ---- */

static void test_prune(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state_target t = {"libfoo", "1", "2", "allow", "default", NULL};
	struct pkguard_state_finding fi = {"libfoo", 1, 2, 0, "x", NULL, "map", NULL};
	struct pkguard_state *st = open_ok(f);
	int64_t old, young;
	char q[256];

	old = begin_run(st, "hook apt");
	young = begin_run(st, "hook apt");
	assert_int_equal(pkguard_state_add_target(st, old, &t), 0);
	assert_int_equal(pkguard_state_add_finding(st, old, &fi), 0);
	assert_int_equal(pkguard_state_add_event(st, old, "info", "old"), 0);
	assert_int_equal(pkguard_state_add_target(st, young, &t), 0);
	assert_int_equal(pkguard_state_add_finding(st, young, &fi), 0);
	assert_int_equal(pkguard_state_add_event(st, young, "info", "young"), 0);
	assert_int_equal(pkguard_state_defer(st, old, "ended", "1", NULL), 0);
	assert_int_equal(pkguard_state_deferral_end(st, "ended", "released"), 0);
	assert_int_equal(pkguard_state_defer(st, old, "active", "1", NULL), 0);
	assert_int_equal(pkguard_state_override_add(st, "used", 0), 0);
	assert_int_equal(pkguard_state_override_consume(st, "used", old), 0);
	assert_int_equal(pkguard_state_override_add(st, "pending", 0), 0);
	snprintf(q, sizeof(q),
		 "UPDATE runs SET started = started - 7200 WHERE id = %lld;"
		 "UPDATE deferrals SET first = first - 7200, last = last - 7200,"
		 " ended = ended - 7200;"
		 "UPDATE overrides SET created = created - 7200, consumed = consumed - 7200",
		 (long long)old);
	sql(f->path, q);

	assert_int_equal(pkguard_state_prune(st, 3600), 0);
	snprintf(q, sizeof(q), "SELECT COUNT(*) FROM runs WHERE id = %lld", (long long)young);
	assert_int_equal(sql_int(f->path, q), 1);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM runs"), 1);
	snprintf(q, sizeof(q),
		 "SELECT (SELECT COUNT(*) FROM targets WHERE run_id = %1$lld)"
		 " + (SELECT COUNT(*) FROM findings WHERE run_id = %1$lld)"
		 " + (SELECT COUNT(*) FROM events WHERE run_id = %1$lld)",
		 (long long)old);
	assert_int_equal(sql_int(f->path, q), 0);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM targets"), 1);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM findings"), 1);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM events"), 1);
	/* History older than the age goes; what is active stays, however old. */
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM deferrals"), 1);
	assert_int_equal(
		sql_int(f->path, "SELECT COUNT(*) FROM deferrals WHERE package = 'active'"), 1);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM overrides"), 1);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM overrides WHERE package ="
					  " 'pending'"),
			 1);
	/* An age beyond any time prunes nothing. */
	assert_int_equal(pkguard_state_prune(st, UINT64_MAX), 0);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM runs"), 1);
	assert_int_equal(pkguard_state_prune(st, 0), 0);
	pkguard_state_close(st);
}

/* ---- schema versions ---- */

static void test_newer_schema_refused_untouched(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st = open_ok(f);
	char expected[512];
	struct bytes before;

	begin_run(st, "check");
	pkguard_state_close(st);
	sql(f->path, "PRAGMA user_version = 99");
	before = read_bytes(f->path);
	st = (struct pkguard_state *)1;
	assert_int_equal(pkguard_state_open(f->ctx, f->path, &st), -PKGUARD_EBACKEND);
	assert_null(st);
	snprintf(expected, sizeof(expected),
		 "state database '%s' has schema version 99, newer than this pkguard (1): "
		 "refusing to touch it: package database error",
		 f->path);
	assert_string_equal(pkguard_ctx_errmsg(f->ctx), expected);
	assert_same_bytes(before, f->path);
	assert_int_equal(count_names(f->sub, "corrupt"), 0);
	free(before.data);

	/* Nothing writes a negative version: no migration applies to it either. */
	sql(f->path, "PRAGMA user_version = -3");
	before = read_bytes(f->path);
	assert_int_equal(pkguard_state_open(f->ctx, f->path, &st), -PKGUARD_EBACKEND);
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), "schema version -3, which no pkguard"));
	assert_same_bytes(before, f->path);
	free(before.data);
}

/* ---- corruption ---- */

/* A database with enough rows for several pages, closed (checkpointed). */
static struct bytes make_db(struct fixture *f)
{
	struct pkguard_state_target t = {"pkg", "1", "2", "allow", "default", NULL};
	struct pkguard_state *st = open_ok(f);
	char detail[600];
	int64_t run;
	int i;

	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	t.detail = detail;
	run = begin_run(st, "check");
	for (i = 0; i < 60; i++)
		assert_int_equal(pkguard_state_add_target(st, run, &t), 0);
	pkguard_state_close(st);
	assert_false(exists_suffix(f->path, "-wal"));
	return read_bytes(f->path);
}

/*
 * Open the damaged file at f->path, whose bytes are ORIG: 1, the ctx message
 * names the quarantined file, which holds ORIG, and the fresh database works.
 * Returns the quarantined path (caller frees).
 */
static char *expect_quarantine(struct fixture *f, struct bytes orig)
{
	struct pkguard_state *st = NULL;
	const char *msg, *q;
	struct rows r = {0};
	char prefix[256];
	char *qpath;
	size_t len;

	f->log[0] = '\0';
	f->log_errors = 0;
	assert_int_equal(pkguard_state_open(f->ctx, f->path, &st), 1);
	assert_non_null(st);
	msg = pkguard_ctx_errmsg(f->ctx);
	snprintf(prefix, sizeof(prefix), "state database '%s' is corrupt (", f->path);
	assert_memory_equal(msg, prefix, strlen(prefix));
	q = strstr(msg, "moved it to '");
	assert_non_null(q);
	q += strlen("moved it to '");
	len = strcspn(q, "'");
	qpath = strndup(q, len);
	assert_non_null(strstr(qpath, ".corrupt-"));
	assert_string_equal(q + len, "' and started a fresh one");
	assert_same_bytes(orig, qpath);
	/* Logged as an error, with the same text. */
	assert_int_equal(f->log_errors, 1);
	assert_non_null(strstr(f->log, msg));
	/* The fresh database is empty and works. */
	list(st, PKGUARD_STATE_RUNS, 0, &r);
	assert_int_equal(r.n, 0);
	begin_run(st, "check");
	pkguard_state_close(st);
	assert_int_equal(mode_of(f->path), 0600);
	assert_int_equal(mode_of(qpath), 0600);
	assert_int_equal(sql_int(f->path, "SELECT COUNT(*) FROM runs"), 1);
	rows_free(&r);
	return qpath;
}

static void test_corrupt_header(void **state)
{
	struct fixture *f = *state;
	char garbage[8192], wal[512];
	struct bytes orig, side;
	char *q;

	assert_int_equal(mkdir(f->sub, 0700), 0);
	memset(garbage, 'G', sizeof(garbage));
	memcpy(garbage, "this is not an SQLite file", 26);
	write_bytes(f->path, garbage, sizeof(garbage), 0600);
	/* A side file moves with the database, never deleted. */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	write_bytes(wal, "stale wal", 9, 0600);
	orig = read_bytes(f->path);
	side = read_bytes(wal);
	q = expect_quarantine(f, orig);
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), "(file is not a database)"));
	snprintf(wal, sizeof(wal), "%s-wal", q);
	assert_same_bytes(side, wal);
	free(q);
	free(orig.data);
	free(side.data);
}

static void test_corrupt_truncated(void **state)
{
	struct fixture *f = *state;
	struct bytes orig = make_db(f);
	char *q;

	assert_true(orig.len > 8 * 4096);
	assert_int_equal(truncate(f->path, (off_t)(orig.len / 2)), 0);
	free(orig.data);
	orig = read_bytes(f->path);
	q = expect_quarantine(f, orig);
	free(q);
	free(orig.data);
}

static void test_corrupt_page(void **state)
{
	struct fixture *f = *state;
	struct bytes orig = make_db(f);
	size_t page = 4096, i;
	char *q;

	/* A table page in the middle, overwritten with noise; page 1 (the header) intact. */
	srand(42);
	for (i = 0; i < page; i++)
		orig.data[(orig.len / page / 2) * page + i] = (char)rand();
	write_bytes(f->path, orig.data, orig.len, 0600);
	q = expect_quarantine(f, orig);
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), "is corrupt ("));
	free(q);
	free(orig.data);
}

static void test_corrupt_name_taken(void **state)
{
	struct fixture *f = *state;
	char garbage[4096], taken[512];
	int64_t now = time(NULL), t;
	struct bytes orig;
	char *q;

	assert_int_equal(mkdir(f->sub, 0700), 0);
	memset(garbage, 'x', sizeof(garbage));
	write_bytes(f->path, garbage, sizeof(garbage), 0600);
	orig = read_bytes(f->path);
	/* The names of this second and the next few are taken already. */
	for (t = now; t < now + 4; t++) {
		snprintf(taken, sizeof(taken), "%s.corrupt-%lld", f->path, (long long)t);
		write_bytes(taken, "older", 5, 0600);
	}
	q = expect_quarantine(f, orig);
	assert_string_equal(q + strlen(q) - 2, ".1");
	for (t = now; t < now + 4; t++) {
		struct bytes older;

		snprintf(taken, sizeof(taken), "%s.corrupt-%lld", f->path, (long long)t);
		older = read_bytes(taken);
		assert_int_equal(older.len, 5);
		free(older.data);
	}
	free(q);
	free(orig.data);
}

static void test_empty_file_is_fresh(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st;

	/* An empty file is what pkguard itself creates before SQLite opens it. */
	assert_int_equal(mkdir(f->sub, 0700), 0);
	write_bytes(f->path, "", 0, 0600);
	st = open_ok(f);
	begin_run(st, "check");
	pkguard_state_close(st);
	assert_int_equal(count_names(f->sub, "corrupt"), 0);
	assert_int_equal(f->log_errors, 0);
}

/* ---- hostile files in place of the database ---- */

static void expect_unsafe(struct fixture *f, const char *what)
{
	struct pkguard_state *st = (struct pkguard_state *)1;
	int rc;

	alarm(10); /* a FIFO opened for reading would block here forever */
	rc = pkguard_state_open(f->ctx, f->path, &st);
	alarm(0);
	if (rc != -PKGUARD_EUNSAFE)
		fail_msg("%s: %d %s", what, rc, pkguard_ctx_errmsg(f->ctx));
	assert_null(st);
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), ": unsafe file"));
	/* SQLite never got to create anything. */
	assert_false(exists_suffix(f->path, "-wal"));
	assert_false(exists_suffix(f->path, "-shm"));
	assert_false(exists_suffix(f->path, "-journal"));
}

static void test_hostile_db_objects(void **state)
{
	struct fixture *f = *state;
	char target[256], dangling[256], hard[256];
	struct bytes before;

	assert_int_equal(mkdir(f->sub, 0700), 0);

	assert_int_equal(mkdir(f->path, 0700), 0);
	expect_unsafe(f, "directory");
	assert_int_equal(rmdir(f->path), 0);

	assert_int_equal(mkfifo(f->path, 0600), 0);
	expect_unsafe(f, "fifo");
	assert_int_equal(unlink(f->path), 0);

	/* A symlink to a file elsewhere: neither followed nor changed. */
	snprintf(target, sizeof(target), "%s/victim", f->dir);
	write_bytes(target, "precious", 8, 0644);
	before = read_bytes(target);
	assert_int_equal(symlink(target, f->path), 0);
	expect_unsafe(f, "symlink");
	assert_same_bytes(before, target);
	assert_int_equal(mode_of(target), 0644);
	assert_int_equal(unlink(f->path), 0);

	/* A dangling symlink: nothing is created at its target. */
	snprintf(dangling, sizeof(dangling), "%s/created-by-pkguard", f->dir);
	assert_int_equal(symlink(dangling, f->path), 0);
	expect_unsafe(f, "dangling symlink");
	assert_false(exists(dangling));
	assert_int_equal(unlink(f->path), 0);

	/* A second link: someone else can reach the file by another name. */
	snprintf(hard, sizeof(hard), "%s/hardlink", f->sub);
	write_bytes(hard, "", 0, 0600);
	assert_int_equal(link(hard, f->path), 0);
	expect_unsafe(f, "hard link");
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(unlink(hard), 0);

	/* A symlink in place of a side file, beside a good database. */
	write_bytes(f->path, "", 0, 0600);
	snprintf(hard, sizeof(hard), "%s-wal", f->path);
	assert_int_equal(symlink(target, hard), 0);
	alarm(10);
	assert_int_equal(pkguard_state_open(f->ctx, f->path, &(struct pkguard_state *){NULL}),
			 -PKGUARD_EUNSAFE);
	alarm(0);
	assert_same_bytes(before, target);
	free(before.data);
}

static void test_hostile_owner(void **state)
{
	struct fixture *f = *state;

	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(f->sub, 0700), 0);
	write_bytes(f->path, "", 0, 0600);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	expect_unsafe(f, "file of another user");
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(chown(f->sub, 65534, 65534), 0);
	expect_unsafe(f, "directory of another user");
	assert_false(exists(f->path));
}

static void test_unsafe_directory(void **state)
{
	struct fixture *f = *state;
	char real[256];

	assert_int_equal(mkdir(f->sub, 0700), 0);
	assert_int_equal(chmod(f->sub, 0770), 0);
	expect_unsafe(f, "group-writable directory");
	assert_false(exists(f->path));
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), "writable by group or others"));
	assert_int_equal(chmod(f->sub, 0757), 0);
	expect_unsafe(f, "world-writable directory");
	assert_false(exists(f->path));
	/* 0755 is fine: nobody else can change what is in it. */
	assert_int_equal(chmod(f->sub, 0755), 0);
	pkguard_state_close(open_ok(f));
	assert_int_equal(mode_of(f->sub), 0755);

	/* A symlink in place of the directory. */
	snprintf(real, sizeof(real), "%s/real", f->dir);
	assert_int_equal(rename(f->sub, real), 0);
	assert_int_equal(symlink(real, f->sub), 0);
	expect_unsafe(f, "symlinked directory");
}

static void test_loose_modes_repaired(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st;
	char wal[256];

	pkguard_state_close(open_ok(f));
	assert_int_equal(chmod(f->path, 0644), 0);
	/* A side file an older version left behind, readable by all. */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	write_bytes(wal, "", 0, 0644);
	st = open_ok(f);
	assert_int_equal(mode_of(f->path), 0600);
	assert_int_equal(mode_of(wal), 0600);
	assert_int_equal(f->log_warnings, 2);
	assert_non_null(strstr(f->log, "had mode 0644: set it to 0600"));
	begin_run(st, "check");
	pkguard_state_close(st);
}

/* ---- locks ---- */

/* From another process: is the WAL write lock (byte 120 of -shm) held? */
static bool wal_write_locked(const char *path)
{
	char shm[256];
	pid_t pid;
	int status;

	snprintf(shm, sizeof(shm), "%s-shm", path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = {
			.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 120, .l_len = 1};
		int fd = open(shm, O_RDWR);

		_exit(fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_locks_of_other_connections_kept(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *st;
	sqlite3 *other;
	uint64_t t0;

	pkguard_state_close(open_ok(f));
	/* Another connection of this process is in the middle of a write. */
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other,
				      "BEGIN IMMEDIATE; INSERT INTO holds VALUES ('x', 'dpkg',"
				      " 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_true(wal_write_locked(f->path));
	/*
	 * Opening must not drop that connection's POSIX locks, as closing any
	 * descriptor of the file would (threats.md #4).
	 */
	st = open_ok(f);
	assert_true(wal_write_locked(f->path));

	/* A write waits, but no longer than the run's deadline. */
	pkguard_ctx_set_deadline(f->ctx, pkguard_now_ns() + 300000000ull);
	t0 = pkguard_now_ns();
	assert_int_equal(pkguard_state_hold_add(st, "libfoo", "dpkg"), -PKGUARD_EBACKEND);
	assert_true(pkguard_now_ns() - t0 < 3000000000ull);
	assert_non_null(strstr(pkguard_ctx_errmsg(f->ctx), "database is locked"));
	pkguard_ctx_set_deadline(f->ctx, 0);
	/* Reads go on meanwhile (WAL). */
	assert_int_equal(pkguard_state_hold_placed(st, "x"), 1);

	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(pkguard_state_hold_add(st, "libfoo", "dpkg"), 0);
	assert_int_equal(pkguard_state_hold_placed(st, "x"), 0);
	pkguard_state_close(st);
	sqlite3_close(other);
}

static void test_two_handles_one_process(void **state)
{
	struct fixture *f = *state;
	struct pkguard_state *a = open_ok(f), *b = open_ok(f);
	struct rows r = {0};

	begin_run(a, "check");
	begin_run(b, "check");
	pkguard_state_close(a);
	begin_run(b, "check");
	list(b, PKGUARD_STATE_RUNS, 0, &r);
	assert_int_equal(r.n, 3);
	pkguard_state_close(b);
	rows_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_create_modes_under_umask_0),
		T(test_reopen_keeps_rows),
		T(test_missing_parent_is_not_created),
		T(test_run_round_trip),
		T(test_run_errors),
		T(test_list_limit_and_stop),
		T(test_defer),
		T(test_holds),
		T(test_stopped_units),
		T(test_needs_restart_replaces),
		T(test_overrides),
		T(test_prune),
		T(test_newer_schema_refused_untouched),
		T(test_corrupt_header),
		T(test_corrupt_truncated),
		T(test_corrupt_page),
		T(test_corrupt_name_taken),
		T(test_empty_file_is_fresh),
		T(test_hostile_db_objects),
		T(test_hostile_owner),
		T(test_unsafe_directory),
		T(test_loose_modes_repaired),
		T(test_locks_of_other_connections_kept),
		T(test_two_handles_one_process),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
