/* Lab 07: the guest's own page walk (guest-virtual -> guest-physical, SDM Vol. 3A 5.5), each
 * table read through the EPT (guest-physical -> host-physical), and the emulation of a device
 * access that needs the instruction at the guest's RIP. */
#include "lab.h"
#include "lab07.h"

/* Translates guest-virtual `gva` with the guest's page tables (its CR3, 4-level paging); false
 * when a guest entry or a table's guest-physical page is not present. */
bool guest_virt_to_phys(struct vcpu *v, u64 gva, u64 *gpa)
{
	/* BEGIN 07-13 unused: v, gva, gpa
	 * Achieve: *gpa = the guest-physical address the guest's own paging (its CR3, 4-level
	 * paging with 4-KiB, 2-MiB and 1-GiB pages) gives gva; false when the walk meets a
	 * not-present entry or a table the EPT does not map.
	 * SDM 29.3.1: "When the "enable EPT" VM-execution control is 1, guest-physical addresses
	 * are those derived from the contents of control register CR3 and the guest paging
	 * structures."
	 * Hints: docs/labs/07-ept.md, step 07-13.
	 */
	u64 table = vmcs_read(GUEST_CR3) & PTE_ADDRESS_MASK;
	for (unsigned level = 4; level >= 1; level--) {
		u64 *t = ept_gpa_to_host(v, table);
		if (!t)
			return false;
		u64 entry = t[ept_index(gva, level)];
		if (!(entry & PTE_PRESENT))
			return false;
		if (level == 1 || (level <= 3 && (entry & PTE_PAGE_SIZE))) {
			u64 size = ept_level_size(level);
			*gpa = (entry & PTE_ADDRESS_MASK & ~(size - 1)) | (gva & (size - 1));
			return true;
		}
		table = entry & PTE_ADDRESS_MASK;
	}
	return false;
	/* END 07-13 */
}

/* A load or store of the guest that reached device `d` at guest-physical `gpa`: do it on the
 * device, as the instruction at the guest's RIP says, and move the guest past it. */
enum exit_verdict mmio_emulate(struct vcpu *v, const struct mmio_device *d, u64 gpa)
{
	/* BEGIN 07-14 unused: v, d, gpa
	 * Achieve: the guest's load or store reaches device d exactly once, with the size and value
	 * the instruction at the guest's RIP gives; a load leaves in its register what the real
	 * load would; the guest resumes after that instruction. An instruction that does not decode
	 * is reported and the guest stopped. (SDM 28.2.5 leaves the VM-exit instruction length
	 * undefined for EPT violations.)
	 * SDM Vol. 1, 3.4.1.1: "32-bit operands generate a 32-bit result, zero-extended to a 64-bit
	 * result in the destination general-purpose register."
	 * Hints: docs/labs/07-ept.md, step 07-14.
	 */
	u8 bytes[MMIO_INSTRUCTION_MAX];
	unsigned n = 0;
	for (; n < MMIO_INSTRUCTION_MAX; n++) {
		u64 byte_gpa;
		u8 *p;
		if (!guest_virt_to_phys(v, v->exit.guest_rip + n, &byte_gpa) ||
		    !(p = ept_gpa_to_host(v, byte_gpa)))
			break;
		bytes[n] = *p;
	}
	struct mmio_instruction insn;
	if (!mmio_decode(bytes, n, &insn)) {
		printf("EPT: %s access at guest-physical 0x%lx by an instruction that does not decode "
		       "(guest RIP 0x%lx, %u bytes readable)\n",
		       d->name, gpa, v->exit.guest_rip, n);
		return EXIT_STOP;
	}
	u64 offset = gpa - d->gpa;
	if (insn.store) {
		u64 value = insn.immediate ? insn.value : guest_reg_read(v, insn.reg);
		d->write(offset, insn.size, insn.size == 4 ? (u32)value : value);
	} else {
		u64 value = d->read(offset, insn.size);
		guest_reg_write(v, insn.reg, insn.size == 4 ? (u32)value : value);
	}
	vmcs_write(GUEST_RIP, v->exit.guest_rip + insn.length);
	return EXIT_RESUME;
	/* END 07-14 */
}
