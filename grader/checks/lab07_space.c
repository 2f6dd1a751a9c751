/* Lab 07 checks: the guest's own guest-physical space. 2 MiB of RAM (4-KiB EPT leaves onto a
 * host block elsewhere), a read-only 2-MiB leaf and a read-only 1-GiB leaf, a demand region,
 * and the guest's page tables, GDT, code and parameters copied into its RAM, all mapped by the
 * student's ept_map(); after the run, an audit of every leaf the EPT holds, walked here from
 * the VMCS's EPT pointer: nothing of the hypervisor may be reachable. */
#include "check.h"
#include "lab.h"
#include "lab07.h"
#include "lab07_shared.h"
#include "lab07_space.h"
#include "params.h"

_Static_assert(GUEST_RAM_SIZE == SIZE_2M && HUGE_HPA % SIZE_1G == 0 && HUGE_HPA >= HOST_RAM_END,
	       "lab07_shared.h: the layout this file assumes");

extern const char lab07_guest_start[], lab07_guest_end[];

u8 *lab07_guest_ram, *lab07_big_page;

/* 2 MiB of zeroed, contiguous, 2-MiB-aligned host memory (page_alloc hands out fresh pages in
 * order; the pages skipped to reach the alignment are not needed again). */
u8 *lab07_alloc_2m(void)
{
	u8 *first = page_alloc();
	while (virt_to_phys(first) & (SIZE_2M - 1))
		first = page_alloc();
	for (unsigned i = 1; i < SIZE_2M / PAGE_SIZE; i++)
		if ((u8 *)page_alloc() != first + i * PAGE_SIZE)
			panic("lab07: no contiguous 2 MiB for the guest");
	return first;
}

/* ---- the grader's own EPT walk: what the processor uses, read from the VMCS ---- */

static u64 *ept_root(void) { return phys_to_virt(vmcs_read(EPT_POINTER) & EPT_ADDRESS_MASK); }

u64 *lab07_ept_walk(u64 gpa, unsigned *level) { return lab07_ept_walk_from(ept_root(), gpa, level); }

u64 *lab07_ept_walk_from(u64 *table, u64 gpa, unsigned *level)
{
	for (unsigned l = EPT_LEVELS; l >= 1; l--) {
		u64 *entry = &table[ept_index(gpa, l)];
		if (!(*entry & EPT_RWX))
			return NULL;
		if (l == 1 || (l <= 3 && (*entry & EPT_LARGE_PAGE))) {
			*level = l;
			return entry;
		}
		table = phys_to_virt(*entry & EPT_ADDRESS_MASK);
	}
	return NULL;
}

/* ---- the guest: its memory, its EPT, its VMCS state ---- */

/* Page tables (linear 0..1 GiB: 2-MiB pages, linear x and WINDOW_LINEAR + x onto physical x;
 * 1..2 GiB: one 1-GiB page; ALIAS_LINEAR: 4-KiB pages onto G_CODE), GDT, code and parameters,
 * all in guest RAM. */
static void build_guest_memory(u8 *ram, u64 phases)
{
	u64 *pml4 = (u64 *)(ram + G_PML4), *pdpt = (u64 *)(ram + G_PDPT);
	u64 *pd_low = (u64 *)(ram + G_PD_LOW), *pd_alias = (u64 *)(ram + G_PD_ALIAS);
	u64 *pt_alias = (u64 *)(ram + G_PT_ALIAS);
	const u64 rw = PTE_PRESENT | PTE_WRITABLE;
	pml4[0] = G_PDPT | rw;
	pdpt[0] = G_PD_LOW | rw;
	pdpt[1] = SIZE_1G | rw | PTE_PAGE_SIZE;
	pdpt[ALIAS_LINEAR / SIZE_1G] = G_PD_ALIAS | rw;
	/* Bit 12 of a 2-MiB PDE is PAT, not address (Table 5-17): PAT index 4, write-back. */
	for (unsigned i = 0; i < 512; i++)
		pd_low[i] = (i * SIZE_2M) % WINDOW_LINEAR | rw | PTE_PAGE_SIZE | PDE_2M_PAT;
	pd_alias[0] = G_PT_ALIAS | rw;
	for (unsigned i = 0; i < G_CODE_MAX / PAGE_SIZE; i++)
		pt_alias[i] = (G_CODE + i * PAGE_SIZE) | rw;
	struct descriptor_table gdtr = read_gdtr();
	memcpy(ram + G_GDT, (void *)gdtr.base, gdtr.limit + 1UL);
	u64 size = (u64)(lab07_guest_end - lab07_guest_start);
	if (size > G_CODE_MAX || size > PML_WRITE_OFFSET)
		panic("lab07: the guest program is larger than G_CODE_MAX or PML_WRITE_OFFSET");
	memcpy(ram + G_CODE, lab07_guest_start, size);
	u64 *params = (u64 *)(ram + G_PARAMS);
	params[P_NONCE / 8] = boot_params.nonce;
	params[P_PHASES / 8] = phases;
}

/* The 2-MiB leaf's block: one qword per page where the guest reads, from the nonce and its
 * offset. */
static void fill_big_page(void)
{
	for (unsigned i = 0; i < 512; i++) {
		u64 offset = i * PAGE_SIZE + (boot_params.nonce & 0xff8);
		*(u64 *)(lab07_big_page + offset) = (boot_params.nonce ^ offset) * 0x100000001b3UL;
	}
}

/* The guest's RAM and demand region, through the student's ept_map(). */
static void map_ram(struct vcpu *v, u8 *ram)
{
	for (u64 gpa = 0; gpa < GUEST_RAM_SIZE; gpa += PAGE_SIZE)
		ept_map(v, gpa, virt_to_phys(ram + gpa), SIZE_4K, EPT_RWX);
	lab07(v)->demand_start = DEMAND_GPA;
	lab07(v)->demand_end = DEMAND_GPA + DEMAND_SIZE;
}

/* The VMCS's guest state for the guest in its own memory: everything it reaches is guest RAM. */
static void enter_guest(void)
{
	vmcs_write(GUEST_CR3, G_PML4);
	vmcs_write(GUEST_RIP, G_CODE);
	vmcs_write(GUEST_RSP, G_STACK_TOP);
	vmcs_write(GUEST_GDTR_BASE, G_GDT);
	vmcs_write(GUEST_IDTR_BASE, G_IDT);
	vmcs_write(GUEST_IDTR_LIMIT, PAGE_SIZE - 1);
	vmcs_write(GUEST_TR_BASE, G_TSS);
	vmcs_write(GUEST_FS_BASE, 0);
	vmcs_write(GUEST_GS_BASE, 0);
}

void lab07_space_build(struct vcpu *v, u64 phases)
{
	lab07_guest_ram = lab07_alloc_2m();
	lab07_big_page = lab07_alloc_2m();
	build_guest_memory(lab07_guest_ram, phases);
	fill_big_page();
	ept_enable(v, true);
	/* The read-only leaves first: the tables above the RAM are made for them. */
	ept_map(v, BIG_GPA, virt_to_phys(lab07_big_page), SIZE_2M, EPT_READ);
	ept_map(v, HUGE_GPA, HUGE_HPA, SIZE_1G, EPT_READ);
	map_ram(v, lab07_guest_ram);
	enter_guest();
}

u8 *lab07_space_build_ram(struct vcpu *v, u64 phases)
{
	u8 *ram = lab07_alloc_2m();
	build_guest_memory(ram, phases);
	ept_enable(v, true);
	map_ram(v, ram);
	enter_guest();
	return ram;
}

/* ---- what the EPT holds after the run ---- */

#define TABLES_MAX 64
static u64 tables[TABLES_MAX], demand_hpas[DEMAND_SIZE / PAGE_SIZE];
static unsigned table_count, demand_count;
static u64 allocator_top;

/* Where page_alloc()'s fresh pages begin: two pages in a row are adjacent there (a freed page
 * it hands out first is not). Nothing above it has been handed out yet. */
static u64 find_allocator_top(void)
{
	u64 previous = virt_to_phys(page_alloc());
	for (unsigned i = 0; i < 16; i++) {
		u64 page = virt_to_phys(page_alloc());
		if (page == previous + PAGE_SIZE)
			return previous;
		previous = page;
	}
	return HOST_RAM_END;
}

static void collect_tables(u64 table_pa, unsigned level)
{
	if (table_count < TABLES_MAX)
		tables[table_count++] = table_pa;
	u64 *t = phys_to_virt(table_pa);
	for (unsigned i = 0; i < EPT_ENTRIES && level > 1; i++)
		if ((t[i] & EPT_RWX) && !(level <= 3 && (t[i] & EPT_LARGE_PAGE)))
			collect_tables(t[i] & EPT_ADDRESS_MASK, level - 1);
}

static bool overlaps(u64 a, u64 a_size, u64 b, u64 b_size) { return a < b + b_size && b < a + a_size; }

/* A host page a demand-mapped guest page may have: fresh memory from page_alloc(), nobody
 * else's (a page it has not handed out may go to anyone later). */
static bool fresh_host_page(struct vcpu *v, u64 hpa)
{
	const void *owned[] = { v->vmcs, v->vmxon_region };
	for (unsigned i = 0; i < ARRAY_SIZE(v->lab_state); i++)
		if (v->lab_state[i] && hpa == virt_to_phys(v->lab_state[i]))
			return false;
	if (hpa < HOST_IMAGE_END || hpa >= allocator_top ||
	    overlaps(hpa, PAGE_SIZE, virt_to_phys(lab07_guest_ram), SIZE_2M) ||
	    overlaps(hpa, PAGE_SIZE, virt_to_phys(lab07_big_page), SIZE_2M))
		return false;
	for (unsigned i = 0; i < ARRAY_SIZE(owned); i++)
		if (hpa == virt_to_phys(owned[i]))
			return false;
	for (unsigned i = 0; i < table_count; i++)
		if (hpa == tables[i])
			return false;
	for (unsigned i = 0; i < demand_count; i++)
		if (hpa == demand_hpas[i])
			return false;
	if (demand_count < ARRAY_SIZE(demand_hpas))
		demand_hpas[demand_count++] = hpa;
	return true;
}

/* Whether the leaf mapping guest-physical [gpa, gpa + size) onto hpa is one the check asked
 * for (or a demand page on fresh memory). */
static bool leaf_allowed(struct vcpu *v, u64 gpa, u64 hpa, u64 size)
{
	if (gpa < GUEST_RAM_SIZE)
		return size == SIZE_4K && hpa == virt_to_phys(lab07_guest_ram) + gpa;
	if (gpa == BIG_GPA)
		return size == SIZE_2M && hpa == virt_to_phys(lab07_big_page);
	if (gpa == HUGE_GPA)
		return size == SIZE_1G && hpa == HUGE_HPA;
	if (gpa >= DEMAND_GPA && gpa < DEMAND_GPA + DEMAND_SIZE)
		return size == SIZE_4K && fresh_host_page(v, hpa);
	return false;
}

static u64 leaves, bad_leaves;

static void audit_leaves(struct vcpu *v, u64 table_pa, unsigned level, u64 gpa_base)
{
	u64 *t = phys_to_virt(table_pa);
	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		u64 gpa = gpa_base + i * ept_level_size(level);
		if (!(t[i] & EPT_RWX))
			continue;
		if (level > 1 && !(level <= 3 && (t[i] & EPT_LARGE_PAGE))) {
			audit_leaves(v, t[i] & EPT_ADDRESS_MASK, level - 1, gpa);
			continue;
		}
		u64 size = ept_level_size(level), hpa = t[i] & EPT_ADDRESS_MASK & ~(size - 1);
		leaves++;
		if (!leaf_allowed(v, gpa, hpa, size)) {
			if (!bad_leaves)
				report_fact("isolation.first_bad_leaf", "gpa 0x%lx -> hpa 0x%lx, size 0x%lx",
					    gpa, hpa, size);
			bad_leaves++;
		}
	}
}

void lab07_audit_isolation(struct vcpu *v)
{
	u64 root = vmcs_read(EPT_POINTER) & EPT_ADDRESS_MASK;
	allocator_top = find_allocator_top();
	collect_tables(root, EPT_LEVELS);
	audit_leaves(v, root, EPT_LEVELS, 0);
	report_fact("isolation.leaves", "%lu", leaves);
	report_fact("isolation.bad_leaves", "%lu", bad_leaves);
	report_fact("isolation.demand_pages", "%u", demand_count);
}
