/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "pkguard/locks.h"
#include "util/internal.h"
#include "util/parse.h"

struct token {
	const char *s;
	size_t len;
};

static bool tok_is(struct token t, const char *word)
{
	return t.len == strlen(word) && memcmp(t.s, word, t.len) == 0;
}

/* "fe:00:10978747": hex major, hex minor, decimal inode; "<none>:0" has no inode. */
static int parse_id(struct token t, struct pkguard_fileid *id)
{
	const char *p = t.s, *end = t.s + t.len;
	uint64_t maj, min, ino;

	if (t.len >= 7 && memcmp(t.s, "<none>:", 7) == 0) {
		*id = (struct pkguard_fileid){0, 0};
		return 0;
	}
	if (parse_hex(&p, end, &maj) < 0 || p >= end || *p++ != ':' ||
	    parse_hex(&p, end, &min) < 0 || p >= end || *p++ != ':' ||
	    parse_dec(&p, end, &ino) < 0 || p != end || maj > 0xfff || min > 0xfffff)
		return -PKGUARD_EPARSE;
	*id = (struct pkguard_fileid){makedev(maj, min), (ino_t)ino};
	return 0;
}

static int parse_u64_tok(struct token t, uint64_t *v)
{
	const char *p = t.s;

	if (parse_dec(&p, t.s + t.len, v) < 0 || p != t.s + t.len)
		return -PKGUARD_EPARSE;
	return 0;
}

int pkguard_lock_parse(const char *line, size_t len, struct pkguard_lock *out)
{
	struct token tok[10];
	const char *p = line, *end = line + len;
	size_t n = 0, i = 0;
	uint64_t v;
	int64_t pid;

	while (p < end && n < 10) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		tok[n].s = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		tok[n].len = (size_t)(p - tok[n].s);
		n++;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p != end)
		return -PKGUARD_EPARSE;

	memset(out, 0, sizeof(*out));
	/* "N:" ordinal */
	if (n < 1 || tok[0].len < 2 || tok[0].s[tok[0].len - 1] != ':')
		return -PKGUARD_EPARSE;
	tok[0].len--;
	if (parse_u64_tok(tok[0], &v) < 0 || v > UINT32_MAX)
		return -PKGUARD_EPARSE;
	out->ordinal = (unsigned)v;
	i = 1;
	if (i < n && tok_is(tok[i], "->")) {
		out->waiter = true;
		i++;
	}
	if (n - i != 7)
		return -PKGUARD_EPARSE;

	if (tok_is(tok[i], "POSIX"))
		out->kind = PKGUARD_LOCK_POSIX;
	else if (tok_is(tok[i], "FLOCK"))
		out->kind = PKGUARD_LOCK_FLOCK;
	else if (tok_is(tok[i], "OFDLCK"))
		out->kind = PKGUARD_LOCK_OFD;
	else if (tok_is(tok[i], "LEASE") || tok_is(tok[i], "DELEG"))
		out->kind = PKGUARD_LOCK_LEASE;
	else
		return -PKGUARD_EPARSE;
	i++;

	/* ADVISORY, MANDATORY, or for a lease its state (ACTIVE, BREAKING, BREAKER). */
	if (tok_is(tok[i], "MANDATORY"))
		out->mandatory = true;
	else if (out->kind != PKGUARD_LOCK_LEASE && !tok_is(tok[i], "ADVISORY"))
		return -PKGUARD_EPARSE;
	i++;

	if (tok_is(tok[i], "WRITE"))
		out->write = true;
	else if (!tok_is(tok[i], "READ") && !tok_is(tok[i], "UNLCK"))
		return -PKGUARD_EPARSE;
	i++;

	{
		const char *q = tok[i].s, *qend = tok[i].s + tok[i].len;
		bool neg = q < qend && *q == '-';

		if (neg)
			q++;
		if (parse_dec(&q, qend, &v) < 0 || q != qend || v > INT32_MAX)
			return -PKGUARD_EPARSE;
		pid = neg ? -(int64_t)v : (int64_t)v;
		out->pid = (pid_t)pid;
	}
	i++;

	if (parse_id(tok[i++], &out->id) < 0)
		return -PKGUARD_EPARSE;
	if (parse_u64_tok(tok[i++], &out->start) < 0)
		return -PKGUARD_EPARSE;
	if (tok_is(tok[i], "EOF"))
		out->end = PKGUARD_LOCK_EOF;
	else if (parse_u64_tok(tok[i], &out->end) < 0)
		return -PKGUARD_EPARSE;
	return 0;
}

int pkguard_locktab_parse(struct pkguard_ctx *ctx, const char *text, size_t len,
			  struct pkguard_locktab **out)
{
	struct pkguard_locktab *tab;
	const char *p = text, *end = text + len;
	size_t cap = 0;

	tab = calloc(1, sizeof(*tab));
	if (!tab)
		return pkguard_fail(ctx, -ENOMEM, "cannot read lock table");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct pkguard_lock lock;

		if (n > 0) {
			if (pkguard_lock_parse(p, n, &lock) == 0) {
				if (array_grow(&tab->locks, &cap, tab->n_locks + 1, sizeof(lock)) <
				    0) {
					pkguard_locktab_free(tab);
					return pkguard_fail(ctx, -ENOMEM, "cannot read lock table");
				}
				tab->locks[tab->n_locks++] = lock;
			} else {
				tab->n_bad++;
				pkguard_log(ctx, PKGUARD_LOG_WARN,
					    "skipping a malformed line of /proc/locks");
			}
		}
		p += n + 1;
	}
	*out = tab;
	return 0;
}

int pkguard_locktab_from_read(struct pkguard_ctx *ctx, int read_rc, const char *text, size_t len,
			      struct pkguard_locktab **out)
{
	*out = NULL;
	if (read_rc == -ENOENT)
		return pkguard_fail(ctx, -PKGUARD_ENOPROC,
				    "cannot read '/proc/locks' (procfs mounted with subset=pid?)");
	if (read_rc < 0)
		return pkguard_fail(ctx, read_rc, "cannot read '/proc/locks'");
	return pkguard_locktab_parse(ctx, text, len, out);
}

int pkguard_locktab_read(struct pkguard_ctx *ctx, struct pkguard_locktab **out)
{
	struct buf b = {0};
	int rc;

	*out = NULL;
	if (pkguard_ctx_proc_fd(ctx) < 0)
		return pkguard_fail(ctx, -PKGUARD_ENOPROC, "cannot read locks");
	rc = buf_read_at(&b, pkguard_ctx_proc_fd(ctx), "locks");
	rc = pkguard_locktab_from_read(ctx, rc, b.data, b.len, out);
	buf_release(&b);
	return rc;
}

void pkguard_locktab_free(struct pkguard_locktab *tab)
{
	if (!tab)
		return;
	free(tab->locks);
	free(tab);
}

int pkguard_fdinfo_locks(const char *text, size_t len,
			 int (*fn)(void *userdata, const struct pkguard_lock *lock), void *userdata)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > 5 && memcmp(p, "lock:", 5) == 0) {
			struct pkguard_lock lock;
			int rc = pkguard_lock_parse(p + 5, n - 5, &lock);

			if (rc < 0)
				return rc;
			rc = fn(userdata, &lock);
			if (rc)
				return rc;
		}
		p += n + 1;
	}
	return 0;
}
