/* Exit dispatch: one table indexed by basic exit reason, one place for what nobody handles. */
#include "kernel.h"
#include "params.h"
#include "vcpu.h"

#define EXITS_NARRATED 40 /* a verbose run prints this many exits, then stays quiet */

static exit_handler handlers[EXIT_REASON_TABLE_SIZE];
static void (*before_entry)(struct vcpu *v);

void exit_set_before_entry(void (*hook)(struct vcpu *v)) { before_entry = hook; }

void vcpu_before_entry(struct vcpu *v)
{
	if (before_entry)
		before_entry(v);
}

void exit_register(unsigned reason, exit_handler h)
{
	if (reason >= EXIT_REASON_TABLE_SIZE)
		panic("exit_register: exit reason %u is out of range", reason);
	handlers[reason] = h;
}

exit_handler exit_handler_for(unsigned reason)
{
	return reason < EXIT_REASON_TABLE_SIZE ? handlers[reason] : NULL;
}

static const char *reason_name(unsigned reason)
{
	const char *name = exit_reason_name(reason);
	return name ? name : "unknown";
}

/* SDM 27.8 and 28.2.1: what the exit qualification says about a failed VM entry. */
static const char *entry_failure_qualification(u64 q)
{
	switch (q) {
	case 0:
		return "no detail";
	case 2:
		return "the PDPTEs could not be loaded: a PAE-paging guest whose CR3 does not point "
		       "at valid PDPTEs (is the IA-32e mode guest entry control missing?)";
	case 3:
		return "an NMI injection was blocked";
	case 4:
		return "the VMCS link pointer is invalid";
	}
	return "reserved";
}

/* SDM 27.8: a VM entry that fails while checking or loading guest state exits with bit 31 set. */
static void __noreturn entry_failed_after_checks(struct vcpu *v)
{
	unsigned basic = EXIT_REASON_BASIC(v->exit.reason);
	printf("VMX: VM entry failed: exit reason %u (%s) with bit 31 set, exit qualification %lu (%s)\n",
	       basic, reason_name(basic), v->exit.qualification,
	       entry_failure_qualification(v->exit.qualification));
	if (basic == EXIT_REASON_VM_ENTRY_FAILURE_INVALID_GUEST_STATE)
		printf("VMX: the guest-state area breaks a check of SDM 27.3.1; Bochs's log names it "
		       "(\"VMENTER FAIL: ...\")\n");
	vmcs_dump();
	panic("VM entry failed: %s", reason_name(basic));
}

static void __noreturn unexpected_exit(struct vcpu *v)
{
	unsigned basic = EXIT_REASON_BASIC(v->exit.reason);
	printf("VMX: unexpected VM exit: reason %u (%s), qualification 0x%lx, guest RIP 0x%lx\n",
	       basic, reason_name(basic), v->exit.qualification, v->exit.guest_rip);
	vmcs_dump();
	panic("no handler for VM exit reason %u (%s)", basic, reason_name(basic));
}

static void narrate(struct vcpu *v, unsigned basic)
{
	static unsigned narrated;
	if (!(boot_params.flags & BOOT_VERBOSE) || narrated > EXITS_NARRATED)
		return;
	if (narrated++ == EXITS_NARRATED) {
		printf("VM exit: (further exits are not printed)\n");
		return;
	}
	printf("VM exit: %s (reason %u) at guest RIP 0x%lx, qualification 0x%lx, length %u, RAX 0x%lx\n",
	       reason_name(basic), basic, v->exit.guest_rip, v->exit.qualification,
	       v->exit.instruction_length, v->regs.rax);
}

enum exit_verdict exit_dispatch(struct vcpu *v)
{
	v->exit.reason = (u32)vmcs_read(EXIT_REASON);
	v->exit.qualification = vmcs_read(EXIT_QUALIFICATION);
	v->exit.instruction_length = (u32)vmcs_read(VM_EXIT_INSTRUCTION_LENGTH);
	v->exit.guest_rip = vmcs_read(GUEST_RIP);
	if (v->exit.reason & EXIT_REASON_VM_ENTRY_FAILURE)
		entry_failed_after_checks(v);
	unsigned basic = EXIT_REASON_BASIC(v->exit.reason);
	if (basic >= EXIT_REASON_TABLE_SIZE || !handlers[basic])
		unexpected_exit(v);
	v->exit_count[basic]++;
	narrate(v, basic);
	enum exit_verdict verdict = handlers[basic](v);
	if (verdict == EXIT_RESUME)
		vcpu_before_entry(v);
	return verdict;
}

/* SDM 27.1-27.2: VMLAUNCH/VMRESUME failed before loading any guest state. */
void vmx_entry_failed(struct vcpu *v, enum vmx_status status)
{
	vmx_report_failure(v->launched ? "VMRESUME" : "VMLAUNCH", status);
	if (status == VMX_FAIL_VALID)
		printf("VMX: the checks of SDM 27.2 (controls and host state) failed; Bochs's log "
		       "names the check (\"VMFAIL: ...\")\n");
	vmcs_dump();
	panic("VM entry failed: %s", vmx_status_name(status));
}
