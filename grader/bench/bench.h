/* The exit benchmark: what its host side (bench.c) and its guest (bench_guest.c) share. */
#pragma once
#include "guest.h"

/* Each row times this many executions of its instruction, after one untimed warm-up. Fewer
 * than the exit-storm limit (exit_dispatch.c), since every one exits at the same guest RIP. */
#define BENCH_ITERATIONS 500

/* The bench's hypercalls (VMCALL, through hypercall_extend()). */
#define HC_BENCH_FLOOR 32	/* RDI = 1: CPUID exits go to the floor handler; 0: back to the lab's */
#define HC_BENCH_ECHO 33	/* RDI = x: returns x ^ BENCH_ECHO_MIX in RAX */
#define BENCH_ECHO_MIX 0x5a5a0f0f3c3c9696UL

/* The bench's I/O port (from lab 02 on): a counter device behind the I/O bitmap. */
#define BENCH_PORT 0xbe0

/* The bench's device page (from lab 07 on): guest-physical, the one page of the first 1 GiB its
 * identity EPT leaves unmapped, so every access is an EPT violation. Nothing of the host is
 * there (mm.c's pool starts at 2 MiB). */
#define BENCH_MMIO_GPA 0x1ff000

void bench_guest(u64 nonce);
