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

void bench_guest(u64 nonce);
