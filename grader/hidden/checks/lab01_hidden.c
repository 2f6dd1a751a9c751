/* Hidden lab 01 check (an example): grader/hidden/ is the instructors' own, left out of the
 * student release and run only when grading with HIDDEN=1. The guest executes a nonce-derived
 * number of CPUIDs; Bochs's record must show exactly that many CPUID exits (SDM 26.1.2). */
#include "check.h"
#include "guest.h"
#include "lab.h"

static void guest_cpuid_count(u64 nonce)
{
	unsigned rounds = 2 + (nonce >> 16) % 7;
	for (unsigned i = 0; i < rounds; i++) {
		u32 a = 0, b, c = 0, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	}
	guest_report("hidden.cpuid_rounds", rounds);
}
CHECK(01, hidden_cpuid_count, "hidden-cpuid-count", .last_stage = STAGE_RUN, .guest = guest_cpuid_count);
