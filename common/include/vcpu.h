/* The virtual CPU: guest registers the VMCS does not hold, the VMCS itself and exit dispatch. */
#pragma once
#include "guest_regs.h"
#include "types.h"
#include "vmx.h"
#include "vmx_exit.h"


/* What a VM exit tells the hypervisor (SDM 28.2), read once by exit_dispatch(). */
struct vm_exit {
	u32 reason; /* full exit-reason field */
	u64 qualification;
	u32 instruction_length;
	u64 guest_rip;
};

#define LAB_MAX 10

struct vcpu {
	struct guest_regs regs;
	void *vmxon_region; /* 4-KiB VMXON region (SDM 25.11.5) */
	void *vmcs;         /* 4-KiB VMCS region (SDM 25.2) */
	bool launched;      /* VMLAUNCH done: VMRESUME from now on */
	struct vm_exit exit;
	u64 exit_count[EXIT_REASON_TABLE_SIZE];
	u64 guest_entry, guest_stack; /* where the guest starts, set by the check */

	void *lab_state[LAB_MAX + 1]; /* each lab's own state: labNN(v) in its labNN.h */
};

/*
 * The world switch (vmx_switch.S). Loads the guest registers from *regs, sets HOST_RSP and
 * HOST_RIP, then executes VMRESUME if `launched`, else VMLAUNCH. Returns VMX_SUCCEED after
 * the next VM exit (guest registers saved back to *regs), or the failure status of the VM
 * entry instruction (guest registers untouched).
 */
enum vmx_status vmx_enter(struct guest_regs *regs, bool launched);

/* What an exit handler tells the run loop. */
enum exit_verdict {
	EXIT_RESUME, /* go back to the guest */
	EXIT_STOP,   /* the guest is done: leave the run loop */
};

typedef enum exit_verdict (*exit_handler)(struct vcpu *v);

/* Handles exit `reason` with `h` from now on (the last registration wins). */
void exit_register(unsigned reason, exit_handler h);
/* Gives `reason` to `h` for good: exit_register() refuses it from then on and exit_handler_for()
 * does not show it. The grader's hypercalls (VMCALL) are reserved this way; not part of the
 * lab API. */
void exit_reserve(unsigned reason, exit_handler h);
/* The handler registered for `reason`, or NULL (also for a reserved reason). */
exit_handler exit_handler_for(unsigned reason);
/* Runs `hook` before every VM entry: after each exit handled with EXIT_RESUME, and once
 * before the first entry (the harness calls vcpu_before_entry()). */
void exit_set_before_entry(void (*hook)(struct vcpu *v));
/* A failed VM entry (VMfailValid, or an exit with bit 31) also prints what `explain` says about
 * the guest state (lab 08: the real-mode rules of an unrestricted guest). */
void exit_set_entry_failure_explainer(const char *(*explain)(void));
void vcpu_before_entry(struct vcpu *v);
/* Reads the exit information and calls the handler registered for its basic reason. A failed
 * VM entry (bit 31) or an exit nobody handles is reported in words with a VMCS dump. */
enum exit_verdict exit_dispatch(struct vcpu *v);
/* Reports a VMLAUNCH/VMRESUME that did not enter the guest, dumps the VMCS, ends the run. */
void vmx_entry_failed(struct vcpu *v, enum vmx_status status) __noreturn;
/* Prints the VMCS: controls, guest state, host state, exit information. */
void vmcs_dump(void);

/* Guest general register `index` in the SDM's encoding (0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP,
 * 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15), as exit qualifications name them; RSP is in the VMCS. */
u64 guest_reg_read(struct vcpu *v, unsigned index);
void guest_reg_write(struct vcpu *v, unsigned index, u64 value);
/* A host pointer to guest linear address `gla`. Valid while the guest shares the host's page
 * tables and memory 1:1 (labs 01-06). */
void *guest_linear_to_host(struct vcpu *v, u64 gla);

/* Per-lab hooks: every lab file may register a setup with LAB_SETUP(lab, fn), run in lab
 * order after the VMCS is set up and before the first VM entry, and a finish with
 * LAB_FINISH(lab, fn), run in lab order after the guest is done. */
typedef void (*lab_hook_fn)(struct vcpu *v);
#define LAB_SETUP(lab, fn) static const lab_hook_fn lab_setup_##fn __section(".lab_setup." #lab) __used = fn
#define LAB_FINISH(lab, fn) \
	static const lab_hook_fn lab_finish_##fn __section(".lab_finish." #lab) __used = fn

/* The guest's GDT entry for `selector` (its table, index and GDTR limit come from the VMCS);
 * returns false when the selector is past the limit or points into an LDT. */
bool guest_gdt_entry(struct vcpu *v, u16 selector, u64 **entry);
/* Loads segment register `selector_field` (GUEST_ES_SELECTOR ... GUEST_GS_SELECTOR, or
 * GUEST_LDTR_SELECTOR) from the guest's GDT as a segment load would: a null selector makes it
 * unusable. Returns false when the selector cannot be loaded (past the GDT limit, not
 * present, not a code/data segment, or for LDTR not an LDT). Privilege checks are left out. */
bool guest_load_segment(struct vcpu *v, enum vmcs_field selector_field, u16 selector);
