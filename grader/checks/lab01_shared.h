/* Lab 01 checks: the constants the guest programs (grader/checks/lab01.c) and the expectations
 * (grader/spec/lab01.py, through gradelib.C) share. One source: the spec reads them from here. */
#pragma once

/* Bochs's shutdown port, the OUT that panic() ends with (common/kernel/panic.c): the check's
 * console capture answers it with #UD, the spec finds it among Bochs's I/O exits. */
#define SHUTDOWN_PORT 0x8900

/* The first-exit guest's VMCALL(HC_DONE) carries nonce ^ this: only a working VM entry and
 * VM exit bring it to the host. */
#define FIRST_EXIT_DONE_XOR 0xfeedface12345678UL
