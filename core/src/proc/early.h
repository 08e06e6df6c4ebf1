/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a scan takes from pkguard_scan_early_start() (early.c). */
#ifndef PKGUARD_PROC_EARLY_H
#define PKGUARD_PROC_EARLY_H

#include "pkguard/proc.h"
#include "proc/bpf.h"

/*
 * The BPF iterator as prepared early, waiting for it (its thread stops
 * reading ahead); NULL when EARLY did not prepare it (the context's
 * scan-mappings said no, or no thread). It stays EARLY's: every scan of the
 * run uses the one loaded program.
 */
const struct maps_bpf_prep *scan_early_bpf(struct pkguard_scan_early *early);

/*
 * The stream read ahead, once: its iterator's fd, now the caller's (-1 if
 * there is none), with what was read moved into RAW and *EOF set when the
 * stream ended. After scan_early_bpf().
 */
int scan_early_stream(struct pkguard_scan_early *early, struct buf *raw, bool *eof);

#endif
