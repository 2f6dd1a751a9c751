/* The hypercall interface: the guest executes VMCALL with RAX = number, RDI, RSI = arguments.
 * The grader's VMCALL exit handler (grader/harness/facts.c) answers in RAX. */
#pragma once
#include "types.h"

enum hypercall {
	HC_REPORT = 1,    /* RDI = key (a C string), RSI = value: print a fact */
	HC_DONE = 2,      /* RDI = value: the guest program has finished; leave the run loop */
	HC_EXCEPTION = 3, /* RDI = vector, RSI = RIP: an exception the guest did not expect */
	HC_PUTS = 4,      /* RDI = a C string to print */
};

static inline u64 hypercall(u64 nr, u64 a0, u64 a1)
{
	u64 ret;
	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1) : "memory");
	return ret;
}
