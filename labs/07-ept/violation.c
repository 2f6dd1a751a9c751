/* Lab 07: EPT violations (exit reason 48), EPT misconfigurations (exit reason 49) and full
 * page-modification logs (exit reason 62), SDM Vol. 3C 29.3.3, 29.3.6. A violation is a guest access the EPT does not allow: here a page mapped on first
 * touch, a recorded write, or a device access to emulate. A misconfiguration is an entry the
 * processor cannot use at all. */
#include "lab.h"
#include "lab07.h"

/* An access nobody handles: say what the guest did, and stop. */
static __maybe_unused enum exit_verdict unhandled_violation(struct vcpu *v, u64 q, u64 gpa)
{
	unsigned allowed = ept_qual_allowed(q);
	printf("EPT: unhandled EPT violation: %s at guest-physical 0x%lx (guest RIP 0x%lx", ept_qual_fetch(q) ?
	       "instruction fetch" : ept_qual_write(q) ? "write" : "read", gpa, v->exit.guest_rip);
	if (ept_qual_linear_valid(q))
		printf(", linear 0x%lx", vmcs_read(GUEST_LINEAR_ADDRESS));
	printf("); the translation allowed %c%c%c\n", allowed & EPT_ACCESS_READ ? 'r' : '-',
	       allowed & EPT_ACCESS_WRITE ? 'w' : '-', allowed & EPT_ACCESS_EXECUTE ? 'x' : '-');
	return EXIT_STOP;
}

/* A first touch of a page of the demand region: back it with a fresh host page. */
static __maybe_unused enum exit_verdict map_on_demand(struct vcpu *v, u64 gpa)
{
	/* TODO 07-10
	 * SDM 29.3.3.2: the access is retried when the guest resumes, and now goes through the
	 * new entry. SDM 29.4.3 (invalidation on an EPT violation): the violation itself made
	 * the processor drop whatever it cached for this address, so a mapping added here needs
	 * no INVEPT.
	 * Do: map the 4-KiB page holding gpa to a fresh (zeroed) host page, readable, writable and
	 * executable; count it in lab07(v)->demand_pages; resume.
	 * Hint: ept_map(), page_alloc(), virt_to_phys(), SIZE_4K.
	 */
	(void)v;
	(void)gpa;
	TODO("07-10");
}

/* A write to a write-protected page: record it, then let the guest write. */
static __maybe_unused enum exit_verdict record_write(struct vcpu *v, u64 gpa)
{
	/* TODO 07-11
	 * SDM 29.3.3.2: the write did not happen; resumed, the guest writes again. Adding write
	 * permission needs no INVEPT (29.4.3, as for 07-10).
	 * Do: append the page's guest-physical address to lab07(v)->written (at most
	 * WRITE_LOG_MAX), give its leaf write permission back, resume.
	 * Hint: ept_lookup(), EPT_WRITE.
	 */
	(void)v;
	(void)gpa;
	TODO("07-11");
}

static __maybe_unused bool in_range(u64 gpa, u64 start, u64 end) { return gpa >= start && gpa < end; }

static enum exit_verdict handle_ept_violation(struct vcpu *v)
{
	/* TODO 07-9
	 * SDM 28.2.1 (Table 28-7): the exit qualification of an EPT violation says which access
	 * it was (bit 0 read, 1 write, 2 instruction fetch) and what the translation allowed (bits
	 * 5:3: read, write, execute; all 0 when an entry was not present); bit 7 says whether the
	 * guest-linear address field is valid. SDM 28.2.5: the guest-physical address is in the
	 * VMCS field GUEST_PHYSICAL_ADDRESS (GUEST_LINEAR_ADDRESS holds the linear one).
	 * Do: read the guest-physical address; a device's page (mmio_device_at) goes to
	 * mmio_emulate(); a not-present page of the demand region to map_on_demand(); a write
	 * to a readable page of the protected range to record_write(); anything else to
	 * unhandled_violation().
	 * Hint: ept_qual_write(), ept_qual_allowed(), EPT_ACCESS_READ (vmx_exit.h);
	 * in_range(); lab07(v)->demand_start ...
	 */
	(void)v;
	TODO("07-9");
}

/* SDM 29.3.3.1: whether the present entry `entry` of `level` (4 = PML4E ... 1 = PTE) is
 * misconfigured, and why. */
enum ept_misconfig ept_entry_misconfig(u64 entry, unsigned level)
{
	/* TODO 07-12
	 * SDM 29.3.3.1: an EPT misconfiguration is an entry that is present (bits 2:0 not all 0)
	 * and (a) has write without read permission (bit 1 without bit 0); (b) is execute-only
	 * (bit 2 alone) where IA32_VMX_EPT_VPID_CAP bit 0 says the processor cannot do that; (c)
	 * has a reserved bit set: bits 51:MAXPHYADDR of any entry; bits 7:3 of a PML4E; bits 6:3 of
	 * a PDPTE or PDE that references a table; bits 29:12 of a 1-GiB leaf and bits 20:12 of a
	 * 2-MiB leaf (a large page's address must be aligned); or (d) is a leaf whose memory type
	 * (bits 5:3) is 2, 3 or 7.
	 * Do: return the first that applies, in that order; EPT_ENTRY_OK for a sound entry and
	 * for a not-present one.
	 * Hint: MAXPHYADDR is CPUID_80000008_EAX_MAXPHYADDR(cpuid(0x80000008, 0).eax) (x86.h).
	 */
	(void)entry;
	(void)level;
	TODO("07-12");
}

/* Exit reason 49: find the entry the processor refused on the walk for the guest-physical
 * address, and say in words what is wrong with it. The guest cannot go on. */
static enum exit_verdict handle_ept_misconfiguration(struct vcpu *v)
{
	u64 gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	u64 *table = lab07(v)->pml4;
	for (unsigned level = EPT_LEVELS; level >= 1; level--) {
		u64 entry = table[ept_index(gpa, level)];
		enum ept_misconfig why = ept_entry_misconfig(entry, level);
		if (why != EPT_ENTRY_OK) {
			printf("EPT: misconfiguration at guest-physical 0x%lx: the level-%u entry 0x%lx has %s "
			       "(SDM 29.3.3.1)\n", gpa, level, entry, ept_misconfig_name(why));
			return EXIT_STOP;
		}
		if (!(entry & EPT_RWX) || level == 1 || (entry & EPT_LARGE_PAGE))
			break;
		table = phys_to_virt(entry & EPT_ADDRESS_MASK);
	}
	printf("EPT: misconfiguration at guest-physical 0x%lx, but no entry on its walk is "
	       "misconfigured\n", gpa);
	return EXIT_STOP;
}

/* Exit reason 62 (SDM 29.3.6): the log is full; the write that needed an entry has not
 * happened yet. Drain the log and let the guest retry. */
static enum exit_verdict handle_pml_full(struct vcpu *v)
{
	ept_pml_drain(v);
	return EXIT_RESUME;
}

static void lab07_setup(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_EPT_VIOLATION, handle_ept_violation);
	exit_register(EXIT_REASON_EPT_MISCONFIGURATION, handle_ept_misconfiguration);
	exit_register(EXIT_REASON_PAGE_MODIFICATION_LOG_FULL, handle_pml_full);
}
LAB_SETUP(07, lab07_setup);
