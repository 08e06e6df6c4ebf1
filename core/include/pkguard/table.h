/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An aligned text table, as the reports print them. */
#ifndef PKGUARD_TABLE_H
#define PKGUARD_TABLE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Cells are copied, one after another into one buffer (a report may have
 * thousands of rows); process-controlled text must be escaped first.
 */
struct pkguard_table {
	size_t ncols;
	const char *const *headers;
	char *text; /* the cells, each with its NUL */
	size_t len, size;
	size_t *cells; /* each cell's offset in text, row after row */
	size_t nrows, cap;
};

void pkguard_table_init(struct pkguard_table *t, size_t ncols, const char *const *headers);

/* Add a row of NCOLS cells (NULL prints "-"). Returns 0 or -ENOMEM. */
int pkguard_table_add(struct pkguard_table *t, const char *const *row);

/* The header and the rows, each line starting with INDENT; no trailing blanks. */
void pkguard_table_print(const struct pkguard_table *t, FILE *out, const char *indent);

void pkguard_table_release(struct pkguard_table *t);

#endif
