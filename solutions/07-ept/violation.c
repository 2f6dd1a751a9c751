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
	printf("EPT: unhandled EPT violation: %s at guest-physical 0x%lx (guest RIP 0x%lx",
	       ept_qual_fetch(q)   ? "instruction fetch"
	       : ept_qual_write(q) ? "write"
				   : "read",
	       gpa, v->exit.guest_rip);
	if (ept_qual_linear_valid(q))
		printf(", linear 0x%lx", vmcs_read(GUEST_LINEAR_ADDRESS));
	printf("); the translation allowed %c%c%c\n", allowed & EPT_ACCESS_READ ? 'r' : '-',
	       allowed & EPT_ACCESS_WRITE ? 'w' : '-', allowed & EPT_ACCESS_EXECUTE ? 'x' : '-');
	return EXIT_STOP;
}

/* A first touch of a page of the demand region: back it with a fresh host page. */
static __maybe_unused enum exit_verdict map_on_demand(struct vcpu *v, u64 gpa)
{
	/* BEGIN 07-10 unused: v, gpa
	 * Achieve: the 4-KiB page holding gpa is backed by a fresh, zeroed host page of this
	 * guest's alone, readable, writable and executable, counted in lab07(v)->demand_pages; the
	 * guest then retries.
	 * SDM 29.4.3: "Because an EPT violation invalidates any mappings that would be used by the
	 * access that caused the EPT violation ..., an EPT violation will not recur if the original
	 * access is performed again, even if the INVEPT instruction is not executed."
	 * Hints: docs/labs/07-ept.md, step 07-10.
	 */
	ept_map(v, gpa & ~(SIZE_4K - 1), virt_to_phys(page_alloc()), SIZE_4K, EPT_RWX);
	lab07(v)->demand_pages++;
	return EXIT_RESUME;
	/* END 07-10 */
}

/* A write to a write-protected page: record it, then let the guest write. */
static __maybe_unused enum exit_verdict record_write(struct vcpu *v, u64 gpa)
{
	/* BEGIN 07-11 unused: v, gpa
	 * Achieve: the written page (its 4-KiB-aligned guest-physical address) is appended once to
	 * lab07(v)->written (at most WRITE_LOG_MAX), and the guest's retried write, and every later
	 * write to that page, goes through without an exit.
	 * SDM 29.4.3: "Software may use the INVEPT instruction after modifying a present EPT
	 * paging-structure entry to change any of the privilege bits 2:0 from 0 to 1. Failure to do
	 * so may cause an EPT violation that would not otherwise occur."
	 * Hints: docs/labs/07-ept.md, step 07-11.
	 */
	struct lab07_vcpu *e = lab07(v);
	unsigned level = 0;
	u64 *leaf = ept_lookup(v, gpa, &level);
	if (e->written_count < WRITE_LOG_MAX)
		e->written[e->written_count++] = gpa & ~(SIZE_4K - 1);
	*leaf |= EPT_WRITE;
	return EXIT_RESUME;
	/* END 07-11 */
}

static __maybe_unused bool in_range(u64 gpa, u64 start, u64 end) { return gpa >= start && gpa < end; }

static enum exit_verdict handle_ept_violation(struct vcpu *v)
{
	/* BEGIN 07-9 unused: v
	 * Achieve: each EPT violation goes to its owner: an access to a device's page to
	 * mmio_emulate(), a first touch (nothing present) of the demand region to map_on_demand(),
	 * a write to a readable page of the protected range to record_write(); anything else to
	 * unhandled_violation(). Pages are named by their guest-physical address, never by the
	 * guest-linear one.
	 * SDM 28.2.1 (Table 28-7), bit 1 of the exit qualification: "Set if the access causing the
	 * EPT violation was a data write."
	 * Hints: docs/labs/07-ept.md, step 07-9.
	 */
	u64 q = v->exit.qualification;
	u64 gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	struct lab07_vcpu *e = lab07(v);
	const struct mmio_device *d = mmio_device_at(gpa);
	if (d)
		return mmio_emulate(v, d, gpa);
	if (ept_qual_allowed(q) == 0 && in_range(gpa, e->demand_start, e->demand_end))
		return map_on_demand(v, gpa);
	if (ept_qual_write(q) && (ept_qual_allowed(q) & EPT_ACCESS_READ) &&
	    in_range(gpa, e->protect_start, e->protect_end))
		return record_write(v, gpa);
	return unhandled_violation(v, q, gpa);
	/* END 07-9 */
}

/* SDM 29.3.3.1: whether the present entry `entry` of `level` (4 = PML4E ... 1 = PTE) is
 * misconfigured, and why. */
enum ept_misconfig ept_entry_misconfig(u64 entry, unsigned level)
{
	/* BEGIN 07-12 unused: entry, level
	 * Achieve: why the processor would refuse the entry `entry` of `level` (4 = PML4E ... 1 =
	 * PTE): the first rule of SDM 29.3.3.1 it breaks, in the order the SDM lists them, or
	 * EPT_ENTRY_OK for a sound entry and for a not-present one. Follow the SDM even where Bochs
	 * is laxer.
	 * SDM 29.3.3.1: "An EPT misconfiguration occurs when, in the course of translating a
	 * guest-physical address, the logical processor encounters an EPT paging-structure entry
	 * that contains an unsupported value."
	 * Hints: docs/labs/07-ept.md, step 07-12.
	 */
	if (!(entry & EPT_RWX))
		return EPT_ENTRY_OK;
	if ((entry & EPT_WRITE) && !(entry & EPT_READ))
		return EPT_MISCONFIG_WRITE_WITHOUT_READ;
	if ((entry & EPT_RWX) == EPT_EXECUTE && !(rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) & EPT_CAP_EXECUTE_ONLY))
		return EPT_MISCONFIG_EXECUTE_ONLY;
	unsigned maxphyaddr = CPUID_80000008_EAX_MAXPHYADDR(cpuid(0x80000008, 0).eax);
	u64 reserved = (BIT(52) - 1) & ~(BIT(maxphyaddr) - 1);
	bool leaf = level == 1 || (level <= 3 && (entry & EPT_LARGE_PAGE));
	if (level == 4)
		reserved |= 0xf8; /* 7:3 */
	else if (!leaf)
		reserved |= 0x78; /* 6:3 */
	else if (level > 1)
		reserved |= (ept_level_size(level) - 1) & ~(SIZE_4K - 1); /* 29:12 or 20:12 */
	if (entry & reserved)
		return EPT_MISCONFIG_RESERVED_BIT;
	unsigned type = (entry & EPT_MEMORY_TYPE_MASK) >> EPT_MEMORY_TYPE_SHIFT;
	if (leaf && (type == 2 || type == 3 || type == 7))
		return EPT_MISCONFIG_MEMORY_TYPE;
	return EPT_ENTRY_OK;
	/* END 07-12 */
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
			       "(SDM 29.3.3.1)\n",
			       gpa, level, entry, ept_misconfig_name(why));
			return EXIT_STOP;
		}
		if (!(entry & EPT_RWX) || level == 1 || (entry & EPT_LARGE_PAGE))
			break;
		table = phys_to_virt(entry & EPT_ADDRESS_MASK);
	}
	printf("EPT: misconfiguration at guest-physical 0x%lx, but no entry on its walk is "
	       "misconfigured\n",
	       gpa);
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
