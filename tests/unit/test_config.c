/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Placeholder until the config module lands: reports "skipped". */
int main(void)
{
	return 77;
}
