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
	 * SDM 25.6.2 (Table 25-7): "enable VM functions" is bit 13 of the secondary processor-based
	 * controls. SDM 25.6.14: the VM-function controls (VM_FUNCTION_CONTROLS) enable each
	 * function by its bit; bit 0 is EPTP switching, which IA32_VMX_VMFUNC (SDM A.11) must
	 * allow. EPTP switching reads the EPTP list, a 4-KiB-aligned page of 512 EPTPs whose
	 * address is EPTP_LIST_ADDRESS (SDM 27.2.1.1 checks both at VM entry). SDM 26.5.6.3: VMFUNC
	 * with ECX = i loads EPTP-list entry i into the EPT pointer and i into the EPTP index.
	 * Do: refuse (panic naming the bit) a processor without the secondary control or without
	 * EPTP switching; allocate the list, make the current EPT_POINTER its entry 0 (view 0 is
	 * lab07(v)->pml4) and EPTP_INDEX 0, write EPTP_LIST_ADDRESS, enable function 0 and the
	 * secondary control.
	 * Hint: vmx_controls_allowed() or the allowed-1 half of MSR_IA32_VMX_PROCBASED_CTLS2;
	 * MSR_IA32_VMX_VMFUNC, VMFUNC_EPTP_SWITCHING, CPU2_ENABLE_VM_FUNCTIONS, vmx_adjust_controls().
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
				  virt_to_phys(copy_tables(phys_to_virt(table[i] & EPT_ADDRESS_MASK), level - 1));
	}
	return copy;
}

/* A new view: a copy of view 0 as it is now, in the next entry of the EPTP list; its index. */
unsigned ept_view_add(struct vcpu *v)
{
	/* TODO 10-2
	 * SDM 29.3.2: the EPT pointer names the PML4 table and the walk reads every table below
	 * it, so two views that must differ in one leaf need their own copies of every table on
	 * the way to it. SDM 26.5.6.3: the EPTP VMFUNC loads must pass the VM-entry checks of an
	 * EPT pointer (27.2.1.1): memory type, walk length, reserved bits; a bad one exits.
	 * Do: panic when VIEWS_MAX views exist; copy view 0's tables (copy_tables() from its PML4),
	 * keep the copy's PML4 in view_pml4[], put its EPTP (with accessed and dirty flags as
	 * EPT_POINTER has them) into the next list entry and return that entry's index.
	 * Hint: ept_make_eptp(), EPTP_ACCESSED_DIRTY, EPT_LEVELS, virt_to_phys().
	 */
	(void)v;
	TODO("10-2");
}

/* Maps one 4-KiB page in view `view` only: guest-physical gpa to host-physical hpa. */
void ept_view_map(struct vcpu *v, unsigned view, u64 gpa, u64 hpa, u64 permissions)
{
	/* TODO 10-3
	 * SDM 29.3.2: a view's leaf is found by the walk from its own PML4 table.
	 * Do: panic for a view that does not exist; map the page with lab 07's ept_map() on the
	 * view's tables (lab07(v)->pml4 is the table ept_map() walks; view 0 is that table itself),
	 * and leave lab07(v)->pml4 as it was.
	 * Hint: lab10(v)->view_pml4[view], SIZE_4K.
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
	 * SDM 26.5.6.2 (VMFUNC exits are fault-like): a VM function that is not enabled,
	 * an EPTP-list index of 512 or more, or an entry that is not a valid EPTP makes VMFUNC
	 * exit with reason 59 instead; RIP still points at the VMFUNC, and nothing changed.
	 * VMFUNC with EAX >= 64 is #UD (SDM Vol. 2B, VMFUNC), which is what the guest would see
	 * from a processor without the function: the hypervisor reflects the refusal that way.
	 * Do: count it in lab10(v)->vmfunc_failures, inject #UD (lab 02), resume.
	 * Hint: vmx_inject_exception(), VEC_UD.
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
