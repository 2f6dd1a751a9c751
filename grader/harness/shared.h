/* Constants the harness (C) and the grader (Python: gradelib.SHARED) both use: one source.
 * Python reads the #define lines of this file; keep each a plain number. */
#pragma once

/* The run token on FACT lines: the upper and lower halves of nonce * TOKEN_MULTIPLIER, xored. */
#define TOKEN_MULTIPLIER 0x9e3779b97f4a7c15

/* The closing witness (witness.c): a failed VMLAUNCH whose CR3-target count Bochs logs. The
 * count is WITNESS_BASE + (nonce >> WITNESS_SHIFT) % WITNESS_RANGE. */
#define WITNESS_BASE 5
#define WITNESS_SHIFT 17
#define WITNESS_RANGE 100000

/* The parameter sector (common/include/params.h) as the grader writes it into the image. */
#define PARAMS_SECTOR_OFFSET 512
#define PARAMS_CHECK_OFFSET 8
#define PARAMS_CHECK_SIZE 48
#define PARAMS_NONCE_OFFSET 56
#define PARAMS_LAB_OFFSET 64
#define PARAMS_FLAGS_OFFSET 68
