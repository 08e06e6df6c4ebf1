/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parsers for the text of /proc/PID/{maps,stat,status,cgroup}. */
#include <string.h>
#include <sys/sysmacros.h>

#include "pkguard/proc.h"
#include "util/parse.h"

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

static const char *skip_field(const char *p, const char *end)
{
	while (p < end && *p != ' ')
		p++;
	return p;
}

/*
 * "7f3e0000-7f3e2000 r--s 00000000 fe:00 10979853                   /path"
 * Five fixed fields the process cannot influence, then the path text, which it
 * can: a newline in a file name shows as "\012", backslashes are not escaped,
 * and " (deleted)" may be part of a live file's name. So the text is kept as a
 * label and never decoded or split.
 */
int pkguard_maps_parse(const char *line, size_t len, struct pkguard_maps_entry *out)
{
	const char *p = line, *end = line + len;
	uint64_t maj, min, ino;

	out->range = p;
	if (parse_hex(&p, end, &out->start) < 0 || p >= end || *p++ != '-' ||
	    parse_hex(&p, end, &out->end) < 0)
		return -PKGUARD_EPARSE;
	out->range_len = (size_t)(p - line);
	if (p >= end || *p != ' ')
		return -PKGUARD_EPARSE;
	p = skip_field(skip_spaces(p, end), end); /* perms */
	p = skip_spaces(p, end);
	if (p >= end || *p == ' ')
		return -PKGUARD_EPARSE;
	p = skip_field(p, end); /* offset */
	p = skip_spaces(p, end);
	/* The device is "MAJ:MIN" in hex, at least two digits each; minors above 0xff have more. */
	if (parse_hex(&p, end, &maj) < 0 || p >= end || *p++ != ':' ||
	    parse_hex(&p, end, &min) < 0 || maj > 0xfff || min > 0xfffff)
		return -PKGUARD_EPARSE;
	if (p >= end || *p != ' ')
		return -PKGUARD_EPARSE;
	p = skip_spaces(p, end);
	if (parse_dec(&p, end, &ino) < 0)
		return -PKGUARD_EPARSE;
	if (p < end && *p != ' ')
		return -PKGUARD_EPARSE;
	out->dev = makedev(maj, min);
	out->ino = (ino_t)ino;
	/* The path is padded to a column; trailing spaces belong to it. */
	p = skip_spaces(p, end);
	out->label = p;
	out->label_len = (size_t)(end - p);
	return 0;
}

int pkguard_stat_parse(const char *text, size_t len, struct pkguard_stat *out)
{
	const char *end = text + len, *open, *close, *p;
	uint64_t v;
	size_t n;
	int field;

	open = memchr(text, '(', len);
	if (!open)
		return -PKGUARD_EPARSE;
	/* The command name may hold ')' and spaces: it ends at the last ')'. */
	close = NULL;
	for (p = end; p > open; p--) {
		if (p[-1] == ')') {
			close = p - 1;
			break;
		}
	}
	if (!close || close <= open)
		return -PKGUARD_EPARSE;
	n = (size_t)(close - open - 1);
	if (n >= sizeof(out->comm))
		n = sizeof(out->comm) - 1;
	memcpy(out->comm, open + 1, n);
	out->comm[n] = '\0';

	/* After ") ": state is field 3, flags field 9, starttime field 22 (proc(5)). */
	p = close + 1;
	if (p + 2 > end || p[0] != ' ')
		return -PKGUARD_EPARSE;
	out->state = p[1];
	p += 2;
	for (field = 4; field <= 22; field++) {
		if (p >= end || *p != ' ')
			return -PKGUARD_EPARSE;
		p++;
		if (field == 9 || field == 22) {
			if (parse_dec(&p, end, &v) < 0)
				return -PKGUARD_EPARSE;
			if (field == 9)
				out->flags = (unsigned long)v;
			else
				out->start_time = v;
		} else {
			if (p < end && *p == '-')
				p++;
			if (parse_dec(&p, end, &v) < 0)
				return -PKGUARD_EPARSE;
		}
	}
	return 0;
}

int pkguard_status_uids(const char *text, size_t len, uid_t *uid, uid_t *euid)
{
	const char *p = text, *end = text + len;
	uint64_t r, e;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end;

		if (lend - p > 4 && memcmp(p, "Uid:", 4) == 0) {
			p += 4;
			while (p < lend && (*p == '\t' || *p == ' '))
				p++;
			if (parse_dec(&p, lend, &r) < 0)
				return -PKGUARD_EPARSE;
			while (p < lend && (*p == '\t' || *p == ' '))
				p++;
			if (parse_dec(&p, lend, &e) < 0 || r > UINT32_MAX || e > UINT32_MAX)
				return -PKGUARD_EPARSE;
			*uid = (uid_t)r;
			*euid = (uid_t)e;
			return 0;
		}
		p = lend + 1;
	}
	return -PKGUARD_EPARSE;
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && memcmp(s + len - n, suffix, n) == 0;
}

/* The unit named by a cgroup path: the first component below the slices. */
static int unit_from_path(const char *p, const char *end, char *unit, size_t size)
{
	while (p < end) {
		const char *c, *cend;
		size_t n;

		while (p < end && *p == '/')
			p++;
		c = p;
		while (p < end && *p != '/')
			p++;
		cend = p;
		n = (size_t)(cend - c);
		if (n == 0)
			break;
		if (has_suffix(c, n, ".slice"))
			continue;
		if (!has_suffix(c, n, ".service") && !has_suffix(c, n, ".scope"))
			return 0;
		if (n >= size)
			return -PKGUARD_EPARSE;
		memcpy(unit, c, n);
		unit[n] = '\0';
		return 1;
	}
	return 0;
}

int pkguard_cgroup_unit(const char *text, size_t len, char *unit, size_t size)
{
	const char *p = text, *end = text + len;
	const char *unified = NULL, *unified_end = NULL, *named = NULL, *named_end = NULL;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(lend - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(lend - c1 - 1)) : NULL;

		if (!c2) {
			if (lend > p)
				return -PKGUARD_EPARSE;
		} else if (c1 - p == 1 && p[0] == '0' && c2 == c1 + 1) {
			unified = c2 + 1;
			unified_end = lend;
		} else if (c2 - c1 - 1 == 12 && memcmp(c1 + 1, "name=systemd", 12) == 0) {
			named = c2 + 1;
			named_end = lend;
		}
		p = lend + 1;
	}
	/* Hybrid hosts have both; the unified line is "/" there when systemd uses v1. */
	if (unified && unit_from_path(unified, unified_end, unit, size) == 1)
		return 1;
	if (named)
		return unit_from_path(named, named_end, unit, size);
	return 0;
}

/*
 * The path "/a/b" from the iterator's "b/a/" into PATH (SIZE bytes). Returns
 * its length, or -PKGUARD_EPARSE when cut short or too long.
 */
static int path_down(const char *up, char *path, size_t size)
{
	size_t len = strlen(up), n = 0;
	const char *end = up + len;

	if (len && up[len - 1] != '/')
		return -PKGUARD_EPARSE; /* "!": deeper than the iterator reads */
	if (len >= size)
		return -PKGUARD_EPARSE;
	/* Each "name/" from the end of UP is the next component down. */
	while (end > up) {
		const char *name = end - 1;

		while (name > up && name[-1] != '/')
			name--;
		path[n++] = '/';
		memcpy(path + n, name, (size_t)(end - 1 - name));
		n += (size_t)(end - 1 - name);
		end = name;
	}
	path[n] = '\0';
	return (int)n;
}

int pkguard_cgroup_unit_up(const char *unified, const char *systemd, char *unit, size_t size)
{
	char path[4096];
	int n, rc;

	n = path_down(unified, path, sizeof(path));
	if (n < 0)
		return n;
	/* As pkguard_cgroup_unit(): the unified cgroup, if it names a unit. */
	rc = unit_from_path(path, path + n, unit, size);
	if (rc == 1)
		return rc;
	n = path_down(systemd, path, sizeof(path));
	return n < 0 ? n : unit_from_path(path, path + n, unit, size);
}
