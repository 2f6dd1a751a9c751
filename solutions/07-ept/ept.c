/* Lab 07: the EPT pointer, the EPT paging structures, INVEPT and dirty logging (SDM Vol. 3C,
 * 25.6.11, 29.3, 29.4.3) and page-modification logging (29.3.6). The guest's physical addresses go through these tables to host
 * memory; an address they do not map exits (EPT violation). */
#include "lab.h"
#include "lab07.h"

/* An EPT pointer for the PML4 table at `pml4_pa`, from what the processor offers. */
u64 ept_make_eptp(u64 pml4_pa, bool accessed_dirty)
{
	/* BEGIN 07-1 unused: pml4_pa, accessed_dirty
	 * Achieve: the EPT pointer for the PML4 table at pml4_pa, with write-back tables, a 4-level
	 * walk and the accessed and dirty flags exactly when accessed_dirty asks for them, built
	 * only from what IA32_VMX_EPT_VPID_CAP offers; a processor that lacks one of these is
	 * refused in words.
	 * SDM 25.6.11 (Table 25-9): "Software should read the VMX capability MSR
	 * IA32_VMX_EPT_VPID_CAP (see Appendix A.10) to determine what EPT paging-structure memory
	 * types are supported."
	 * Hints: docs/labs/07-ept.md, step 07-1.
	 */
	u64 cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	if (!(cap & EPT_CAP_PAGE_WALK_4))
		panic("EPT: IA32_VMX_EPT_VPID_CAP[6] is 0: no 4-level EPT page walk");
	if (!(cap & EPT_CAP_MEMTYPE_WB))
		panic("EPT: IA32_VMX_EPT_VPID_CAP[14] is 0: write-back paging structures not supported");
	if (accessed_dirty && !(cap & EPT_CAP_ACCESSED_DIRTY))
		panic("EPT: IA32_VMX_EPT_VPID_CAP[21] is 0: no accessed and dirty flags for EPT");
	u64 eptp = (pml4_pa & EPT_ADDRESS_MASK) | MEMORY_TYPE_WB |
		   (u64)(EPT_LEVELS - 1) << EPTP_WALK_LENGTH_SHIFT;
	return accessed_dirty ? eptp | EPTP_ACCESSED_DIRTY : eptp;
	/* END 07-1 */
}

/* Gives the guest an empty guest-physical space: nothing is mapped until ept_map(). */
void ept_enable(struct vcpu *v, bool accessed_dirty)
{
	/* BEGIN 07-2 unused: v, accessed_dirty
	 * Achieve: v's guest gets an empty guest-physical space of its own, in use from its next VM
	 * entry: lab07(v)->pml4 holds the top EPT table (nothing mapped) and lab07(v)->eptp the EPT
	 * pointer the VMCS names (the grader reads both).
	 * SDM 25.6.2 (Table 25-7), "enable EPT": "If this control is 1, extended page tables (EPT)
	 * are enabled." On bit 31 of the primary controls: "If that bit is 0, VM entry and VMX
	 * non-root operation function as if all the secondary processor-based VM-execution controls
	 * were 0."
	 * Hints: docs/labs/07-ept.md, step 07-2.
	 */
	struct lab07_vcpu *e = lab07(v);
	e->pml4 = page_alloc();
	e->eptp = ept_make_eptp(virt_to_phys(e->pml4), accessed_dirty);
	vmcs_write(EPT_POINTER, e->eptp);
	u64 primary =
		vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU_ACTIVATE_SECONDARY_CONTROLS;
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)primary, MSR_IA32_VMX_PROCBASED_CTLS, "primary controls"));
	u64 secondary = vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU2_ENABLE_EPT;
	vmcs_write(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)secondary, MSR_IA32_VMX_PROCBASED_CTLS2, "secondary controls"));
	/* END 07-2 */
}

/* Maps guest-physical [gpa, gpa + size) to host-physical [hpa, hpa + size) with one leaf of
 * `size` (4 KiB, 2 MiB or 1 GiB) and `permissions` (EPT_READ | EPT_WRITE | EPT_EXECUTE). */
void ept_map(struct vcpu *v, u64 gpa, u64 hpa, u64 size, u64 permissions)
{
	/* BEGIN 07-3 unused: v, gpa, hpa, size, permissions
	 * Achieve: guest-physical [gpa, gpa + size) maps to host-physical [hpa, hpa + size) through
	 * one leaf of that size (4 KiB, 2 MiB or 1 GiB), with `permissions` and write-back memory;
	 * the tables above a leaf never take a permission away from the leaves under them; a
	 * request no leaf can express (a size that is not a page size, an unaligned address, a
	 * large leaf in the way) is refused.
	 * SDM 29.3.3.2: an EPT violation occurs when "The access is a data write and bit 1 was
	 * clear in any of the EPT paging-structure entries used to translate the guest-physical
	 * address."
	 * Hints: docs/labs/07-ept.md, step 07-3.
	 */
	unsigned leaf = size == SIZE_1G ? 3 : size == SIZE_2M ? 2 : 1;
	if (ept_level_size(leaf) != size || (gpa | hpa) & (size - 1))
		panic("ept_map: gpa 0x%lx, hpa 0x%lx, size 0x%lx: not a page size, or not aligned", gpa, hpa,
		      size);
	u64 *table = lab07(v)->pml4;
	for (unsigned level = EPT_LEVELS; level > leaf; level--) {
		u64 *entry = &table[ept_index(gpa, level)];
		if (*entry & EPT_LARGE_PAGE)
			panic("ept_map: gpa 0x%lx is inside a large page already", gpa);
		if (!(*entry & EPT_RWX))
			*entry = virt_to_phys(page_alloc()) | EPT_RWX;
		table = phys_to_virt(*entry & EPT_ADDRESS_MASK);
	}
	table[ept_index(gpa, leaf)] = hpa | permissions | (u64)MEMORY_TYPE_WB << EPT_MEMORY_TYPE_SHIFT |
				      (leaf > 1 ? EPT_LARGE_PAGE : 0);
	/* END 07-3 */
}

/* The leaf entry that maps `gpa` (its level in *level: 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB), or
 * NULL when the walk meets a not-present entry. */
u64 *ept_lookup(struct vcpu *v, u64 gpa, unsigned *level)
{
	/* BEGIN 07-4 unused: v, gpa, level
	 * Achieve: the leaf entry that maps gpa and its level in *level (1 = 4 KiB, 2 = 2 MiB, 3 =
	 * 1 GiB), found as the processor's walk finds it, or NULL at a not-present entry; nothing
	 * is allocated.
	 * SDM 29.3.2: "If bits 2:0 of an EPT paging-structure entry are all 0, the entry is not
	 * present and is used neither to reference another EPT paging-structure entry nor to
	 * produce a physical address."
	 * Hints: docs/labs/07-ept.md, step 07-4.
	 */
	u64 *table = lab07(v)->pml4;
	for (unsigned l = EPT_LEVELS; l >= 1; l--) {
		u64 *entry = &table[ept_index(gpa, l)];
		if (!(*entry & EPT_RWX))
			return NULL;
		if (l == 1 || (*entry & EPT_LARGE_PAGE)) {
			*level = l;
			return entry;
		}
		table = phys_to_virt(*entry & EPT_ADDRESS_MASK);
	}
	return NULL;
	/* END 07-4 */
}

/* A host pointer to guest-physical `gpa`, or NULL when the EPT does not map it. */
void *ept_gpa_to_host(struct vcpu *v, u64 gpa)
{
	unsigned level = 0;
	u64 *leaf = ept_lookup(v, gpa, &level);
	if (!leaf)
		return NULL;
	u64 size = ept_level_size(level);
	return phys_to_virt((*leaf & EPT_ADDRESS_MASK & ~(size - 1)) | (gpa & (size - 1)));
}

/* Drops the processor's cached translations of this guest's EPT (after a change that needs it). */
void ept_invalidate(struct vcpu *v)
{
	/* BEGIN 07-5 unused: v
	 * Achieve: the processor drops the translations it cached from this guest's EPT: only those
	 * of lab07(v)->eptp when it can, all of them otherwise; a processor without INVEPT, or an
	 * INVEPT that fails, is refused in words.
	 * SDM 31.3 (INVEPT): "Invalidates mappings in the translation lookaside buffers (TLBs) and
	 * paging-structure caches that were derived from extended page tables (EPT)."
	 * Hints: docs/labs/07-ept.md, step 07-5.
	 */
	u64 cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	if (!(cap & EPT_CAP_INVEPT))
		panic("EPT: IA32_VMX_EPT_VPID_CAP[20] is 0: no INVEPT");
	enum invept_type type = cap & EPT_CAP_INVEPT_SINGLE_CONTEXT ? INVEPT_SINGLE_CONTEXT
				: cap & EPT_CAP_INVEPT_ALL_CONTEXT  ? INVEPT_ALL_CONTEXT
								    : 0;
	if (!type)
		panic("EPT: IA32_VMX_EPT_VPID_CAP[26:25] are 0: INVEPT offers no type");
	enum vmx_status s = invept(type, lab07(v)->eptp);
	if (s != VMX_SUCCEED)
		panic("EPT: INVEPT type %d failed: %s", type, vmx_status_name(s));
	/* END 07-5 */
}

/* Takes write permission away from the 4-KiB pages of guest-physical [gpa, gpa + size); the
 * violation handler records the first write to each and gives it back. */
void ept_write_protect(struct vcpu *v, u64 gpa, u64 size)
{
	/* BEGIN 07-6 unused: v, gpa, size
	 * Achieve: from the guest's next write on, every 4-KiB page of [gpa, gpa + size) is
	 * readable but not writable, so its first write exits; lab07(v) knows the range, and the
	 * round's written list starts empty. A page not mapped by a 4-KiB leaf is refused.
	 * SDM 29.4.3: "Software should use the INVEPT instruction with the "single-context" INVEPT
	 * type after making any of the following changes to an EPT paging-structure entry ...:
	 * Changing any of the privilege bits 2:0 from 1 to 0."
	 * Hints: docs/labs/07-ept.md, step 07-6.
	 */
	struct lab07_vcpu *e = lab07(v);
	for (u64 page = gpa; page < gpa + size; page += SIZE_4K) {
		unsigned level = 0;
		u64 *leaf = ept_lookup(v, page, &level);
		if (!leaf || level != 1)
			panic("ept_write_protect: gpa 0x%lx is not mapped by a 4-KiB leaf", page);
		*leaf &= ~EPT_WRITE;
	}
	e->protect_start = gpa;
	e->protect_end = gpa + size;
	e->written_count = 0;
	ept_invalidate(v);
	/* END 07-6 */
}

/* Starts a dirty-logging phase over `pages` 4-KiB pages from guest-physical `gpa`. */
void ept_dirty_log_start(struct vcpu *v, u64 gpa, u64 pages)
{
	/* BEGIN 07-7 unused: v, gpa, pages
	 * Achieve: a dirty-logging phase starts: from now on, the EPT marks exactly the pages of
	 * the range the guest writes, and nothing before the call counts.
	 * SDM 29.4.3: INVEPT is needed after "clearing bit 9 (the dirty flag) if accessed and dirty
	 * flags for EPT will be enabled."
	 * Hints: docs/labs/07-ept.md, step 07-7.
	 */
	for (u64 i = 0; i < pages; i++) {
		unsigned level = 0;
		u64 *leaf = ept_lookup(v, gpa + i * SIZE_4K, &level);
		if (leaf)
			*leaf &= ~EPT_DIRTY;
	}
	ept_invalidate(v);
	/* END 07-7 */
}

/* The pages written since ept_dirty_log_start(): bit i for page gpa + i * 4 KiB (pages <= 64). */
u64 ept_dirty_log_collect(struct vcpu *v, u64 gpa, u64 pages)
{
	/* BEGIN 07-8 unused: v, gpa, pages
	 * Achieve: a bitmap of the pages of the range the guest wrote since ept_dirty_log_start():
	 * bit i for the page at gpa + i * 4 KiB.
	 * SDM 29.3.5: "Whenever there is a write to a guest-physical address, the processor sets
	 * the dirty flag (if it is not already set) in the EPT paging-structure entry that
	 * identifies the final physical address for the guest-physical address".
	 * Hints: docs/labs/07-ept.md, step 07-8.
	 */
	u64 bitmap = 0;
	for (u64 i = 0; i < pages && i < 64; i++) {
		unsigned level = 0;
		u64 *leaf = ept_lookup(v, gpa + i * SIZE_4K, &level);
		if (leaf && (*leaf & EPT_DIRTY))
			bitmap |= BIT(i);
	}
	return bitmap;
	/* END 07-8 */
}

/* Turns on page-modification logging: the processor appends the guest-physical address of
 * every page whose dirty flag it sets to a log the hypervisor drains. */
void ept_pml_enable(struct vcpu *v)
{
	/* BEGIN 07-15 unused: v
	 * Achieve: from the next VM entry on, the processor logs every page whose EPT dirty flag it
	 * sets into a log of lab07(v)'s (lab07(v)->pml_log), filled from its last entry down, and
	 * lab07(v)->pml_logged is a page ready to receive drained entries; a processor or an EPT
	 * pointer that cannot log is refused in words.
	 * SDM 29.3.6: "If the processor updated a dirty flag for EPT (changing it from 0 to 1), it
	 * then operates as follows: 1. The guest-physical address of the access is written to the
	 * page-modification log."
	 * Hints: docs/labs/07-ept.md, step 07-15.
	 */
	struct lab07_vcpu *e = lab07(v);
	if (!vmx_controls_allowed(CPU2_ENABLE_PML, MSR_IA32_VMX_PROCBASED_CTLS2))
		panic("EPT: IA32_VMX_PROCBASED_CTLS2 does not allow \"enable PML\" (bit 17)");
	if (!(e->eptp & EPTP_ACCESSED_DIRTY))
		panic("EPT: page-modification logging needs the EPT A/D flags (EPTP bit 6)");
	e->pml_log = page_alloc();
	e->pml_logged = page_alloc();
	e->pml_logged_count = 0;
	vmcs_write(PML_ADDRESS, virt_to_phys(e->pml_log));
	vmcs_write(GUEST_PML_INDEX, PML_ENTRIES - 1);
	u64 secondary = vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU2_ENABLE_PML;
	vmcs_write(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
		   vmx_adjust_controls((u32)secondary, MSR_IA32_VMX_PROCBASED_CTLS2, "secondary controls"));
	/* END 07-15 */
}

/* Moves the logged addresses to lab07(v)->pml_logged and empties the log. */
void ept_pml_drain(struct vcpu *v)
{
	/* BEGIN 07-16 unused: v
	 * Achieve: every address the processor logged since the last drain is appended once to
	 * lab07(v)->pml_logged (no entry it did not write this round), and the log is empty again.
	 * SDM 29.3.6: "The PML index is decremented by 1 (this may cause the value to transition
	 * from 0 to FFFFH)."
	 * Hints: docs/labs/07-ept.md, step 07-16.
	 */
	struct lab07_vcpu *e = lab07(v);
	u64 index = vmcs_read(GUEST_PML_INDEX) & 0xffff;
	unsigned first = index >= PML_ENTRIES ? 0 : (unsigned)index + 1;
	for (unsigned i = first; i < PML_ENTRIES && e->pml_logged_count < PML_ENTRIES; i++)
		e->pml_logged[e->pml_logged_count++] = e->pml_log[i];
	vmcs_write(GUEST_PML_INDEX, PML_ENTRIES - 1);
	/* END 07-16 */
}
