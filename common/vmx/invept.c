/* INVEPT (SDM 31.3), with the grader watching: a successful one is reported to the harness. */
#include "vmx.h"

void harness_observe_invept(enum invept_type type, u64 eptp); /* grader/harness/observe.c */

enum vmx_status invept(enum invept_type type, u64 eptp)
{
	struct invept_descriptor d = { eptp, 0 };
	u8 cf, zf;
	__asm__ volatile("invept %[d], %[t]; " VMX_STATUS_ASM
			 : [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [d] "m"(d), [t] "r"((u64)type)
			 : "cc", "memory");
	enum vmx_status s = vmx_status_from(cf, zf);
	if (s == VMX_SUCCEED)
		harness_observe_invept(type, eptp);
	return s;
}
