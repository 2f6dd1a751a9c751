/* Lab 07: the EPT pointer, the EPT paging structures, INVEPT and dirty logging (SDM Vol. 3C,
 * 25.6.11, 29.3, 29.4.3) and page-modification logging (29.3.6). The guest's physical addresses go through these tables to host
 * memory; an address they do not map exits (EPT violation). */
#include "lab.h"
#include "lab07.h"

/* An EPT pointer for the PML4 table at `pml4_pa`, from what the processor offers. */
u64 ept_make_eptp(u64 pml4_pa, bool accessed_dirty)
{
	/* BEGIN 07-1 unused: pml4_pa, accessed_dirty
	 * SDM 25.6.11 (Table 25-9): EPTP bits 2:0 are the memory type of the paging structures,
	 * UC (0) or WB (6), allowed only if IA32_VMX_EPT_VPID_CAP bit 8 (UC) or 14 (WB) says so;
	 * bits 5:3 are the page-walk length minus 1 (3 for a 4-level walk, bit 6 of the MSR); bit 6
	 * enables the accessed and dirty flags (MSR bit 21); bits 11:7 stay 0; bits 51:12 are the
	 * PML4 table's physical address. SDM A.10 describes the MSR.
	 * Do: read the MSR; refuse (panic with a message naming the missing capability) a processor
	 * without a 4-level walk or WB, or without A/D when `accessed_dirty` is asked for; return
	 * the EPTP with WB, walk length 4 and bit 6 as asked.
	 * Hint: MSR_IA32_VMX_EPT_VPID_CAP, EPT_CAP_* (vmx_controls.h); EPTP_* and MEMORY_TYPE_WB
	 * (ept.h).
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
	 * SDM 25.6.2 (Table 25-7): "enable EPT" is bit 1 of the secondary processor-based
	 * controls, which count only with "activate secondary controls" (bit 31 of the primary
	 * ones). SDM 25.6.11: the EPT pointer is the VMCS field EPT_POINTER. SDM 29.3.2: the walk
	 * starts at a 4-KiB PML4 table, all of whose entries are not present at first.
	 * Do: allocate the PML4 table, keep it and its EPTP in lab07(v), write EPT_POINTER and turn
	 * on both controls (through vmx_adjust_controls(), as every lab does).
	 * Hint: ept_make_eptp(), virt_to_phys(); CPU_ACTIVATE_SECONDARY_CONTROLS, CPU2_ENABLE_EPT;
	 * MSR_IA32_VMX_PROCBASED_CTLS2.
	 */
	struct lab07_vcpu *e = lab07(v);
	e->pml4 = page_alloc();
	e->eptp = ept_make_eptp(virt_to_phys(e->pml4), accessed_dirty);
	vmcs_write(EPT_POINTER, e->eptp);
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU_ACTIVATE_SECONDARY_CONTROLS;
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
	 * SDM 29.3.2 (Tables 29-1 to 29-6): a 4-level walk uses bits 47:39, 38:30, 29:21 and 20:12
	 * of the guest-physical address to index the PML4, PDPT, PD and PT. A non-leaf entry holds
	 * the next table's address (51:12) and the access rights (bits 2:0) that apply to all it
	 * maps. A PDPTE with bit 7 (page size) maps a 1-GiB page, a PDE with bit 7 a 2-MiB page,
	 * a PTE a 4-KiB page; a leaf holds the memory type in bits 5:3. SDM 29.3.3.1: write
	 * permission without read permission is a misconfiguration, not a mapping.
	 * Do: walk from lab07(v)->pml4 down to the leaf's level (1 GiB: PDPT, 2 MiB: PD, 4 KiB:
	 * PT), allocating missing tables (their entries: the table's address, read, write and
	 * execute); write the leaf: hpa, `permissions`, memory type WB, bit 7 for a large page.
	 * Panic if gpa or hpa is not aligned to `size`, or a large leaf is in the way.
	 * Hint: ept_index(), ept_level_size(), EPT_RWX, EPT_LARGE_PAGE, EPT_MEMORY_TYPE_SHIFT,
	 * EPT_ADDRESS_MASK (ept.h); page_alloc(), phys_to_virt().
	 */
	unsigned leaf = size == SIZE_1G ? 3 : size == SIZE_2M ? 2 : 1;
	if (ept_level_size(leaf) != size || (gpa | hpa) & (size - 1))
		panic("ept_map: gpa 0x%lx, hpa 0x%lx, size 0x%lx: not a page size, or not aligned",
		      gpa, hpa, size);
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
	 * SDM 29.3.2: an entry is present when any of bits 2:0 is set; the walk ends at a PTE, or
	 * earlier at a PDPTE or PDE whose bit 7 is set.
	 * Do: walk as the processor does and return the leaf (or NULL).
	 * Hint: the same loop as ept_map(), without allocating.
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
	 * SDM 29.4.3 and 31.3 (INVEPT): the processor may cache translations derived from the
	 * EPT; software that makes an entry less permissive, points it elsewhere or clears an
	 * A/D flag must invalidate them. Single-context INVEPT (type 1) drops those of one EPTP,
	 * all-context (type 2) those of every EPTP; IA32_VMX_EPT_VPID_CAP bits 20, 25 and 26 say
	 * whether INVEPT and each type exist.
	 * Do: single-context for lab07(v)->eptp when offered, else all-context; panic with a
	 * message when neither is, or when INVEPT fails.
	 * Hint: invept() (vmx.h), EPT_CAP_INVEPT*, vmx_status_name().
	 */
	u64 cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	if (!(cap & EPT_CAP_INVEPT))
		panic("EPT: IA32_VMX_EPT_VPID_CAP[20] is 0: no INVEPT");
	enum invept_type type = cap & EPT_CAP_INVEPT_SINGLE_CONTEXT ? INVEPT_SINGLE_CONTEXT :
				cap & EPT_CAP_INVEPT_ALL_CONTEXT ? INVEPT_ALL_CONTEXT : 0;
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
	 * SDM 29.3.3.2: a write to a page whose EPT leaf (or any entry above it) lacks bit 1 is an
	 * EPT violation; SDM 29.4.3: removing a permission needs INVEPT, or the processor may go
	 * on using the cached writable translation.
	 * Do: clear EPT_WRITE in the leaf of every 4-KiB page of the range (panic for a page that
	 * is not mapped by a 4-KiB leaf), remember the range in lab07(v) and empty its written
	 * list, then invalidate.
	 * Hint: ept_lookup(), ept_invalidate().
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
	 * SDM 29.3.5: with EPTP bit 6, the processor sets the accessed flag (bit 8) of every EPT
	 * entry it uses and the dirty flag (bit 9) of a leaf through which the guest writes. It
	 * never clears them; software does, and then must invalidate (29.4.3), or a cached
	 * translation lets the next write go by without setting the flag again.
	 * Do: clear the dirty flag of each page's leaf, then invalidate.
	 * Hint: ept_lookup(), EPT_DIRTY.
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
	 * SDM 29.3.5: the dirty flag of a leaf is set when the guest wrote through it.
	 * Do: return a bitmap of the pages whose leaf has the dirty flag.
	 * Hint: ept_lookup(), EPT_DIRTY, BIT().
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
	 * SDM 29.3.6: with "enable PML" (secondary control bit 17), each time the processor sets
	 * the dirty flag of an EPT leaf (0 to 1) it writes the page's guest-physical address (bits
	 * 11:0 clear) to the 4-KiB log at PML_ADDRESS, at entry GUEST_PML_INDEX, and decrements the
	 * index. It logs only when EPTP bit 6 (A/D flags) is set. An index outside 0-511 when a
	 * flag must be set makes a page-modification log-full exit (reason 62) instead. SDM
	 * 27.2.1.1: PML needs EPT, and PML_ADDRESS must be 4-KiB aligned.
	 * Do: panic with a message if the control is not offered (allowed-1 bits of
	 * IA32_VMX_PROCBASED_CTLS2) or lab07(v)->eptp lacks the A/D bit; allocate the log and a
	 * page for lab07(v)->pml_logged; write PML_ADDRESS and GUEST_PML_INDEX = 511 (the log
	 * fills from the top); add the control.
	 * Hint: vmx_controls_allowed(), CPU2_ENABLE_PML, EPTP_ACCESSED_DIRTY, PML_ENTRIES.
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
	 * SDM 29.3.6: the processor writes entry `index` and then decrements it, so after k
	 * entries the index is 511 - k and entries index + 1 .. 511 are the log. A full log
	 * (512 entries) leaves the index at 0xFFFF (it wrapped below 0): then all 512 entries are
	 * valid. Entries below index + 1 were never written by this round.
	 * Do: append the valid entries to lab07(v)->pml_logged (at most PML_ENTRIES in all), then
	 * set GUEST_PML_INDEX back to 511.
	 * Hint: the index is 16 bits; anything above 511 means "full".
	 */
	struct lab07_vcpu *e = lab07(v);
	u64 index = vmcs_read(GUEST_PML_INDEX) & 0xffff;
	unsigned first = index >= PML_ENTRIES ? 0 : (unsigned)index + 1;
	for (unsigned i = first; i < PML_ENTRIES && e->pml_logged_count < PML_ENTRIES; i++)
		e->pml_logged[e->pml_logged_count++] = e->pml_log[i];
	vmcs_write(GUEST_PML_INDEX, PML_ENTRIES - 1);
	/* END 07-16 */
}
