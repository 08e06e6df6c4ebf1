/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/table.h"

void pkguard_table_init(struct pkguard_table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->headers = headers;
}

int pkguard_table_add(struct pkguard_table *t, const char *const *row)
{
	size_t i, n, need = 0;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		size_t *cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++)
		need += strlen(row[i] ? row[i] : "-") + 1;
	if (t->len + need > t->size) {
		size_t size = t->size ? t->size : 4096;
		char *text;

		while (size < t->len + need)
			size *= 2;
		text = realloc(t->text, size);
		if (!text)
			return -ENOMEM;
		t->text = text;
		t->size = size;
	}
	for (i = 0; i < t->ncols; i++) {
		n = strlen(row[i] ? row[i] : "-") + 1;
		memcpy(t->text + t->len, row[i] ? row[i] : "-", n);
		t->cells[t->nrows * t->ncols + i] = t->len;
		t->len += n;
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

/* N blanks on OUT (locked by the caller). */
static void pad(FILE *out, size_t n)
{
	static const char blanks[] =
		"                                                                ";

	while (n > 0) {
		size_t k = n < sizeof(blanks) - 1 ? n : sizeof(blanks) - 1;

		fwrite_unlocked(blanks, 1, k, out);
		n -= k;
	}
}

/*
 * A check of a package every process maps prints thousands of rows: the
 * stream is locked once, and cells and padding go out without formatting.
 */
void pkguard_table_print(const struct pkguard_table *t, FILE *out, const char *indent)
{
	size_t *w = calloc(t->ncols, sizeof(*w));
	size_t indent_len = strlen(indent), r, c;

	if (!w)
		return;
	for (c = 0; c < t->ncols; c++)
		w[c] = width(t->headers[c]);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			size_t cw = width(t->text + t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	}
	flockfile(out);
	for (r = 0; r <= t->nrows; r++) {
		size_t last = t->ncols;

		/* No padding after the last non-empty cell: no trailing blanks. */
		while (r > 0 && last > 1 && !t->text[t->cells[(r - 1) * t->ncols + last - 1]])
			last--;
		fwrite_unlocked(indent, 1, indent_len, out);
		for (c = 0; c < last; c++) {
			const char *cell =
				r == 0 ? t->headers[c] : t->text + t->cells[(r - 1) * t->ncols + c];

			fwrite_unlocked(cell, 1, strlen(cell), out);
			if (c + 1 < last)
				pad(out, w[c] - width(cell) + 2);
		}
		putc_unlocked('\n', out);
	}
	funlockfile(out);
	free(w);
}

void pkguard_table_release(struct pkguard_table *t)
{
	free(t->text);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
