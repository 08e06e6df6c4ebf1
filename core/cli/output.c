/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pkguard/escape.h"

const char *esc(unsigned slot, const char *s)
{
	static struct pkguard_escslots slots;

	return pkguard_escslots(&slots, slot, s);
}

const char *user_name(uid_t uid)
{
	/* One cache entry: runs of processes tend to share a user. */
	static uid_t last_uid = (uid_t)-1;
	static char last[64];

	if (uid != last_uid)
		pkguard_user_name(uid, last, sizeof(last));
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

json_object *cli_json_process(const struct pkguard_inspection *ins, const struct pkguard_finding *f)
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
