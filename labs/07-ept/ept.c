/* Lab 07: the EPT pointer, the EPT paging structures, INVEPT and dirty logging (SDM Vol. 3C,
 * 25.6.11, 29.3, 29.4.3) and page-modification logging (29.3.6). The guest's physical addresses go through these tables to host
 * memory; an address they do not map exits (EPT violation). */
#include "lab.h"
#include "lab07.h"

/* An EPT pointer for the PML4 table at `pml4_pa`, from what the processor offers. */
u64 ept_make_eptp(u64 pml4_pa, bool accessed_dirty)
{
	/* TODO 07-1
	 * Achieve: the EPT pointer for the PML4 table at pml4_pa, with write-back tables, a 4-level
	 * walk and the accessed and dirty flags exactly when accessed_dirty asks for them, built
	 * only from what IA32_VMX_EPT_VPID_CAP offers; a processor that lacks one of these is
	 * refused in words.
	 * SDM 25.6.11 (Table 25-9): "Software should read the VMX capability MSR
	 * IA32_VMX_EPT_VPID_CAP (see Appendix A.10) to determine what EPT paging-structure memory
	 * types are supported."
	 * Hints: docs/labs/07-ept.md, step 07-1.
	 */
	(void)pml4_pa;
	(void)accessed_dirty;
	TODO("07-1");
}

/* Gives the guest an empty guest-physical space: nothing is mapped until ept_map(). */
void ept_enable(struct vcpu *v, bool accessed_dirty)
{
	/* TODO 07-2
	 * Achieve: v's guest gets an empty guest-physical space of its own, in use from its next VM
	 * entry: lab07(v)->pml4 holds the top EPT table (nothing mapped) and lab07(v)->eptp the EPT
	 * pointer the VMCS names (the grader reads both).
	 * SDM 25.6.2 (Table 25-7), "enable EPT": "If this control is 1, extended page tables (EPT)
	 * are enabled." On bit 31 of the primary controls: "If that bit is 0, VM entry and VMX
	 * non-root operation function as if all the secondary processor-based VM-execution controls
	 * were 0."
	 * Hints: docs/labs/07-ept.md, step 07-2.
	 */
	(void)v;
	(void)accessed_dirty;
	TODO("07-2");
}

/* Maps guest-physical [gpa, gpa + size) to host-physical [hpa, hpa + size) with one leaf of
 * `size` (4 KiB, 2 MiB or 1 GiB) and `permissions` (EPT_READ | EPT_WRITE | EPT_EXECUTE). */
void ept_map(struct vcpu *v, u64 gpa, u64 hpa, u64 size, u64 permissions)
{
	/* TODO 07-3
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
	(void)v;
	(void)gpa;
	(void)hpa;
	(void)size;
	(void)permissions;
	TODO("07-3");
}

/* The leaf entry that maps `gpa` (its level in *level: 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB), or
 * NULL when the walk meets a not-present entry. */
u64 *ept_lookup(struct vcpu *v, u64 gpa, unsigned *level)
{
	/* TODO 07-4
	 * Achieve: the leaf entry that maps gpa and its level in *level (1 = 4 KiB, 2 = 2 MiB, 3 =
	 * 1 GiB), found as the processor's walk finds it, or NULL at a not-present entry; nothing
	 * is allocated.
	 * SDM 29.3.2: "If bits 2:0 of an EPT paging-structure entry are all 0, the entry is not
	 * present and is used neither to reference another EPT paging-structure entry nor to
	 * produce a physical address."
	 * Hints: docs/labs/07-ept.md, step 07-4.
	 */
	(void)v;
	(void)gpa;
	(void)level;
	TODO("07-4");
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
	/* TODO 07-5
	 * Achieve: the processor drops the translations it cached from this guest's EPT: only those
	 * of lab07(v)->eptp when it can, all of them otherwise; a processor without INVEPT, or an
	 * INVEPT that fails, is refused in words.
	 * SDM 31.3 (INVEPT): "Invalidates mappings in the translation lookaside buffers (TLBs) and
	 * paging-structure caches that were derived from extended page tables (EPT)."
	 * Hints: docs/labs/07-ept.md, step 07-5.
	 */
	(void)v;
	TODO("07-5");
}

/* Takes write permission away from the 4-KiB pages of guest-physical [gpa, gpa + size); the
 * violation handler records the first write to each and gives it back. */
void ept_write_protect(struct vcpu *v, u64 gpa, u64 size)
{
	/* TODO 07-6
	 * Achieve: from the guest's next write on, every 4-KiB page of [gpa, gpa + size) is
	 * readable but not writable, so its first write exits; lab07(v) knows the range, and the
	 * round's written list starts empty. A page not mapped by a 4-KiB leaf is refused.
	 * SDM 29.4.3: "Software should use the INVEPT instruction with the "single-context" INVEPT
	 * type after making any of the following changes to an EPT paging-structure entry ...:
	 * Changing any of the privilege bits 2:0 from 1 to 0."
	 * Hints: docs/labs/07-ept.md, step 07-6.
	 */
	(void)v;
	(void)gpa;
	(void)size;
	TODO("07-6");
}

/* Starts a dirty-logging phase over `pages` 4-KiB pages from guest-physical `gpa`. */
void ept_dirty_log_start(struct vcpu *v, u64 gpa, u64 pages)
{
	/* TODO 07-7
	 * Achieve: a dirty-logging phase starts: from now on, the EPT marks exactly the pages of
	 * the range the guest writes, and nothing before the call counts.
	 * SDM 29.4.3: INVEPT is needed after "clearing bit 9 (the dirty flag) if accessed and dirty
	 * flags for EPT will be enabled."
	 * Hints: docs/labs/07-ept.md, step 07-7.
	 */
	(void)v;
	(void)gpa;
	(void)pages;
	TODO("07-7");
}

/* The pages written since ept_dirty_log_start(): bit i for page gpa + i * 4 KiB (pages <= 64). */
u64 ept_dirty_log_collect(struct vcpu *v, u64 gpa, u64 pages)
{
	/* TODO 07-8
	 * Achieve: a bitmap of the pages of the range the guest wrote since ept_dirty_log_start():
	 * bit i for the page at gpa + i * 4 KiB.
	 * SDM 29.3.5: "Whenever there is a write to a guest-physical address, the processor sets
	 * the dirty flag (if it is not already set) in the EPT paging-structure entry that
	 * identifies the final physical address for the guest-physical address".
	 * Hints: docs/labs/07-ept.md, step 07-8.
	 */
	(void)v;
	(void)gpa;
	(void)pages;
	TODO("07-8");
}

/* Turns on page-modification logging: the processor appends the guest-physical address of
 * every page whose dirty flag it sets to a log the hypervisor drains. */
void ept_pml_enable(struct vcpu *v)
{
	/* TODO 07-15
	 * Achieve: from the next VM entry on, the processor logs every page whose EPT dirty flag it
	 * sets into a log of lab07(v)'s (lab07(v)->pml_log), filled from its last entry down, and
	 * lab07(v)->pml_logged is a page ready to receive drained entries; a processor or an EPT
	 * pointer that cannot log is refused in words.
	 * SDM 29.3.6: "If the processor updated a dirty flag for EPT (changing it from 0 to 1), it
	 * then operates as follows: 1. The guest-physical address of the access is written to the
	 * page-modification log."
	 * Hints: docs/labs/07-ept.md, step 07-15.
	 */
	(void)v;
	TODO("07-15");
}

/* Moves the logged addresses to lab07(v)->pml_logged and empties the log. */
void ept_pml_drain(struct vcpu *v)
{
	/* TODO 07-16
	 * Achieve: every address the processor logged since the last drain is appended once to
	 * lab07(v)->pml_logged (no entry it did not write this round), and the log is empty again.
	 * SDM 29.3.6: "The PML index is decremented by 1 (this may cause the value to transition
	 * from 0 to FFFFH)."
	 * Hints: docs/labs/07-ept.md, step 07-16.
	 */
	(void)v;
	TODO("07-16");
}
