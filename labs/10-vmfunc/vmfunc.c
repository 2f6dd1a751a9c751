/* Lab 10: VM functions, EPTP switching (SDM Vol. 3C 25.6.14, 26.5.6.3, VMFUNC in Vol. 2B). The
 * guest moves between EPT views, each a complete EPT of its own named by one entry of the EPTP
 * list, with VMFUNC and without a VM exit; only a request the processor refuses exits. */
#include "lab.h"
#include "lab02.h"
#include "lab07.h"
#include "lab10.h"

/* Turns VM function 0 on, with the vCPU's current EPT (lab 07) as view 0. */
void vmfunc_enable(struct vcpu *v)
{
	/* TODO 10-1
	 * Achieve: the guest can switch EPTs with VMFUNC (EPTP switching) without a VM exit, among
	 * the views of an EPTP list (lab10(v)->eptp_list) whose entry 0 is the EPT it runs on now
	 * (view 0, lab07(v)->pml4), starting at EPTP index 0. A processor that lacks VM functions or
	 * EPTP switching is refused with a message that names what is missing.
	 * SDM 26.5.6.3: "EPTP switching is VM function 0. This VM function allows software in VMX
	 * non-root operation to load a new value for the EPT pointer (EPTP), thereby establishing a
	 * different EPT paging-structure hierarchy"
	 * Hints: docs/labs/10-vmfunc.md, step 10-1.
	 */
	(void)v;
	TODO("10-1");
}

/* A copy of the paging structure `table` at `level` and of every table below it (the leaves'
 * host pages are shared, not copied). */
static __maybe_unused u64 *copy_tables(const u64 *table, unsigned level)
{
	u64 *copy = page_alloc();
	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		copy[i] = table[i];
		bool leaf = level == 1 || (table[i] & EPT_LARGE_PAGE);
		if ((table[i] & EPT_RWX) && !leaf)
			copy[i] = (table[i] & ~EPT_ADDRESS_MASK) |
				  virt_to_phys(
					  copy_tables(phys_to_virt(table[i] & EPT_ADDRESS_MASK), level - 1));
	}
	return copy;
}

/* A new view: a copy of view 0 as it is now, in the next entry of the EPTP list; its index. */
unsigned ept_view_add(struct vcpu *v)
{
	/* TODO 10-2
	 * Achieve: a new view, a complete EPT equal to view 0 as it is now, which can then change
	 * without changing view 0; the next entry of the EPTP list names it with an EPT pointer VMFUNC
	 * accepts, and the function returns that entry's index (view_pml4[] and views kept up to date).
	 * SDM 26.5.6.3: "If the selected entry is a valid EPTP value (it would not cause VM entry to
	 * fail ...), it is stored in the EPTP field of the current VMCS and is used for subsequent
	 * accesses using guest-physical addresses."
	 * Hints: docs/labs/10-vmfunc.md, step 10-2.
	 */
	(void)v;
	TODO("10-2");
}

/* Maps one 4-KiB page in view `view` only: guest-physical gpa to host-physical hpa. */
void ept_view_map(struct vcpu *v, unsigned view, u64 gpa, u64 hpa, u64 permissions)
{
	/* TODO 10-3
	 * Achieve: in view `view` only, guest-physical gpa maps the 4-KiB page at hpa with
	 * `permissions`; a view that does not exist is refused; lab07(v)->pml4 is what it was before,
	 * so lab 07's handlers keep working on view 0.
	 * SDM 26.5 (translation of guest-physical addresses using EPT): "guest-physical addresses are
	 * translated by traversing a set of EPT paging structures to produce physical addresses that are
	 * used to access memory."
	 * Hints: docs/labs/10-vmfunc.md, step 10-3.
	 */
	(void)v;
	(void)view;
	(void)gpa;
	(void)hpa;
	(void)permissions;
	TODO("10-3");
}

/* A VMFUNC the processor refused (exit reason 59): the guest gets #UD, as for an invalid opcode. */
static enum exit_verdict handle_vmfunc(struct vcpu *v)
{
	/* TODO 10-4
	 * Achieve: a VMFUNC the processor refused reaches the guest as the #UD a processor without
	 * the function would raise, pointing at the VMFUNC; lab10(v)->vmfunc_failures counts it; the
	 * guest's view and EPTP index stay what they were.
	 * SDM 26.5.6.3: "because this structure contains 512 8-Byte entries, VMFUNC causes a VM exit if
	 * ECX >= 512". SDM Vol. 2B, VMFUNC: "#UD ... If EAX >= 64."
	 * Hints: docs/labs/10-vmfunc.md, step 10-4.
	 */
	(void)v;
	TODO("10-4");
}

static void lab10_setup(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_VMFUNC, handle_vmfunc);
}
LAB_SETUP(10, lab10_setup);
