/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state database: SQLite behind the checks of state.h.
 *
 * One file on purpose: every helper is static, and the module builds from the
 * one source the tree already lists.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pkguard/escape.h"
#include "pkguard/state.h"

struct pkguard_state {
	struct pkguard_ctx *ctx;
	char *path;
	sqlite3 *db;
	/* The database file as checked before SQLite opened it. */
	dev_t dev;
	ino_t ino;
	/* What the current transaction does, for messages: "record a target in". */
	const char *what;
	/* Set by db_fail(): the failure was SQLITE_BUSY or SQLITE_LOCKED. */
	bool retry;
	/* Set by db_fail(): the failure was SQLITE_CORRUPT or SQLITE_NOTADB. */
	bool corrupt;
	/* SQLite's message for the corruption, kept across the close that precedes quarantine. */
	char corrupt_why[256];
	/* Set when pkguard_state_open() moved a corrupt file aside: what it did. */
	char report[512];
	/* When the current wait for a lock began (the busy handler's clock). */
	uint64_t busy_since_ns;
};

/*
 * A transaction body. Returns >= 0 on success (passed through to the caller
 * of db_write()/db_read()), <0 after recording the failure in the context.
 */
typedef int (*db_txn_fn)(struct pkguard_state *st, void *arg);

/* ---- statements and transactions ---- */

/* How long one statement waits for another connection's lock. */
#define BUSY_TIMEOUT_NS (5000ull * 1000000ull)
#define BUSY_SLEEP_NS	(5ull * 1000000ull)
/* Whole-transaction attempts, and the pause before the second one (doubled after). */
#define TXN_ATTEMPTS   3
#define TXN_BACKOFF_NS (20ull * 1000000ull)

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u)};

	/* An interrupted pause only makes the retry come sooner. */
	nanosleep(&ts, NULL);
}

/* The current time in Unix seconds. */
static int64_t db_now(void)
{
	return (int64_t)time(NULL);
}

/*
 * Record SQLite failure RC in the context as -PKGUARD_EBACKEND, "cannot
 * <what> state database '<path>': <SQLite's message>", and classify it.
 */
static int db_fail(struct pkguard_state *st, int rc)
{
	int primary = rc & 0xff;

	st->retry = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
	st->corrupt = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
	if (st->corrupt)
		snprintf(st->corrupt_why, sizeof(st->corrupt_why), "%s", sqlite3_errmsg(st->db));
	return pkguard_fail(st->ctx, -PKGUARD_EBACKEND, "cannot %s state database '%s': %s",
			    st->what, st->path, sqlite3_errmsg(st->db));
}

/*
 * SQLite's busy_timeout, except that it also gives up once the run's deadline
 * has passed: a hook must not overrun its budget waiting for the database.
 */
static int db_busy_wait(void *arg, int count)
{
	struct pkguard_state *st = arg;
	uint64_t now = pkguard_now_ns();

	if (count == 0)
		st->busy_since_ns = now;
	if (now - st->busy_since_ns >= BUSY_TIMEOUT_NS || pkguard_ctx_expired(st->ctx))
		return 0;
	sleep_ns(BUSY_SLEEP_NS);
	return 1;
}

static int prepare_va(struct pkguard_state *st, sqlite3_stmt **out, const char *sql,
		      const char *types, va_list ap)
{
	sqlite3_stmt *s = NULL;
	int i, rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc);
	for (i = 0; rc == SQLITE_OK && types[i]; i++) {
		if (types[i] == 'i')
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
		else
			rc = sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1,
					       SQLITE_STATIC);
	}
	if (rc != SQLITE_OK) {
		rc = db_fail(st, rc);
		sqlite3_finalize(s);
		return rc;
	}
	*out = s;
	return 0;
}

/*
 * Prepare SQL and bind one argument per character of TYPES: 't' a const char *
 * (NULL binds SQL NULL), 'i' an int64_t. Returns 0 with *OUT set, or <0.
 */
static int db_prepare(struct pkguard_state *st, sqlite3_stmt **out, const char *sql,
		      const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = prepare_va(st, out, sql, types, ap);
	va_end(ap);
	return rc;
}

/* Step S: 0 for a row, 1 when done, <0 on failure. */
static int db_step(struct pkguard_state *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return db_fail(st, rc);
}

static int exec_va(struct pkguard_state *st, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *s;
	int rc;

	rc = prepare_va(st, &s, sql, types, ap);
	if (rc < 0)
		return rc;
	do
		rc = db_step(st, s);
	while (rc == 0);
	if (rc == 1)
		rc = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

/* Prepare, bind as db_prepare(), run to completion: the number of rows changed, or <0. */
static int db_exec(struct pkguard_state *st, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = exec_va(st, sql, types, ap);
	va_end(ap);
	return rc;
}

/* Run fixed SQL text of several statements without parameters: the schema. */
static int db_exec_script(struct pkguard_state *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(st, rc);
}

static void rollback(struct pkguard_state *st)
{
	/*
	 * SQLite has already rolled back after some failures (SQLITE_FULL,
	 * SQLITE_IOERR, SQLITE_NOMEM); ROLLBACK then has nothing to end.
	 */
	if (sqlite3_get_autocommit(st->db))
		return;
	if (sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		pkguard_log(st->ctx, PKGUARD_LOG_ERR, "cannot roll back in state database '%s': %s",
			    st->path, sqlite3_errmsg(st->db));
}

/* One attempt: BEGIN, FN, COMMIT; rolled back if anything fails. */
static int attempt(struct pkguard_state *st, const char *begin, db_txn_fn fn, void *arg)
{
	int rc, body;

	if (begin) {
		rc = db_exec(st, begin, "");
		if (rc < 0)
			return rc;
	}
	body = fn(st, arg);
	if (body >= 0 && begin) {
		rc = db_exec(st, "COMMIT", "");
		if (rc < 0)
			body = rc;
	}
	if (body < 0 && begin)
		rollback(st);
	return body;
}

/*
 * Run FN in a transaction opened with BEGIN (NULL: none, for PRAGMAs that
 * cannot run inside one) and commit. WHAT names it in messages ("record a
 * target in"). The busy handler cannot rescue every case (WAL recovery by
 * another connection, a lock taken between two statements), so a transaction
 * that failed on SQLITE_BUSY or SQLITE_LOCKED is retried as a whole
 * (threats.md #15), unless the run's deadline has passed.
 */
static int db_retry(struct pkguard_state *st, const char *what, const char *begin, db_txn_fn fn,
		    void *arg)
{
	uint64_t backoff_ns = TXN_BACKOFF_NS;
	int i, rc = 0;

	st->what = what;
	for (i = 0; i < TXN_ATTEMPTS; i++) {
		if (i > 0) {
			if (pkguard_ctx_expired(st->ctx))
				break;
			sleep_ns(backoff_ns);
			backoff_ns *= 2;
		}
		st->retry = false;
		rc = attempt(st, begin, fn, arg);
		if (rc >= 0 || !st->retry)
			break;
	}
	return rc;
}

/*
 * Every transaction that may write starts with BEGIN IMMEDIATE: a deferred one
 * that reads and then writes cannot be rescued by the busy handler once
 * another writer committed in between (threats.md #15).
 */
static int db_write(struct pkguard_state *st, const char *what, db_txn_fn fn, void *arg)
{
	return db_retry(st, what, "BEGIN IMMEDIATE", fn, arg);
}

/* Reads see one snapshot: a deferred transaction. */
static int db_read(struct pkguard_state *st, const char *what, db_txn_fn fn, void *arg)
{
	return db_retry(st, what, "BEGIN", fn, arg);
}

struct exec_arg {
	const char *sql;
	const char *types;
	va_list ap;
};

static int exec_body(struct pkguard_state *st, void *arg)
{
	struct exec_arg *a = arg;
	va_list ap;
	int rc;

	/* Each attempt binds the arguments afresh. */
	va_copy(ap, a->ap);
	rc = exec_va(st, a->sql, a->types, ap);
	va_end(ap);
	return rc;
}

/* db_exec() as a whole write transaction: the number of rows changed, or <0. */
static int db_write_exec(struct pkguard_state *st, const char *what, const char *sql,
			 const char *types, ...)
{
	struct exec_arg a = {.sql = sql, .types = types};
	int rc;

	va_start(a.ap, types);
	rc = db_write(st, what, exec_body, &a);
	va_end(a.ap);
	return rc;
}

/* ---- schema ---- */

/*
 * The schema of the state database, versioned in PRAGMA user_version.
 *
 * migrations[i] takes the schema from version i to i + 1 and runs in one
 * BEGIN IMMEDIATE transaction with the version bump, so a crash leaves either
 * version. Published steps are never edited: a change is a new step.
 *
 * Only targets, findings and events belong to a run (ON DELETE CASCADE, so
 * pruning is one DELETE on runs). Deferrals, stopped units, needs-restart
 * entries and overrides outlive the history they came from: their run ids are
 * plain integers that may name a pruned run.
 *
 * Tables that keep history (deferrals, stopped_units, overrides) mark the
 * active row by a NULL end time; a partial unique index allows at most one
 * active row per package or unit and finds it.
 */
static const char *const migrations[] = {
	/* 1: the initial schema. */
	"CREATE TABLE runs ("
	"	id INTEGER PRIMARY KEY,"
	"	started INTEGER NOT NULL,"
	"	finished INTEGER,"
	"	entry TEXT NOT NULL,"
	"	backend TEXT,"
	"	root TEXT NOT NULL,"
	"	verdict TEXT,"
	"	error TEXT"
	");"
	/* Listing newest first, and pruning by age. */
	"CREATE INDEX runs_started ON runs (started);"
	"CREATE TABLE targets ("
	"	id INTEGER PRIMARY KEY,"
	"	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"	name TEXT NOT NULL,"
	"	old_version TEXT,"
	"	new_version TEXT,"
	"	action TEXT NOT NULL,"
	"	origin TEXT NOT NULL,"
	"	detail TEXT"
	");"
	/* Without an index on the child key every deleted run scans the whole child table. */
	"CREATE INDEX targets_run ON targets (run_id);"
	"CREATE TABLE findings ("
	"	id INTEGER PRIMARY KEY,"
	"	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"	package TEXT NOT NULL,"
	"	pid INTEGER NOT NULL,"
	"	start_time INTEGER NOT NULL,"
	"	uid INTEGER NOT NULL,"
	"	comm TEXT," /* escaped */
	"	unit TEXT,"
	"	reason TEXT NOT NULL,"
	"	file TEXT" /* escaped */
	");"
	"CREATE INDEX findings_run ON findings (run_id);"
	"CREATE TABLE events ("
	"	id INTEGER PRIMARY KEY,"
	"	run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"	time INTEGER NOT NULL,"
	"	level TEXT NOT NULL CHECK (level IN ('error', 'warning', 'info')),"
	"	message TEXT NOT NULL"
	");"
	"CREATE INDEX events_run ON events (run_id);"
	"CREATE INDEX events_time ON events (time);"
	"CREATE TABLE deferrals ("
	"	id INTEGER PRIMARY KEY,"
	"	package TEXT NOT NULL,"
	"	version TEXT NOT NULL,"
	"	first INTEGER NOT NULL,"
	"	last INTEGER NOT NULL,"
	"	count INTEGER NOT NULL,"
	"	first_run INTEGER,"
	"	last_run INTEGER,"
	"	ended INTEGER,"
	"	end_reason TEXT"
	");"
	"CREATE UNIQUE INDEX deferrals_active ON deferrals (package) WHERE ended IS NULL;"
	/* Only the holds pkguard placed: the only ones it may lift. */
	"CREATE TABLE holds ("
	"	package TEXT PRIMARY KEY,"
	"	backend TEXT NOT NULL,"
	"	placed INTEGER NOT NULL"
	");"
	"CREATE TABLE stopped_units ("
	"	id INTEGER PRIMARY KEY,"
	"	unit TEXT NOT NULL,"
	"	manager TEXT NOT NULL,"
	"	stopped INTEGER NOT NULL,"
	"	run_id INTEGER,"
	"	started INTEGER,"
	"	error TEXT" /* of the last failed start */
	");"
	"CREATE UNIQUE INDEX stopped_units_pending ON stopped_units (unit) WHERE started IS NULL;"
	"CREATE TABLE needs_restart ("
	"	id INTEGER PRIMARY KEY,"
	"	run_id INTEGER,"
	"	package TEXT NOT NULL,"
	"	pid INTEGER NOT NULL,"
	"	start_time INTEGER NOT NULL,"
	"	uid INTEGER NOT NULL,"
	"	comm TEXT," /* escaped */
	"	unit TEXT,"
	"	file TEXT," /* escaped */
	"	since INTEGER NOT NULL"
	");"
	"CREATE TABLE overrides ("
	"	id INTEGER PRIMARY KEY,"
	"	package TEXT NOT NULL,"
	"	created INTEGER NOT NULL,"
	"	by_uid INTEGER NOT NULL,"
	"	consumed INTEGER,"
	"	consumed_run INTEGER"
	");"
	"CREATE UNIQUE INDEX overrides_pending ON overrides (package) WHERE consumed IS NULL;",
};

/* The schema version this build writes. */
static int db_schema_latest(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

static int db_schema_version(struct pkguard_state *st, int *version)
{
	sqlite3_stmt *s;
	int rc;

	rc = db_prepare(st, &s, "PRAGMA user_version", "");
	if (rc < 0)
		return rc;
	rc = db_step(st, s);
	if (rc == 0)
		*version = sqlite3_column_int(s, 0);
	else if (rc == 1)
		rc = pkguard_fail(st->ctx, -PKGUARD_EBACKEND,
				  "cannot read the schema version of state database '%s'",
				  st->path);
	sqlite3_finalize(s);
	return rc;
}

static int migrate_body(struct pkguard_state *st, void *arg)
{
	const int *target = arg;
	char sql[64];
	int version = 0, rc;

	/* Another pkguard may have migrated since this one looked: look again under the lock. */
	rc = db_schema_version(st, &version);
	if (rc < 0 || version >= *target)
		return rc;
	rc = db_exec_script(st, migrations[*target - 1]);
	if (rc < 0)
		return rc;
	/* A PRAGMA takes no bound parameters; the number is this build's own constant. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", *target);
	rc = db_exec(st, sql, "");
	return rc < 0 ? rc : 0;
}

/* Bring the schema from version FROM up to db_schema_latest(), one transaction a step. */
static int db_migrate(struct pkguard_state *st, int from)
{
	int target, rc;

	for (target = from + 1; target <= db_schema_latest(); target++) {
		rc = db_write(st, "update the schema of", migrate_body, &target);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- opening ---- */

/* The database (first) and the files SQLite keeps beside it, which go wherever it goes. */
static const char *const file_suffixes[] = {"", "-wal", "-shm", "-journal"};
#define N_FILES (sizeof(file_suffixes) / sizeof(file_suffixes[0]))

/* Quarantine names tried (state.db.corrupt-T, -T.1, ...) before giving up. */
#define QUARANTINE_TRIES 100

/* A before B into BUF, or -ENAMETOOLONG. */
static int join(struct pkguard_state *st, char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s%s", a, b);

	if (n < 0 || (size_t)n >= size)
		return pkguard_fail(st->ctx, -ENAMETOOLONG, "name '%s%s' is too long", a, b);
	return 0;
}

/* Split the path into its directory (allocated) and last component (borrowed). */
static int split_path(struct pkguard_state *st, char **dir, const char **name)
{
	const char *slash = strrchr(st->path, '/');

	*name = slash ? slash + 1 : st->path;
	if (**name == '\0' || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0)
		return pkguard_fail(st->ctx, -EINVAL,
				    "state database path '%s' does not name a file", st->path);
	if (!slash)
		*dir = strdup(".");
	else if (slash == st->path)
		*dir = strdup("/");
	else
		*dir = strndup(st->path, (size_t)(slash - st->path));
	if (!*dir)
		return pkguard_fail(st->ctx, -ENOMEM, "cannot open state database '%s'", st->path);
	return 0;
}

/*
 * Open the database's directory, creating it 0700 if missing (the last
 * component only: pkguard does not build directory trees), and make sure
 * nobody but the caller can add, swap or remove files in it: the checks of
 * the files below rely on that. Returns the fd, or <0.
 */
static int open_dir(struct pkguard_state *st, const char *dir, struct stat *sb)
{
	bool created;
	int fd, err;

	created = mkdir(dir, 0700) == 0;
	if (!created && errno != EEXIST)
		return pkguard_fail(st->ctx, -errno, "cannot create state directory '%s'", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ELOOP)
			return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE,
					    "state directory '%s' is a symbolic link", dir);
		if (err == ENOTDIR)
			return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE,
					    "state directory '%s' is not a directory", dir);
		return pkguard_fail(st->ctx, -err, "cannot open state directory '%s'", dir);
	}
	/* mkdir() applied the umask, which may have removed the owner's bits. */
	if ((created && fchmod(fd, 0700) < 0) || fstat(fd, sb) < 0) {
		err = errno;
		close(fd);
		return pkguard_fail(st->ctx, -err, "cannot set up state directory '%s'", dir);
	}
	if (sb->st_uid != geteuid()) {
		close(fd);
		return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE,
				    "state directory '%s' belongs to uid %u, not %u", dir,
				    (unsigned)sb->st_uid, (unsigned)geteuid());
	}
	if (sb->st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return pkguard_fail(
			st->ctx, -PKGUARD_EUNSAFE,
			"state directory '%s' is writable by group or others (mode %04o)", dir,
			(unsigned)(sb->st_mode & 07777));
	}
	return fd;
}

/*
 * Check the existing file NAME of the state directory (SHOWN is its path,
 * for messages): a regular file of the caller's with one link, on the
 * directory's filesystem. Any mode but 0600 is repaired (an older version or
 * an admin may have loosened it: threats.md #14).
 *
 * fstatat() rather than open() and fstat(): it follows nothing and opens
 * nothing, so a FIFO cannot hang it; and closing a descriptor of a database
 * file would drop the POSIX locks another SQLite connection of this process
 * holds on it (threats.md #4). Returns 0 with *SB set, 1 if there is no such
 * file, or <0.
 */
static int check_file(struct pkguard_state *st, int dirfd, const struct stat *dir, const char *name,
		      const char *shown, struct stat *sb)
{
	mode_t mode;

	if (fstatat(dirfd, name, sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 1;
		return pkguard_fail(st->ctx, -errno, "cannot stat '%s'", shown);
	}
	if (S_ISLNK(sb->st_mode))
		return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE, "'%s' is a symbolic link", shown);
	if (!S_ISREG(sb->st_mode))
		return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE, "'%s' is not a regular file", shown);
	if (sb->st_uid != geteuid())
		return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE, "'%s' belongs to uid %u, not %u",
				    shown, (unsigned)sb->st_uid, (unsigned)geteuid());
	if (sb->st_nlink != 1)
		return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE, "'%s' has %ju links", shown,
				    (uintmax_t)sb->st_nlink);
	if (sb->st_dev != dir->st_dev)
		return pkguard_fail(st->ctx, -PKGUARD_EUNSAFE,
				    "'%s' is not on the filesystem of its directory", shown);
	mode = sb->st_mode & 07777;
	if (mode != 0600) {
		/* By name: it was checked just now, in a directory only the caller can change. */
		if (fchmodat(dirfd, name, 0600, 0) < 0)
			return pkguard_fail(st->ctx, -errno, "cannot set the mode of '%s'", shown);
		pkguard_log(st->ctx, PKGUARD_LOG_WARN, "'%s' had mode %04o: set it to 0600", shown,
			    (unsigned)mode);
	}
	return 0;
}

/*
 * Create the database file 0600 before SQLite sees it: SQLite itself would
 * create it 0644 whatever the umask (threats.md #14). O_EXCL|O_NOFOLLOW: nothing
 * already there, link or not, is followed or reused. SQLite gives the -wal
 * and -shm it creates later the database's mode, also under umask 000.
 * Returns 0, -EEXIST (without a message) if the name is taken, or <0.
 */
static int create_file(struct pkguard_state *st, int dirfd, const char *name)
{
	int fd, err;

	fd = openat(dirfd, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return pkguard_fail(st->ctx, -errno, "cannot create state database '%s'", st->path);
	}
	/* open() applied the umask. */
	if (fchmod(fd, 0600) < 0) {
		err = errno;
		close(fd);
		return pkguard_fail(st->ctx, -err, "cannot set the mode of '%s'", st->path);
	}
	close(fd);
	return 0;
}

/*
 * 1 if BASE and BASE followed by each side file's suffix are all free names,
 * 0 if one is taken, <0.
 */
static int names_free(struct pkguard_state *st, int dirfd, const char *base)
{
	char name[PATH_MAX];
	struct stat sb;
	size_t i;
	int rc;

	for (i = 0; i < N_FILES; i++) {
		rc = join(st, name, sizeof(name), base, file_suffixes[i]);
		if (rc < 0)
			return rc;
		if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOENT)
			return pkguard_fail(st->ctx, -errno, "cannot stat '%s'", name);
	}
	return 1;
}

/*
 * Rename NAME+SUFFIX to BASE+SUFFIX without replacing anything. Returns 0, 1
 * if there is no such file, -EEXIST (without a message) if the new name is
 * taken, or <0.
 */
static int move(struct pkguard_state *st, int dirfd, const char *name, const char *base,
		const char *suffix)
{
	char from[PATH_MAX], to[PATH_MAX];
	int rc;

	rc = join(st, from, sizeof(from), name, suffix);
	if (rc == 0)
		rc = join(st, to, sizeof(to), base, suffix);
	if (rc < 0)
		return rc;
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	/*
	 * A filesystem without RENAME_NOREPLACE: the names were found free
	 * just before, in a directory only the caller can change.
	 */
	if (errno == EINVAL && renameat(dirfd, from, dirfd, to) == 0)
		return 0;
	if (errno == ENOENT)
		return 1;
	if (errno == EEXIST)
		return -EEXIST;
	return pkguard_fail(st->ctx, -errno, "cannot move '%s%s' to '%s%s%s'", st->path, suffix,
			    st->path, base + strlen(name), suffix);
}

/*
 * Move the database NAME and its side files to NAME.corrupt-<unix time> (and
 * -wal, -shm, -journal after it), adding ".N" if that is taken. Nothing is
 * ever deleted: the admin may want to recover from them. The side files go
 * too: a WAL holds the latest transactions of its database and is useless
 * apart from it, and SQLite deletes one it finds beside an empty file. WHY
 * says what is wrong; the outcome is logged, and kept for
 * pkguard_state_open() to return 1 with. Returns 0 or <0.
 */
static int quarantine(struct pkguard_state *st, int dirfd, const char *name, const char *why)
{
	long long now = (long long)db_now();
	char base[PATH_MAX];
	unsigned k;
	size_t i;
	int n, rc;

	for (k = 0; k < QUARANTINE_TRIES; k++) {
		if (k == 0)
			n = snprintf(base, sizeof(base), "%s.corrupt-%lld", name, now);
		else
			n = snprintf(base, sizeof(base), "%s.corrupt-%lld.%u", name, now, k);
		if (n < 0 || (size_t)n >= sizeof(base))
			return pkguard_fail(st->ctx, -ENAMETOOLONG,
					    "cannot quarantine state database '%s'", st->path);
		rc = names_free(st, dirfd, base);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		rc = move(st, dirfd, name, base, file_suffixes[0]);
		if (rc == -EEXIST)
			continue;
		if (rc < 0)
			return rc;
		for (i = 1; i < N_FILES; i++) {
			rc = move(st, dirfd, name, base, file_suffixes[i]);
			if (rc == -EEXIST)
				return pkguard_fail(st->ctx, -EEXIST, "cannot move '%s%s' aside",
						    st->path, file_suffixes[i]);
			if (rc < 0)
				return rc;
		}
		snprintf(st->report, sizeof(st->report),
			 "state database '%s' %s: moved it to '%s%s' and started a fresh one",
			 st->path, why, st->path, base + strlen(name));
		pkguard_log(st->ctx, PKGUARD_LOG_ERR, "%s", st->report);
		return 0;
	}
	return pkguard_fail(st->ctx, -EEXIST,
			    "cannot quarantine state database '%s': no free name is left",
			    st->path);
}

/*
 * Make sure the database file exists and is safe, and so are the side files
 * already beside it. Returns 0 or <0.
 */
static int prepare_files(struct pkguard_state *st, int dirfd, const struct stat *dir,
			 const char *name)
{
	char side[PATH_MAX], shown[PATH_MAX];
	struct stat sb;
	size_t i;
	int rc;

	for (i = 1; i < N_FILES; i++) {
		rc = join(st, side, sizeof(side), name, file_suffixes[i]);
		if (rc == 0)
			rc = join(st, shown, sizeof(shown), st->path, file_suffixes[i]);
		if (rc == 0)
			rc = check_file(st, dirfd, dir, side, shown, &sb);
		if (rc < 0)
			return rc;
	}
	rc = check_file(st, dirfd, dir, name, st->path, &sb);
	if (rc == 1) {
		rc = create_file(st, dirfd, name);
		/* -EEXIST: another pkguard created it meanwhile; check theirs. */
		if (rc == 0 || rc == -EEXIST)
			rc = check_file(st, dirfd, dir, name, st->path, &sb);
		if (rc == 1)
			rc = pkguard_fail(st->ctx, -ENOENT,
					  "state database '%s' vanished while created", st->path);
	}
	if (rc < 0)
		return rc;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	return 0;
}

/* Under one read transaction: the schema version, then SQLite's quick integrity check. */
static int check_body(struct pkguard_state *st, void *arg)
{
	int *version = arg;
	const char *result;
	sqlite3_stmt *s;
	char *c;
	int rc;

	rc = db_schema_version(st, version);
	/* A newer pkguard's database is read no further, let alone checked or changed. */
	if (rc < 0 || *version < 0 || *version > db_schema_latest())
		return rc;
	/* quick_check(1): one line of errors is enough to condemn the file. */
	rc = db_prepare(st, &s, "PRAGMA quick_check(1)", "");
	if (rc < 0)
		return rc;
	rc = db_step(st, s);
	if (rc == 0) {
		result = (const char *)sqlite3_column_text(s, 0);
		if (!result) {
			rc = pkguard_fail(st->ctx, -ENOMEM, "cannot check state database '%s'",
					  st->path);
		} else if (strcmp(result, "ok") != 0) {
			st->corrupt = true;
			snprintf(st->corrupt_why, sizeof(st->corrupt_why), "%s", result);
			/* SQLite's report spans lines: "*** in database main ***\nPage 2: ..." */
			for (c = st->corrupt_why; *c; c++) {
				if (*c == '\n')
					*c = ' ';
			}
			rc = pkguard_fail(st->ctx, -PKGUARD_EBACKEND,
					  "state database '%s' failed its integrity check: %s",
					  st->path, st->corrupt_why);
		}
	} else if (rc == 1) {
		rc = pkguard_fail(st->ctx, -PKGUARD_EBACKEND,
				  "cannot check state database '%s': no result", st->path);
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * WAL lets readers and a writer work at once, and synchronous=NORMAL in WAL
 * mode survives a crash of the process (threats.md #16). A filesystem without
 * shared memory keeps the rollback journal: slower, and as safe with SQLite's
 * default synchronous=FULL.
 */
static int wal_body(struct pkguard_state *st, void *arg)
{
	const char *mode = NULL;
	sqlite3_stmt *s;
	bool wal = false;
	int rc;

	rc = db_prepare(st, &s, "PRAGMA journal_mode = WAL", "");
	if (rc < 0)
		return rc;
	rc = db_step(st, s);
	if (rc == 0) {
		mode = (const char *)sqlite3_column_text(s, 0);
		wal = mode && strcmp(mode, "wal") == 0;
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	if (!wal) {
		pkguard_log(st->ctx, PKGUARD_LOG_WARN,
			    "state database '%s' cannot use WAL: it keeps a rollback journal",
			    st->path);
		return 0;
	}
	rc = db_exec(st, "PRAGMA synchronous = NORMAL", "");
	return rc < 0 ? rc : 0;
}

/* Open the SQLite connection, check the file, set the connection up, migrate. */
static int connect_db(struct pkguard_state *st)
{
	int version, rc;

	st->corrupt = false;
	st->what = "open";
	rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc);
	rc = sqlite3_busy_handler(st->db, db_busy_wait, st);
	/* DEFENSIVE: no SQL, not even ours, can corrupt the file through writable_schema. */
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/*
	 * The last connection to close checkpoints the WAL into the database
	 * and deletes it. Until the file has passed its checks that must not
	 * happen: a refused or quarantined file is left as it was found.
	 */
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc);
	/* Per connection, and a no-op inside a transaction: set it here, once. */
	rc = db_exec(st, "PRAGMA foreign_keys = ON", "");
	if (rc < 0)
		return rc;
	rc = db_read(st, "check", check_body, &version);
	if (rc < 0)
		return rc;
	if (version < 0)
		return pkguard_fail(st->ctx, -PKGUARD_EBACKEND,
				    "state database '%s' has schema version %d, which no pkguard "
				    "writes: refusing to touch it",
				    st->path, version);
	if (version > db_schema_latest())
		return pkguard_fail(st->ctx, -PKGUARD_EBACKEND,
				    "state database '%s' has schema version %d, newer than this "
				    "pkguard (%d): refusing to touch it",
				    st->path, version, db_schema_latest());
	/* journal_mode cannot change inside a transaction. */
	rc = db_retry(st, "set up", NULL, wal_body, NULL);
	if (rc == 0)
		rc = db_migrate(st, version);
	if (rc < 0)
		return rc;
	rc = sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	return rc == SQLITE_OK ? 0 : db_fail(st, rc);
}

static void disconnect(struct pkguard_state *st)
{
	/* close_v2 never leaves the connection open, whatever is still prepared. */
	sqlite3_close_v2(st->db);
	st->db = NULL;
}

/* SQLite found the database corrupt: move it aside and start a fresh one. Returns 0 or <0. */
static int recover(struct pkguard_state *st, int dirfd, const struct stat *dir, const char *name)
{
	char why[sizeof(st->corrupt_why) + 16];
	struct stat sb;
	int rc;

	snprintf(why, sizeof(why), "is corrupt (%s)", st->corrupt_why);
	disconnect(st);
	/*
	 * Another pkguard that found the same corruption may have moved the
	 * file and created a fresh one already: that one is left alone.
	 */
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_dev == st->dev &&
	    sb.st_ino == st->ino) {
		rc = quarantine(st, dirfd, name, why);
		if (rc < 0)
			return rc;
	}
	rc = prepare_files(st, dirfd, dir, name);
	if (rc < 0)
		return rc;
	return connect_db(st);
}

int pkguard_state_open(struct pkguard_ctx *ctx, const char *path, struct pkguard_state **out)
{
	struct pkguard_state *st;
	struct stat dir_sb;
	const char *name;
	char *dir = NULL;
	int dirfd = -1, rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return pkguard_fail(ctx, -ENOMEM, "cannot open state database '%s'", path);
	st->ctx = ctx;
	st->path = strdup(path);
	if (!st->path) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot open state database '%s'", path);
		goto out;
	}
	rc = split_path(st, &dir, &name);
	if (rc < 0)
		goto out;
	rc = open_dir(st, dir, &dir_sb);
	if (rc < 0)
		goto out;
	dirfd = rc;
	rc = prepare_files(st, dirfd, &dir_sb, name);
	if (rc < 0)
		goto out;
	rc = connect_db(st);
	if (rc < 0 && st->corrupt)
		rc = recover(st, dirfd, &dir_sb, name);
	if (rc < 0)
		goto out;
	/*
	 * The report goes into the context only now that the fresh database
	 * is ready: a busy lock retried on the way records a message too.
	 */
	rc = st->report[0] ? pkguard_fail(ctx, 1, "%s", st->report) : 0;
	*out = st;
	st = NULL;
out:
	if (dirfd >= 0)
		close(dirfd);
	free(dir);
	pkguard_state_close(st);
	return rc;
}

void pkguard_state_close(struct pkguard_state *st)
{
	if (!st)
		return;
	disconnect(st);
	free(st->path);
	free(st);
}

/* Escape process-controlled text S (NULL stays NULL) into *OUT, freed by the caller. */
static int escape_opt(struct pkguard_state *st, const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = pkguard_escape(s, strlen(s));
	if (!*out)
		return pkguard_fail(st->ctx, -ENOMEM, "cannot %s state database '%s'", st->what,
				    st->path);
	return 0;
}

/* ---- runs ---- */

int pkguard_state_run_begin(struct pkguard_state *st, const struct pkguard_run_info *info,
			    int64_t *run_id)
{
	int rc;

	rc = db_write_exec(st, "record a run in",
			   "INSERT INTO runs (started, entry, backend, root) VALUES (?, ?, ?, ?)",
			   "ittt", db_now(), info->entry, info->backend, info->root);
	if (rc < 0)
		return rc;
	/* The connection's last insert: that of the attempt that committed. */
	*run_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int pkguard_state_run_end(struct pkguard_state *st, int64_t run_id, const char *verdict,
			  const char *error)
{
	int rc;

	rc = db_write_exec(st, "end a run in",
			   "UPDATE runs SET finished = ?, verdict = ?, error = ? WHERE id = ?",
			   "itti", db_now(), verdict, error, run_id);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return pkguard_fail(st->ctx, -ENOENT, "no run %lld in state database '%s'",
				    (long long)run_id, st->path);
	return 0;
}

int pkguard_state_add_target(struct pkguard_state *st, int64_t run_id,
			     const struct pkguard_state_target *t)
{
	int rc;

	rc = db_write_exec(st, "record a target in",
			   "INSERT INTO targets (run_id, name, old_version, new_version, action,"
			   " origin, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
			   "itttttt", run_id, t->name, t->old_version, t->new_version, t->action,
			   t->origin, t->detail);
	return rc < 0 ? rc : 0;
}

int pkguard_state_add_finding(struct pkguard_state *st, int64_t run_id,
			      const struct pkguard_state_finding *f)
{
	char *comm = NULL, *file = NULL;
	int rc;

	st->what = "record a finding in";
	rc = escape_opt(st, f->comm, &comm);
	if (rc == 0)
		rc = escape_opt(st, f->file, &file);
	if (rc < 0)
		goto out;
	rc = db_write_exec(
		st, "record a finding in",
		"INSERT INTO findings (run_id, package, pid, start_time, uid, comm, unit,"
		" reason, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"itiiitttt", run_id, f->package, (int64_t)f->pid, (int64_t)f->start_time,
		(int64_t)f->uid, comm, f->unit, f->reason, file);
	if (rc > 0)
		rc = 0;
out:
	free(comm);
	free(file);
	return rc;
}

int pkguard_state_add_event(struct pkguard_state *st, int64_t run_id, const char *level,
			    const char *message)
{
	int rc;

	rc = db_write_exec(st, "record an event in",
			   "INSERT INTO events (run_id, time, level, message) VALUES (?, ?, ?, ?)",
			   "iitt", run_id, db_now(), level, message);
	return rc < 0 ? rc : 0;
}

/* ---- deferrals and holds ---- */

/* Copy column I of S into BUF; text that does not fit is an error, not cut short. */
static int copy_column(struct pkguard_state *st, sqlite3_stmt *s, int i, char *buf, size_t size)
{
	const char *text = (const char *)sqlite3_column_text(s, i);
	int n;

	if (!text)
		return pkguard_fail(st->ctx, -ENOMEM, "cannot %s state database '%s'", st->what,
				    st->path);
	n = snprintf(buf, size, "%s", text);
	if (n < 0 || (size_t)n >= size)
		return pkguard_fail(st->ctx, -ENAMETOOLONG,
				    "cannot %s state database '%s': a value is too long", st->what,
				    st->path);
	return 0;
}

/* The active deferral of PACKAGE into OUT: 0, 1 if there is none, <0. */
static int read_deferral(struct pkguard_state *st, const char *package,
			 struct pkguard_deferral *out)
{
	sqlite3_stmt *s;
	int rc;

	rc = db_prepare(st, &s,
			"SELECT package, version, first, last, count FROM deferrals"
			" WHERE package = ? AND ended IS NULL",
			"t", package);
	if (rc < 0)
		return rc;
	rc = db_step(st, s);
	if (rc == 0) {
		rc = copy_column(st, s, 0, out->package, sizeof(out->package));
		if (rc == 0)
			rc = copy_column(st, s, 1, out->version, sizeof(out->version));
		out->first = sqlite3_column_int64(s, 2);
		out->last = sqlite3_column_int64(s, 3);
		out->count = (unsigned)sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	return rc;
}

struct defer_arg {
	int64_t run_id;
	int64_t now;
	const char *package;
	const char *version;
	struct pkguard_deferral *out;
};

static int defer_body(struct pkguard_state *st, void *arg)
{
	const struct defer_arg *a = arg;
	int rc;

	/*
	 * A new candidate version replaces the one recorded ("" keeps it), but
	 * the deferral goes on with its first time and count: a stream of new
	 * versions must not reset the bound on deferring (threats.md #20).
	 */
	rc = db_exec(st,
		     "UPDATE deferrals SET last = ?, count = count + 1, last_run = ?,"
		     " version = COALESCE(NULLIF(?, ''), version)"
		     " WHERE package = ? AND ended IS NULL",
		     "iitt", a->now, a->run_id, a->version, a->package);
	if (rc == 0)
		rc = db_exec(st,
			     "INSERT INTO deferrals (package, version, first, last, count,"
			     " first_run, last_run) VALUES (?, ?, ?, ?, 1, ?, ?)",
			     "ttiiii", a->package, a->version, a->now, a->now, a->run_id,
			     a->run_id);
	if (rc < 0 || !a->out)
		return rc < 0 ? rc : 0;
	rc = read_deferral(st, a->package, a->out);
	if (rc == 1)
		return pkguard_fail(st->ctx, -PKGUARD_EINTERNAL,
				    "deferral of '%s' vanished from state database '%s'",
				    a->package, st->path);
	return rc;
}

int pkguard_state_defer(struct pkguard_state *st, int64_t run_id, const char *package,
			const char *version, struct pkguard_deferral *out)
{
	struct defer_arg a = {
		.run_id = run_id,
		.now = db_now(),
		.package = package,
		.version = version ? version : "",
		.out = out,
	};

	/* What is recorded must read back into struct pkguard_deferral whole. */
	if (strlen(package) >= sizeof(out->package) || strlen(a.version) >= sizeof(out->version))
		return pkguard_fail(st->ctx, -ENAMETOOLONG,
				    "cannot defer '%.64s...' version '%.64s'", package, a.version);
	return db_write(st, "record a deferral in", defer_body, &a);
}

struct deferral_arg {
	const char *package;
	struct pkguard_deferral *out;
};

static int deferral_body(struct pkguard_state *st, void *arg)
{
	const struct deferral_arg *a = arg;

	return read_deferral(st, a->package, a->out);
}

int pkguard_state_deferral(struct pkguard_state *st, const char *package,
			   struct pkguard_deferral *out)
{
	struct deferral_arg a = {.package = package, .out = out};

	return db_read(st, "read a deferral from", deferral_body, &a);
}

int pkguard_state_deferral_end(struct pkguard_state *st, const char *package, const char *reason)
{
	int rc;

	rc = db_write_exec(st, "end a deferral in",
			   "UPDATE deferrals SET ended = ?, end_reason = ?"
			   " WHERE package = ? AND ended IS NULL",
			   "itt", db_now(), reason, package);
	if (rc < 0)
		return rc;
	return rc == 0;
}

int pkguard_state_hold_add(struct pkguard_state *st, const char *package, const char *backend)
{
	int rc;

	/* Placed again: it keeps the time it was first placed. */
	rc = db_write_exec(st, "record a hold in",
			   "INSERT INTO holds (package, backend, placed) VALUES (?, ?, ?)"
			   " ON CONFLICT (package) DO UPDATE SET backend = excluded.backend",
			   "tti", package, backend, db_now());
	return rc < 0 ? rc : 0;
}

int pkguard_state_hold_remove(struct pkguard_state *st, const char *package)
{
	int rc;

	rc = db_write_exec(st, "forget a hold in", "DELETE FROM holds WHERE package = ?", "t",
			   package);
	if (rc < 0)
		return rc;
	return rc == 0;
}

static int hold_body(struct pkguard_state *st, void *arg)
{
	sqlite3_stmt *s;
	int rc;

	rc = db_prepare(st, &s, "SELECT 1 FROM holds WHERE package = ?", "t", (const char *)arg);
	if (rc < 0)
		return rc;
	rc = db_step(st, s);
	sqlite3_finalize(s);
	return rc;
}

int pkguard_state_hold_placed(struct pkguard_state *st, const char *package)
{
	return db_read(st, "read a hold from", hold_body, (void *)package);
}

/* ---- units stopped for an upgrade ---- */

int pkguard_state_unit_stopped(struct pkguard_state *st, int64_t run_id, const char *unit,
			       const char *manager)
{
	int rc;

	/* Stopped again while pending: it has been down since the first time. */
	rc = db_write_exec(st, "record a stopped unit in",
			   "INSERT INTO stopped_units (unit, manager, stopped, run_id)"
			   " VALUES (?, ?, ?, ?)"
			   " ON CONFLICT (unit) WHERE started IS NULL DO NOTHING",
			   "ttii", unit, manager, db_now(), run_id);
	return rc < 0 ? rc : 0;
}

int pkguard_state_unit_started(struct pkguard_state *st, const char *unit, const char *error)
{
	int rc;

	if (error)
		rc = db_write_exec(st, "record a failed start in",
				   "UPDATE stopped_units SET error = ?"
				   " WHERE unit = ? AND started IS NULL",
				   "tt", error, unit);
	else
		rc = db_write_exec(st, "record a started unit in",
				   "UPDATE stopped_units SET started = ?, error = NULL"
				   " WHERE unit = ? AND started IS NULL",
				   "it", db_now(), unit);
	return rc < 0 ? rc : 0;
}

/* ---- needs-restart ---- */

struct restart_arg {
	int64_t run_id;
	int64_t now;
	const struct pkguard_state_finding *items;
	size_t n;
};

static int restart_body(struct pkguard_state *st, void *arg)
{
	const struct restart_arg *a = arg;
	const struct pkguard_state_finding *it;
	char *comm = NULL, *file = NULL;
	sqlite3_stmt *s;
	int64_t old_max;
	size_t i;
	int rc;

	/* The rows up to OLD_MAX are the old list: consulted below, then deleted. */
	rc = db_prepare(st, &s, "SELECT COALESCE(MAX(id), 0) FROM needs_restart", "");
	if (rc < 0)
		return rc;
	rc = db_step(st, s);
	old_max = rc == 0 ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	for (i = 0; i < a->n; i++) {
		it = &a->items[i];
		rc = escape_opt(st, it->comm, &comm);
		if (rc == 0)
			rc = escape_opt(st, it->file, &file);
		/* A process listed before keeps the time it was first found. */
		if (rc == 0)
			rc = db_exec(
				st,
				"INSERT INTO needs_restart (run_id, package, pid, start_time,"
				" uid, comm, unit, file, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
				" ?7, ?8, COALESCE((SELECT MIN(since) FROM needs_restart"
				" WHERE id <= ?9 AND package = ?2 AND pid = ?3"
				" AND start_time = ?4), ?10))",
				"itiiitttii", a->run_id, it->package, (int64_t)it->pid,
				(int64_t)it->start_time, (int64_t)it->uid, comm, it->unit, file,
				old_max, a->now);
		free(comm);
		free(file);
		comm = file = NULL;
		if (rc < 0)
			return rc;
	}
	rc = db_exec(st, "DELETE FROM needs_restart WHERE id <= ?", "i", old_max);
	return rc < 0 ? rc : 0;
}

int pkguard_state_needs_restart_set(struct pkguard_state *st, int64_t run_id,
				    const struct pkguard_state_finding *items, size_t n)
{
	struct restart_arg a = {.run_id = run_id, .now = db_now(), .items = items, .n = n};

	return db_write(st, "record the needs-restart list in", restart_body, &a);
}

/* ---- overrides ---- */

int pkguard_state_override_add(struct pkguard_state *st, const char *package, uid_t by)
{
	int rc;

	rc = db_write_exec(st, "record an override in",
			   "INSERT INTO overrides (package, created, by_uid) VALUES (?, ?, ?)"
			   " ON CONFLICT (package) WHERE consumed IS NULL DO NOTHING",
			   "tii", package, db_now(), (int64_t)by);
	return rc < 0 ? rc : 0;
}

int pkguard_state_override_consume(struct pkguard_state *st, const char *package, int64_t run_id)
{
	int rc;

	rc = db_write_exec(st, "use an override in",
			   "UPDATE overrides SET consumed = ?, consumed_run = ?"
			   " WHERE package = ? AND consumed IS NULL",
			   "iit", db_now(), run_id, package);
	if (rc < 0)
		return rc;
	return rc == 0;
}

/* ---- reading ---- */

/* The column names are those state.h documents; LIMIT -1 is SQLite's "no limit". */
static const char *const list_sql[] = {
	[PKGUARD_STATE_DEFERRALS] = "SELECT package, version, first, last, count FROM deferrals"
				    " WHERE ended IS NULL ORDER BY package LIMIT ?",
	[PKGUARD_STATE_HOLDS] = "SELECT package, backend, placed FROM holds"
				" ORDER BY package LIMIT ?",
	[PKGUARD_STATE_STOPPED_UNITS] = "SELECT unit, manager, stopped, run_id, error"
					" FROM stopped_units WHERE started IS NULL"
					" ORDER BY stopped, id LIMIT ?",
	[PKGUARD_STATE_NEEDS_RESTART] = "SELECT package, pid, start_time, uid, comm, unit, file,"
					" since FROM needs_restart ORDER BY package, pid, id"
					" LIMIT ?",
	[PKGUARD_STATE_OVERRIDES] = "SELECT package, created, by_uid FROM overrides"
				    " WHERE consumed IS NULL ORDER BY package LIMIT ?",
	[PKGUARD_STATE_RUNS] = "SELECT id, started, finished, entry, backend, root, verdict, error"
			       " FROM runs ORDER BY started DESC, id DESC LIMIT ?",
	[PKGUARD_STATE_TARGETS] = "SELECT t.run_id AS run_id, t.name AS name, t.old_version AS old,"
				  " t.new_version AS new, t.action AS action,"
				  " t.origin AS origin, t.detail AS detail"
				  " FROM targets AS t JOIN runs AS r ON r.id = t.run_id"
				  " ORDER BY r.started DESC, r.id DESC, t.id LIMIT ?",
	[PKGUARD_STATE_EVENTS] = "SELECT time, run_id, level, message FROM events"
				 " ORDER BY time DESC, id DESC LIMIT ?",
};

struct list_arg {
	enum pkguard_state_list list;
	unsigned limit;
	int (*fn)(void *userdata, const struct pkguard_state_row *row);
	void *userdata;
};

static int list_body(struct pkguard_state *st, void *arg)
{
	const struct list_arg *a = arg;
	const char **names = NULL, **values = NULL;
	struct pkguard_state_row row;
	bool delivered = false;
	sqlite3_stmt *s;
	int i, n, rc;

	rc = db_prepare(st, &s, list_sql[a->list], "i", a->limit ? (int64_t)a->limit : -1);
	if (rc < 0)
		return rc;
	n = sqlite3_column_count(s);
	names = calloc((size_t)n, sizeof(*names));
	values = calloc((size_t)n, sizeof(*values));
	if (!names || !values) {
		rc = pkguard_fail(st->ctx, -ENOMEM, "cannot %s state database '%s'", st->what,
				  st->path);
		goto out;
	}
	for (i = 0; i < n; i++) {
		names[i] = sqlite3_column_name(s, i);
		if (!names[i]) {
			rc = pkguard_fail(st->ctx, -ENOMEM, "cannot %s state database '%s'",
					  st->what, st->path);
			goto out;
		}
	}
	row = (struct pkguard_state_row){.n = (size_t)n, .names = names, .values = values};
	for (;;) {
		rc = db_step(st, s);
		if (rc != 0)
			break;
		for (i = 0; i < n; i++) {
			/* The type first: sqlite3_column_text() converts the value. */
			if (sqlite3_column_type(s, i) == SQLITE_NULL) {
				values[i] = NULL;
				continue;
			}
			values[i] = (const char *)sqlite3_column_text(s, i);
			if (!values[i]) {
				rc = pkguard_fail(st->ctx, -ENOMEM, "cannot %s state database '%s'",
						  st->what, st->path);
				goto out;
			}
		}
		delivered = true;
		rc = a->fn(a->userdata, &row);
		if (rc != 0)
			goto out;
	}
	if (rc == 1)
		rc = 0;
out:
	/* Rows already handed to FN must not be handed again by a retry. */
	if (rc < 0 && delivered)
		st->retry = false;
	free(names);
	free(values);
	sqlite3_finalize(s);
	return rc;
}

int pkguard_state_list(struct pkguard_state *st, enum pkguard_state_list list, unsigned limit,
		       int (*fn)(void *userdata, const struct pkguard_state_row *row),
		       void *userdata)
{
	struct list_arg a = {.list = list, .limit = limit, .fn = fn, .userdata = userdata};

	if ((size_t)list >= sizeof(list_sql) / sizeof(list_sql[0]))
		return pkguard_fail(st->ctx, -EINVAL, "no state list %d", (int)list);
	return db_read(st, "list from", list_body, &a);
}

/* ---- pruning ---- */

static int prune_body(struct pkguard_state *st, void *arg)
{
	static const char *const sql[] = {
		/* Targets, findings and events go with their run: ON DELETE CASCADE. */
		"DELETE FROM runs WHERE started < ?",
		/* Active rows have a NULL end, which compares as neither < nor >=. */
		"DELETE FROM deferrals WHERE ended < ?",
		"DELETE FROM overrides WHERE consumed < ?",
		"DELETE FROM stopped_units WHERE started < ?",
	};
	const int64_t *cutoff = arg;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		rc = db_exec(st, sql[i], "i", *cutoff);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int pkguard_state_prune(struct pkguard_state *st, uint64_t max_age_s)
{
	int64_t cutoff;

	if (max_age_s > (uint64_t)INT64_MAX)
		max_age_s = INT64_MAX;
	cutoff = db_now() - (int64_t)max_age_s;
	return db_write(st, "prune", prune_body, &cutoff);
}
