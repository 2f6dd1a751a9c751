/* The exit benchmark: what its host side (bench.c) and its guest (bench_guest.c) share. */
#pragma once
#include "guest.h"

/* Each row times this many executions of its instruction, after one untimed warm-up. Fewer
 * than the exit-storm limit (exit_dispatch.c), since every one exits at the same guest RIP. */
#define BENCH_ITERATIONS 500
/* The hook rows (lab 10) time fewer: each VMFUNC and each exit empties Bochs's TLB, and every
 * page walk after it is a line of bochs.log, which has a size cap (grader/bochs.py). */
#define BENCH_HOOK_ITERATIONS 100

/* The bench's hypercalls (VMCALL, through hypercall_extend()). */
#define HC_BENCH_FLOOR 32 /* RDI = 1: CPUID exits go to the floor handler; 0: back to the lab's */
#define HC_BENCH_ECHO 33  /* RDI = x: returns x ^ BENCH_ECHO_MIX in RAX */
#define BENCH_ECHO_MIX 0x5a5a0f0f3c3c9696UL

/* The bench's I/O port (from lab 02 on): a counter device behind the I/O bitmap. */
#define BENCH_PORT 0xbe0

/* The bench's device page (from lab 07 on): guest-physical, the one page of the first 1 GiB its
 * identity EPT leaves unmapped, so every access is an EPT violation. Nothing of the host is
 * there (mm.c's pool starts at 2 MiB). */
#define BENCH_MMIO_GPA 0x1ff000

/* The bench's hooked page (from lab 10 on): guest-physical, next to the device page. View 0
 * maps it read/write onto the original code, view 1 execute-only onto the patched code. */
#define BENCH_HOOK_GPA 0x1fe000
#define HC_BENCH_HOOK 34      /* RDI = BENCH_HOOK_* : how the next row's hook switches views */
#define BENCH_HOOK_OFF 0      /* #VE off: every violation exits (and is the lab's, but the hook page's) */
#define BENCH_HOOK_BY_VE 1    /* #VE on: the guest's #VE handler switches with VMFUNC */
#define BENCH_HOOK_BY_EXITS 2 /* #VE off: the bench's EPT-violation handler switches EPT_POINTER */
#define BENCH_HOOK_MUL 0x2545f4914f6cdd1dUL /* the patched code returns its argument * this */
#define BENCH_HOOK_XOR 0x0123456789abcdefUL /* the original returns its argument ^ this */

extern const u8 bench_hook_original[], bench_hook_patched[], bench_hook_end[];
void bench_ve_handler(void); /* the guest's #VE handler (bench.c) */

void bench_guest(u64 nonce);
