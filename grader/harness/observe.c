/* What the hypervisor executed that the machine does not show: every successful INVEPT, with
 * its type and EPTP (common/vmx/invept.c reports it). The checks read it; a lab file cannot. */
#include "check.h"

struct invept_record invept_seen;

void harness_observe_invept(enum invept_type type, u64 eptp)
{
	invept_seen.count++;
	invept_seen.last_type = type;
	invept_seen.last_eptp = eptp;
}
