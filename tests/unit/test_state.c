/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Placeholder until the state module lands: reports "skipped". */
int main(void)
{
	return 77;
}
