/* Lab 07: the guest's own page walk (guest-virtual -> guest-physical, SDM Vol. 3A 4.5), each
 * table read through the EPT (guest-physical -> host-physical), and the emulation of a device
 * access that needs the instruction at the guest's RIP. */
#include "lab.h"
#include "lab07.h"

/* Translates guest-virtual `gva` with the guest's page tables (its CR3, 4-level paging); false
 * when a guest entry or a table's guest-physical page is not present. */
bool guest_virt_to_phys(struct vcpu *v, u64 gva, u64 *gpa)
{
	/* TODO 07-13
	 * SDM 4.5 (Tables 4-14 to 4-20): CR3 bits 51:12 hold the PML4 table's physical address;
	 * bits 47:39, 38:30, 29:21 and 20:12 of the linear address index the PML4, PDPT, PD and
	 * PT. An entry is present when bit 0 is set. A PDPTE with bit 7 (PS) maps a 1-GiB page,
	 * a PDE with bit 7 a 2-MiB page (their address bits: 51:30, 51:21; bit 12 is then PAT, not
	 * address); a PTE maps a 4-KiB page. With EPT these are all guest-physical addresses: the
	 * guest's tables are in guest memory, reached through the EPT (SDM 29.3.1).
	 * Do: walk from the guest's CR3, reading each table through ept_gpa_to_host(), and give
	 * the guest-physical address.
	 * Hint: GUEST_CR3; PTE_PRESENT, PTE_PAGE_SIZE, PTE_ADDRESS_MASK (x86.h); ept_index() and
	 * ept_level_size() (ept.h) number the levels the same way.
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
	 * SDM 29.3.3.2: an EPT violation exits before the access; nothing was read or written.
	 * The exit tells the address but not the instruction: the hypervisor reads it at the
	 * guest's RIP, a guest-virtual address, through the guest's page tables and the EPT. SDM
	 * 28.2.5: the VM-exit instruction length is not defined for EPT violations, so the length
	 * comes from decoding. SDM Vol. 1, 3.4.1.1: a 32-bit load into a register zeroes bits 63:32.
	 * Do: copy up to MMIO_INSTRUCTION_MAX bytes from the guest's RIP (byte by byte through
	 * guest_virt_to_phys() and ept_gpa_to_host(): they may cross a page); decode them; a store
	 * writes the register (or immediate) to d->write(), a load writes d->read() to the register;
	 * then GUEST_RIP += the decoded length. An instruction that does not decode: print what it
	 * was and stop.
	 * Hint: mmio_decode() (mmio.h); guest_reg_read(), guest_reg_write(); the offset is
	 * gpa - d->gpa.
	 */
	(void)v;
	(void)d;
	(void)gpa;
	TODO("07-14");
}
