/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <json.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pkguard/escape.h"

void table_init(struct table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->headers = headers;
}

int table_add(struct table *t, const char *const *row)
{
	size_t i;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = strdup(row[i] ? row[i] : "-");
		if (!t->cells[t->nrows * t->ncols + i]) {
			while (i--)
				free(t->cells[t->nrows * t->ncols + i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void table_print(const struct table *t, FILE *out, const char *indent)
{
	size_t *w = calloc(t->ncols, sizeof(*w));
	size_t r, c;

	if (!w)
		return;
	for (c = 0; c < t->ncols; c++)
		w[c] = width(t->headers[c]);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (r = 0; r <= t->nrows; r++) {
		size_t last = t->ncols;

		/* No padding after the last non-empty cell: no trailing blanks. */
		while (r > 0 && last > 1 && !t->cells[(r - 1) * t->ncols + last - 1][0])
			last--;
		fputs(indent, out);
		for (c = 0; c < last; c++) {
			const char *cell =
				r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];

			fputs(cell, out);
			if (c + 1 < last)
				fprintf(out, "%*s", (int)(w[c] - width(cell) + 2), "");
		}
		fputc('\n', out);
	}
	free(w);
}

void table_release(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

const char *esc(unsigned slot, const char *s)
{
	static char *bufs[8];
	char *e;

	slot %= 8;
	e = pkguard_escape(s, strlen(s));
	if (!e)
		return "?";
	free(bufs[slot]);
	bufs[slot] = e;
	return e;
}

const char *user_name(uid_t uid)
{
	/* One cache entry: runs of processes tend to share a user. */
	static uid_t last_uid = (uid_t)-1;
	static char last[64];
	struct passwd *pw;

	if (uid == last_uid)
		return last;
	pw = getpwuid(uid);
	if (pw && pw->pw_name && strlen(pw->pw_name) < sizeof(last)) {
		const char *e = esc(7, pw->pw_name);

		snprintf(last, sizeof(last), "%s", e);
	} else {
		snprintf(last, sizeof(last), "%u", (unsigned)uid);
	}
	last_uid = uid;
	return last;
}

int json_print(struct json_object *obj)
{
	const char *s;
	int rc = 0;

	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || puts(s) == EOF)
		rc = -EIO;
	json_object_put(obj);
	return rc;
}

const char *plural(char *buf, size_t size, size_t n, const char *one, const char *many)
{
	snprintf(buf, size, "%zu %s", n, n == 1 ? one : many);
	return buf;
}

static json_object *json_str(const char *s)
{
	return s ? json_object_new_string(esc(4, s)) : NULL;
}

json_object *cli_json_process(const struct inspection *ins, const struct pkguard_finding *f)
{
	const struct pkguard_proc *p = &ins->procs->procs[f->proc];
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	json_object_object_add(o, "start_time", json_object_new_uint64(p->start_time));
	json_object_object_add(o, "uid", json_object_new_int64(p->uid));
	json_object_object_add(o, "user", json_str(user_name(p->uid)));
	json_object_object_add(o, "comm", json_str(p->comm));
	json_object_object_add(o, "unit", p->unit[0] ? json_str(p->unit) : NULL);
	json_object_object_add(o, "other_mount_ns", json_object_new_boolean(p->other_mntns));
	json_object_object_add(o, "reason", json_object_new_string(pkguard_reason_name(f->reason)));
	if (f->file)
		json_object_object_add(o, "file", json_str(f->file->path));
	if (f->reason == PKGUARD_REASON_DENIED)
		json_object_object_add(o, "error",
				       json_object_new_string(pkguard_strerror(p->error)));
	return o;
}
