/* The grader's parameter sector: sector 1 of the disk image, loaded at 0x7e00 by the boot code.
 * The grader writes it into each run's copy of the image (grader/bochs.py: write_params() knows this layout). */
#pragma once
#include "types.h"

#define BOOT_PARAMS_MAGIC "VMXPARAM"

struct boot_params {
	char magic[8];
	char check[48]; /* the check to run; empty: the lab's demo check */
	u64 nonce;      /* chosen by the grader per run; guests compute with it */
	u32 lab;        /* highest lab in this image (written by the grader) */
	u32 flags;      /* BOOT_* below */
};

#define BOOT_VERBOSE 1U /* narrate stages and VM exits (make run) */
#define BOOT_TRACE 2U   /* lab 06 and up: print the guest program's instruction trace (make run TRACE=1) */

/* What the kernel reads: a copy of the sector, at an address that moves with the image's layout
 * (grader/build.py: layout_padding). kmain() takes it first thing and wipes the sector, so no
 * lab code finds the check or the nonce at a fixed address. */
extern struct boot_params boot_params;
void boot_params_take(void);
