/* Lab 07: the guest's own page walk (guest-virtual -> guest-physical, SDM Vol. 3A 5.5), each
 * table read through the EPT (guest-physical -> host-physical), and the emulation of a device
 * access that needs the instruction at the guest's RIP. */
#include "lab.h"
#include "lab07.h"

/* Translates guest-virtual `gva` with the guest's page tables (its CR3, 4-level paging); false
 * when a guest entry or a table's guest-physical page is not present. */
bool guest_virt_to_phys(struct vcpu *v, u64 gva, u64 *gpa)
{
	/* TODO 07-13
	 * Achieve: *gpa = the guest-physical address the guest's own paging (its CR3, 4-level
	 * paging with 4-KiB, 2-MiB and 1-GiB pages) gives gva; false when the walk meets a
	 * not-present entry or a table the EPT does not map.
	 * SDM 29.3.1: "When the "enable EPT" VM-execution control is 1, guest-physical addresses
	 * are those derived from the contents of control register CR3 and the guest paging
	 * structures."
	 * Hints: docs/labs/07-ept.md, step 07-13.
	 */
	(void)v;
	(void)gva;
	(void)gpa;
	TODO("07-13");
}

/* A load or store of the guest that reached device `d` at guest-physical `gpa`: do it on the
 * device, as the instruction at the guest's RIP says, and move the guest past it. */
enum exit_verdict mmio_emulate(struct vcpu *v, const struct mmio_device *d, u64 gpa)
{
	/* TODO 07-14
	 * Achieve: the guest's load or store reaches device d exactly once, with the size and value
	 * the instruction at the guest's RIP gives; a load leaves in its register what the real
	 * load would; the guest resumes after that instruction. An instruction that does not decode
	 * is reported and the guest stopped. (SDM 28.2.5 leaves the VM-exit instruction length
	 * undefined for EPT violations.)
	 * SDM Vol. 1, 3.4.1.1: "32-bit operands generate a 32-bit result, zero-extended to a 64-bit
	 * result in the destination general-purpose register."
	 * Hints: docs/labs/07-ept.md, step 07-14.
	 */
	(void)v;
	(void)d;
	(void)gpa;
	TODO("07-14");
}
