/* Exit dispatch: one table indexed by basic exit reason, one place for what nobody handles. */
#include "kernel.h"
#include "params.h"
#include "vcpu.h"

#define EXITS_NARRATED 40 /* a verbose run prints this many exits, then stays quiet */
/* An exit storm: this many exits in a row with the same reason at the same guest RIP, or window
 * exits in a row after which nothing was injected. No check needs more than a few in a row. */
#define STORM_SAME_EXIT 2000
#define STORM_EMPTY_WINDOWS 200

static exit_handler handlers[EXIT_REASON_TABLE_SIZE];
static void (*before_entry)(struct vcpu *v);

void exit_set_before_entry(void (*hook)(struct vcpu *v)) { before_entry = hook; }

static const char *(*entry_failure_explainer)(void);

void exit_set_entry_failure_explainer(const char *(*explain)(void)) { entry_failure_explainer = explain; }

/* A lab's own reading of the guest state that a VM entry refused (lab 08's real-mode rules). */
static void explain_entry_failure(void)
{
	if (entry_failure_explainer)
		printf("VMX: the lab's check of the guest state finds: %s\n", entry_failure_explainer());
}

void vcpu_before_entry(struct vcpu *v)
{
	if (before_entry)
		before_entry(v);
}

static const char *reason_name(unsigned reason)
{
	const char *name = exit_reason_name(reason);
	return name ? name : "unknown";
}

static bool reserved[EXIT_REASON_TABLE_SIZE]; /* reasons whose handler belongs to the grader */

void exit_register(unsigned reason, exit_handler h)
{
	if (reason >= EXIT_REASON_TABLE_SIZE)
		panic("exit_register: exit reason %u is out of range", reason);
	if (reserved[reason])
		panic("exit_register: exit reason %u (%s) belongs to the grader", reason,
		      reason_name(reason));
	handlers[reason] = h;
}

void exit_reserve(unsigned reason, exit_handler h)
{
	if (reason >= EXIT_REASON_TABLE_SIZE || reserved[reason])
		panic("exit_reserve: exit reason %u is out of range or reserved already", reason);
	handlers[reason] = h;
	reserved[reason] = true;
}

exit_handler exit_handler_for(unsigned reason)
{
	return reason < EXIT_REASON_TABLE_SIZE && !reserved[reason] ? handlers[reason] : NULL;
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
	explain_entry_failure();
	vmcs_dump();
	panic("VM entry failed: %s", reason_name(basic));
}

static void __noreturn unexpected_exit(struct vcpu *v)
{
	unsigned basic = EXIT_REASON_BASIC(v->exit.reason);
	printf("VMX: unexpected VM exit: reason %u (%s), qualification 0x%lx, guest RIP 0x%lx\n", basic,
	       reason_name(basic), v->exit.qualification, v->exit.guest_rip);
	vmcs_dump();
	panic("no handler for VM exit reason %u (%s)", basic, reason_name(basic));
}

/* Ends a run that cannot make progress, naming what was seen and its likely cause. */
static void __noreturn exit_storm(struct vcpu *v, unsigned basic, unsigned count, const char *cause)
{
	printf("VMX: exit storm: %u VM exits in a row for %s (reason %u) at guest RIP 0x%lx, "
	       "qualification 0x%lx. Likely cause: %s\n",
	       count, reason_name(basic), basic, v->exit.guest_rip, v->exit.qualification, cause);
	panic("exit storm: %s at guest RIP 0x%lx", reason_name(basic), v->exit.guest_rip);
}

static bool is_window_exit(unsigned basic)
{
	return basic == EXIT_REASON_INTERRUPT_WINDOW || basic == EXIT_REASON_NMI_WINDOW;
}

/* Why the same exit comes again and again at one guest RIP. */
static const char *storm_cause(unsigned basic)
{
	if (basic == EXIT_REASON_EXCEPTION_OR_NMI || basic == EXIT_REASON_EXTERNAL_INTERRUPT ||
	    is_window_exit(basic))
		return "the event that causes this exit is never consumed or delivered";
	if (basic == EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED)
		return "every VM entry finds the VMX-preemption timer value 0 (saved at the last timer "
		       "exit): write a new slice into the field after a timer exit";
	return "the guest does not get past the instruction: GUEST_RIP is not advanced by the VM-exit "
	       "instruction length after emulating it (vmx_skip_instruction)";
}

/* The same exit again and again at one guest RIP ends the run at once, not at the deadline. */
static void storm_watch(struct vcpu *v, unsigned basic)
{
	static unsigned last_reason = ~0U, same;
	static u64 last_rip;
	same = basic == last_reason && v->exit.guest_rip == last_rip ? same + 1 : 1;
	last_reason = basic;
	last_rip = v->exit.guest_rip;
	if (same >= STORM_SAME_EXIT)
		exit_storm(v, basic, same, storm_cause(basic));
}

/* Window exits after which the next VM entry injects nothing, many times in a row: the
 * window-exiting control was left on with nothing waiting. Checked just before VM entry. */
static void window_watch(struct vcpu *v, unsigned basic)
{
	static unsigned empty;
	bool injecting = vmcs_read(VM_ENTRY_INTERRUPTION_INFORMATION) & INTR_INFO_VALID;
	empty = is_window_exit(basic) && !injecting ? empty + 1 : 0;
	if (empty >= STORM_EMPTY_WINDOWS)
		exit_storm(
			v, basic, empty,
			basic == EXIT_REASON_NMI_WINDOW
				? "NMI-window exiting stays on although no NMI is injected: turn it off "
				  "when no NMI waits (primary processor-based VM-execution controls)"
				: "interrupt-window exiting stays on although no interrupt is injected: turn "
				  "it off when no interrupt waits (primary processor-based VM-execution controls)");
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
	storm_watch(v, basic);
	enum exit_verdict verdict = handlers[basic](v);
	if (verdict == EXIT_RESUME) {
		vcpu_before_entry(v);
		window_watch(v, basic);
	}
	return verdict;
}

/* Where the SDM explains the VM-instruction error of a failed VMLAUNCH/VMRESUME. */
static const char *entry_error_explanation(void)
{
	u64 error = 0;
	vmread(VM_INSTRUCTION_ERROR, &error);
	switch (error) {
	case 4:
	case 5:
		return "SDM 31.3 (VMLAUNCH/VMRESUME): VMLAUNCH needs launch state \"clear\" "
		       "(after VMCLEAR), VMRESUME needs \"launched\" (after a VMLAUNCH)";
	case 6:
		return "SDM 31.3 (VMRESUME): VMXOFF and VMXON came between VMLAUNCH and VMRESUME";
	case 7:
		return "SDM 27.2.1 (checks on VMX controls) failed; Bochs's log names the check "
		       "(\"VMFAIL: ...\")";
	case 8:
		return "SDM 27.2.2-27.2.4 (checks on host-state fields) failed; Bochs's log names "
		       "the check (\"VMFAIL: ...\")";
	case 26:
		return "SDM 27.1: VM entry is not allowed with blocking by MOV SS in the guest "
		       "interruptibility state";
	}
	return "SDM 31.4 lists the VM-instruction error numbers; Bochs's log names the check";
}

/* SDM 27.1-27.2: VMLAUNCH/VMRESUME failed before loading any guest state. */
void vmx_entry_failed(struct vcpu *v, enum vmx_status status)
{
	vmx_report_failure(v->launched ? "VMRESUME" : "VMLAUNCH", status);
	if (status == VMX_FAIL_VALID) {
		printf("VMX: %s\n", entry_error_explanation());
		explain_entry_failure();
	}
	vmcs_dump();
	panic("VM entry failed: %s", vmx_status_name(status));
}
