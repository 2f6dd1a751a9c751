/* Lab 07 checks: a guest in its own guest-physical space. The check gives the guest 2 MiB of
 * RAM (4-KiB EPT leaves onto a host block elsewhere), a read-only 2-MiB leaf and a read-only
 * 1-GiB leaf, a demand region, a device page, and its own page tables, GDT and stack, all built
 * by the student's ept_map() and copied into guest RAM here; lab07_guest.S runs in it. What
 * the guest read and what the EPT holds afterwards (walked here, from the VMCS's EPTP) are the
 * evidence; nothing of the hypervisor may be reachable. */
#include "check.h"
#include "lab.h"
#include "lab07.h"
#include "lab07_shared.h"
#include "params.h"

#define HOST_RAM_END 0x8000000UL	/* Bochs's 128 MiB (mm.c) */
#define HOST_IMAGE_END 0x200000UL	/* the kernel, its stacks and tables (mm.c starts here) */
_Static_assert(GUEST_RAM_SIZE == SIZE_2M && HUGE_HPA % SIZE_1G == 0 && HUGE_HPA >= HOST_RAM_END,
	       "lab07_shared.h: the layout this file assumes");

extern const char lab07_guest_start[], lab07_guest_end[];

static u8 *guest_ram, *big_page;	/* host blocks behind guest RAM and BIG_GPA */
static exit_handler student_violation;

static bool verbose(void) { return boot_params.flags & BOOT_VERBOSE; }

/* 2 MiB of zeroed, contiguous, 2-MiB-aligned host memory (page_alloc hands out fresh pages in
 * order; the pages skipped to reach the alignment are not needed again). */
static u8 *alloc_2m(void)
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

static u64 *grader_walk(u64 gpa, unsigned *level)
{
	u64 *table = ept_root();
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

/* ---- the device at MMIO_GPA ---- */

static u64 latch, wide;
static char accesses[96];

static void log_access(char kind, unsigned size, u64 offset)
{
	unsigned n = strlen(accesses);
	snprintf(accesses + n, sizeof(accesses) - n, "%s%c%u@0x%lx", n ? "," : "", kind, size, offset);
	if (verbose())
		printf("device: %s of %u bytes at register 0x%lx (MMIO, emulated by the hypervisor)\n",
		       kind == 'W' ? "store" : "load", size, offset);
}

static u64 device_read(u64 offset, unsigned size)
{
	log_access('R', size, offset);
	if (offset == MMIO_MIX)
		return latch * MMIO_MIX_MULTIPLIER;
	if (offset == MMIO_ID)
		return 0xffffffff00000000UL | (latch ^ MMIO_ID_XOR);
	return 0;
}

static void device_write(u64 offset, unsigned size, u64 value)
{
	log_access('W', size, offset);
	if (offset == MMIO_LATCH)
		latch = value;
	else if (offset == MMIO_WIDE)
		wide = value;
}

static const struct mmio_device device = {
	.name = "lab07-device", .gpa = MMIO_GPA, .size = PAGE_SIZE,
	.read = device_read, .write = device_write,
};

/* ---- the guest's hypercalls ---- */

static const char *const report_keys[REPORT_KEYS] = {
	[REPORT_BIG_DIGEST] = "guest.big_digest", [REPORT_HUGE_READ] = "guest.huge_read",
	[REPORT_DEMAND_FIRST_READS] = "guest.demand_first_reads",
	[REPORT_DEMAND_DIGEST] = "guest.demand_digest", [REPORT_MMIO_MIX] = "guest.mmio_mix",
	[REPORT_MMIO_ID] = "guest.mmio_id", [REPORT_MISCONFIG_SURVIVED] = "guest.misconfig_survived",
};

/* Runs `step` and reports how many INVEPTs it executed, of which type, for which EPTP. */
static void counting_invept(const char *phase, void (*step)(struct vcpu *v), struct vcpu *v)
{
	char key[48];
	u64 before = invept_seen.count;
	invept_seen.last_type = 0;
	step(v);
	snprintf(key, sizeof(key), "invept.%s.count", phase);
	report_fact(key, "%lu", invept_seen.count - before);
	snprintf(key, sizeof(key), "invept.%s.type", phase);
	report_fact(key, "%d", invept_seen.last_type);
	snprintf(key, sizeof(key), "invept.%s.eptp_is_current", phase);
	report_fact(key, "%d", invept_seen.last_eptp == vmcs_read(EPT_POINTER));
}

static void protect(struct vcpu *v) { ept_write_protect(v, PROTECT_GPA, TRACKED_PAGES * PAGE_SIZE); }

/* The pages the phase wrote, as the host sees them: the nonce at 0x10, the index at 0x18. */
static u64 written_in_host(u64 gpa)
{
	u64 mask = 0;
	for (unsigned i = 0; i < TRACKED_PAGES; i++) {
		u64 *page = (u64 *)(guest_ram + gpa + i * PAGE_SIZE);
		if (page[2] == boot_params.nonce && page[3] == i)
			mask |= BIT(i);
	}
	return mask;
}

static void protect_end(struct vcpu *v)
{
	struct lab07_vcpu *e = lab07(v);
	u64 recorded = 0, outside = 0;
	for (unsigned i = 0; i < e->written_count && i < WRITE_LOG_MAX; i++) {
		u64 page = e->written[i];
		if (page >= PROTECT_GPA && page < PROTECT_GPA + TRACKED_PAGES * PAGE_SIZE && !(page & 0xfff))
			recorded |= BIT((page - PROTECT_GPA) / PAGE_SIZE);
		else
			outside++;
	}
	report_fact("protect.recorded", "0x%lx", recorded);
	report_fact("protect.recorded_count", "%u", e->written_count);
	report_fact("protect.recorded_elsewhere", "%lu", outside);
	report_fact("protect.written", "0x%lx", written_in_host(PROTECT_GPA));
}

static void start_dirty_log(struct vcpu *v) { ept_dirty_log_start(v, DIRTY_GPA, TRACKED_PAGES); }

/* Dirty flags set first, as if the guest had written every tracked page before the phase. */
static void dirty_start(struct vcpu *v)
{
	for (unsigned i = 0; i < TRACKED_PAGES; i++) {
		unsigned level;
		u64 *leaf = grader_walk(DIRTY_GPA + i * PAGE_SIZE, &level);
		if (leaf)
			*leaf |= EPT_ACCESSED | EPT_DIRTY;
	}
	counting_invept("dirty", start_dirty_log, v);
}

static void dirty_end(struct vcpu *v)
{
	u64 flags = 0;
	for (unsigned i = 0; i < TRACKED_PAGES; i++) {
		unsigned level;
		u64 *leaf = grader_walk(DIRTY_GPA + i * PAGE_SIZE, &level);
		if (leaf && (*leaf & EPT_DIRTY))
			flags |= BIT(i);
	}
	report_fact("dirty.collected", "0x%lx", ept_dirty_log_collect(v, DIRTY_GPA, TRACKED_PAGES));
	report_fact("dirty.flags", "0x%lx", flags);
	report_fact("dirty.written", "0x%lx", written_in_host(DIRTY_GPA));
}

/* The consumer of the page-modification log: after every drain (a log-full exit, the end of
 * the phase) it takes what ept_pml_drain() appended and empties the list, as dirty tracking for
 * live migration would. Every address must be a page of RAM or of the demand region, once. */
static u64 pml_ram[GUEST_RAM_SIZE / PAGE_SIZE / 64], pml_demand[DEMAND_SIZE / PAGE_SIZE / 64];
static u64 pml_ram_pages, pml_demand_pages, pml_duplicates, pml_elsewhere, pml_entries;
static exit_handler student_pml_full;

static void consume_pml(struct vcpu *v)
{
	struct lab07_vcpu *e = lab07(v);
	for (unsigned i = 0; i < e->pml_logged_count && i < PML_ENTRIES; i++) {
		u64 gpa = e->pml_logged[i], *seen = NULL, *count = NULL;
		pml_entries++;
		if (gpa < GUEST_RAM_SIZE) {
			seen = pml_ram;
			count = &pml_ram_pages;
		} else if (gpa >= DEMAND_GPA && gpa < DEMAND_GPA + DEMAND_SIZE) {
			seen = pml_demand;
			count = &pml_demand_pages;
			gpa -= DEMAND_GPA;
		}
		if (!seen || (gpa & 0xfff)) {
			pml_elsewhere++;
			continue;
		}
		u64 page = gpa / PAGE_SIZE;
		if (seen[page / 64] & BIT(page % 64))
			pml_duplicates++;
		else
			(*count)++;
		seen[page / 64] |= BIT(page % 64);
	}
	e->pml_logged_count = 0;
}

static enum exit_verdict consuming_pml_full(struct vcpu *v)
{
	enum exit_verdict verdict = student_pml_full(v);
	consume_pml(v);
	return verdict;
}

static void pml_end(struct vcpu *v)
{
	ept_pml_drain(v);
	consume_pml(v);
	report_fact("pml.entries", "%lu", pml_entries);
	report_fact("pml.ram_pages", "%lu", pml_ram_pages);
	report_fact("pml.demand_pages", "%lu", pml_demand_pages);
	report_fact("pml.duplicates", "%lu", pml_duplicates);
	report_fact("pml.elsewhere", "%lu", pml_elsewhere);
}

static enum exit_verdict ept_hypercall(struct vcpu *v)
{
	switch (v->regs.rax) {
	case HC_EPT_REPORT:
		if (v->regs.rdi >= REPORT_KEYS)
			panic("lab07: guest report key %lu", v->regs.rdi);
		report_fact(report_keys[v->regs.rdi], "0x%lx", v->regs.rsi);
		break;
	case HC_EPT_PROTECT:
		counting_invept("protect", protect, v);
		break;
	case HC_EPT_PROTECT_END:
		protect_end(v);
		break;
	case HC_EPT_DIRTY_START:
		dirty_start(v);
		break;
	case HC_EPT_DIRTY_END:
		dirty_end(v);
		break;
	case HC_EPT_PML_END:
		pml_end(v);
		break;
	default:
		printf("lab07: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* ---- make run: what each EPT violation was, in words ---- */

static enum exit_verdict narrated_violation(struct vcpu *v)
{
	u64 q = v->exit.qualification, gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	u64 demand = lab07(v)->demand_pages;
	unsigned written = lab07(v)->written_count;
	enum exit_verdict verdict = student_violation(v);
	if (!verbose())
		return verdict;
	unsigned allowed = ept_qual_allowed(q);
	printf("EPT violation: %s of guest-physical 0x%lx (guest-linear 0x%lx), the translation allowed "
	       "%c%c%c: ", ept_qual_fetch(q) ? "instruction fetch" : ept_qual_write(q) ? "write" : "read",
	       gpa, ept_qual_linear_valid(q) ? vmcs_read(GUEST_LINEAR_ADDRESS) : 0,
	       allowed & EPT_ACCESS_READ ? 'r' : '-', allowed & EPT_ACCESS_WRITE ? 'w' : '-',
	       allowed & EPT_ACCESS_EXECUTE ? 'x' : '-');
	if (lab07(v)->demand_pages != demand)
		printf("demand mapping: a fresh host page now backs it\n");
	else if (lab07(v)->written_count != written)
		printf("a write to a write-protected page: recorded, write permission given back\n");
	else if (mmio_device_at(gpa))
		printf("the device's page: the access was emulated\n");
	else
		printf("not handled\n");
	return verdict;
}

/* ---- the guest: its memory, its EPT, its VMCS state ---- */

/* Page tables (linear 0..1 GiB: 2-MiB pages, linear x and WINDOW_LINEAR + x onto physical x;
 * 1..2 GiB: one 1-GiB page; ALIAS_LINEAR: 4-KiB pages onto G_CODE), GDT, code and parameters,
 * all in guest RAM. */
static void build_guest_memory(u64 phases)
{
	u64 *pml4 = (u64 *)(guest_ram + G_PML4), *pdpt = (u64 *)(guest_ram + G_PDPT);
	u64 *pd_low = (u64 *)(guest_ram + G_PD_LOW), *pd_alias = (u64 *)(guest_ram + G_PD_ALIAS);
	u64 *pt_alias = (u64 *)(guest_ram + G_PT_ALIAS);
	const u64 rw = PTE_PRESENT | PTE_WRITABLE;
	pml4[0] = G_PDPT | rw;
	pdpt[0] = G_PD_LOW | rw;
	pdpt[1] = SIZE_1G | rw | PTE_PAGE_SIZE;
	pdpt[ALIAS_LINEAR / SIZE_1G] = G_PD_ALIAS | rw;
	for (unsigned i = 0; i < 512; i++)
		pd_low[i] = (i * SIZE_2M) % WINDOW_LINEAR | rw | PTE_PAGE_SIZE;
	pd_alias[0] = G_PT_ALIAS | rw;
	for (unsigned i = 0; i < G_CODE_MAX / PAGE_SIZE; i++)
		pt_alias[i] = (G_CODE + i * PAGE_SIZE) | rw;
	struct descriptor_table gdtr = read_gdtr();
	memcpy(guest_ram + G_GDT, (void *)gdtr.base, gdtr.limit + 1UL);
	u64 size = (u64)(lab07_guest_end - lab07_guest_start);
	if (size > G_CODE_MAX || size > PML_WRITE_OFFSET)
		panic("lab07: the guest program is larger than G_CODE_MAX or PML_WRITE_OFFSET");
	memcpy(guest_ram + G_CODE, lab07_guest_start, size);
	u64 *params = (u64 *)(guest_ram + G_PARAMS);
	params[P_NONCE / 8] = boot_params.nonce;
	params[P_PHASES / 8] = phases;
	/* the 2-MiB leaf: one qword per page where the guest reads, from the nonce and its offset */
	for (unsigned i = 0; i < 512; i++) {
		u64 offset = i * PAGE_SIZE + (boot_params.nonce & 0xff8);
		*(u64 *)(big_page + offset) = (boot_params.nonce ^ offset) * 0x100000001b3UL;
	}
}

/* The guest-physical space, through the student's ept_map(). */
static void map_guest(struct vcpu *v)
{
	for (u64 gpa = 0; gpa < GUEST_RAM_SIZE; gpa += PAGE_SIZE)
		ept_map(v, gpa, virt_to_phys(guest_ram + gpa), SIZE_4K, EPT_RWX);
	ept_map(v, BIG_GPA, virt_to_phys(big_page), SIZE_2M, EPT_READ);
	ept_map(v, HUGE_GPA, HUGE_HPA, SIZE_1G, EPT_READ);
	lab07(v)->demand_start = DEMAND_GPA;
	lab07(v)->demand_end = DEMAND_GPA + DEMAND_SIZE;
	mmio_device_register(&device);
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

static void setup_guest(struct vcpu *v, u64 phases)
{
	guest_ram = alloc_2m();
	big_page = alloc_2m();
	build_guest_memory(phases);
	ept_enable(v, true);
	map_guest(v);
	enter_guest();
	hypercall_extend(ept_hypercall);
	student_violation = exit_handler_for(EXIT_REASON_EPT_VIOLATION);
	if (student_violation)
		exit_register(EXIT_REASON_EPT_VIOLATION, narrated_violation);
}

/* ---- what the EPT holds after the run ---- */

#define TABLES_MAX 64
static u64 tables[TABLES_MAX], demand_hpas[DEMAND_SIZE / PAGE_SIZE];
static unsigned table_count, demand_count;

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

/* A host page a demand-mapped guest page may have: fresh memory, nobody else's. */
static bool fresh_host_page(struct vcpu *v, u64 hpa)
{
	const void *owned[] = { v->vmcs, v->vmxon_region, v->lab_state[7] };
	if (hpa < HOST_IMAGE_END || hpa >= HOST_RAM_END ||
	    overlaps(hpa, PAGE_SIZE, virt_to_phys(guest_ram), SIZE_2M) ||
	    overlaps(hpa, PAGE_SIZE, virt_to_phys(big_page), SIZE_2M))
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
		return size == SIZE_4K && hpa == virt_to_phys(guest_ram) + gpa;
	if (gpa == BIG_GPA)
		return size == SIZE_2M && hpa == virt_to_phys(big_page);
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
				report_fact("isolation.first_bad_leaf", "gpa 0x%lx -> hpa 0x%lx, size 0x%lx", gpa, hpa, size);
			bad_leaves++;
		}
	}
}

static void verify_isolation(struct vcpu *v)
{
	u64 root = vmcs_read(EPT_POINTER) & EPT_ADDRESS_MASK;
	collect_tables(root, EPT_LEVELS);
	audit_leaves(v, root, EPT_LEVELS, 0);
	report_fact("isolation.leaves", "%lu", leaves);
	report_fact("isolation.bad_leaves", "%lu", bad_leaves);
	report_fact("isolation.demand_pages", "%u", demand_count);
}

static void report_leaf(const char *name, u64 gpa, u64 hpa)
{
	char key[48];
	unsigned level = 0;
	u64 *leaf = grader_walk(gpa, &level);
	snprintf(key, sizeof(key), "leaf.%s.level", name);
	report_fact(key, "%u", leaf ? level : 0);
	snprintf(key, sizeof(key), "leaf.%s.entry", name);
	report_fact(key, "0x%lx", leaf ? *leaf : 0);
	snprintf(key, sizeof(key), "leaf.%s.hpa", name);
	report_fact(key, "0x%lx", hpa);
}

static void verify_leaves(struct vcpu *v)
{
	(void)v;
	report_leaf("ram", G_CODE, virt_to_phys(guest_ram) + G_CODE);
	report_leaf("big", BIG_GPA, virt_to_phys(big_page));
	report_leaf("huge", HUGE_GPA, HUGE_HPA);
}

static void verify_eptp(struct vcpu *v)
{
	report_fact("eptp.vmcs", "0x%lx", vmcs_read(EPT_POINTER));
	report_fact("eptp.root_is_vcpu_pml4", "%d",
		    (vmcs_read(EPT_POINTER) & EPT_ADDRESS_MASK) == virt_to_phys(lab07(v)->pml4));
	report_fact("eptp.made_without_ad", "0x%lx", ept_make_eptp(0x123000, false));
	report_fact("eptp.made_with_ad", "0x%lx", ept_make_eptp(0xabc000, true));
	report_fact("eptp.primary_controls", "0x%lx", vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS));
	report_fact("eptp.secondary_controls", "0x%lx", vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS));
}

static void verify_mmio(struct vcpu *v)
{
	(void)v;
	report_fact("device.accesses", "%s", accesses);
	report_fact("device.latch", "0x%lx", latch);
	report_fact("device.wide", "0x%lx", wide);
}

/* SDM 29.3.3.1, one entry per rule (and sound ones): what ept_entry_misconfig() says. */
static void verify_misconfig(struct vcpu *v)
{
	(void)v;
	const u64 wb = (u64)MEMORY_TYPE_WB << EPT_MEMORY_TYPE_SHIFT, table = 0x5000;
	const struct { u64 entry; unsigned level; } samples[] = {
		{ table | EPT_WRITE | wb, 1 }, { table | EPT_RWX | wb, 1 },
		{ table | EPT_READ | 2UL << EPT_MEMORY_TYPE_SHIFT, 1 },
		{ table | EPT_READ | 7UL << EPT_MEMORY_TYPE_SHIFT, 1 },
		{ table | EPT_RWX | EPT_LARGE_PAGE, 4 }, { table | EPT_RWX | BIT(3), 2 },
		{ SIZE_2M | BIT(13) | EPT_READ | wb | EPT_LARGE_PAGE, 2 },
		{ SIZE_1G | BIT(21) | EPT_READ | wb | EPT_LARGE_PAGE, 3 },
		{ BIT(45) | table | EPT_READ | wb, 1 }, { table | EPT_EXECUTE | wb, 1 },
		{ 0, 1 }, { table | EPT_RWX, 3 }, { SIZE_1G | EPT_READ | wb | EPT_LARGE_PAGE, 3 },
		{ table | EPT_RWX | 2UL << EPT_MEMORY_TYPE_SHIFT, 3 }, { table | EPT_WRITE, 4 },
	};
	char list[64] = "";
	for (unsigned i = 0; i < ARRAY_SIZE(samples); i++) {
		unsigned n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%d", i ? "," : "",
			 ept_entry_misconfig(samples[i].entry, samples[i].level));
	}
	report_fact("misconfig.classified", "%s", list);
}

/* The leaf of MISCONFIG_GPA made write-only: a misconfiguration the guest's read runs into. */
static void setup_misconfig(struct vcpu *v)
{
	setup_guest(v, PHASE_RAM | PHASE_MISCONFIG);
	unsigned level;
	u64 *leaf = grader_walk(MISCONFIG_GPA, &level);
	if (leaf)
		*leaf = (*leaf & ~EPT_RWX) | EPT_WRITE;
}

static void setup_pml(struct vcpu *v)
{
	setup_guest(v, PHASE_DEMAND | PHASE_PML);
	ept_pml_enable(v);
	student_pml_full = exit_handler_for(EXIT_REASON_PAGE_MODIFICATION_LOG_FULL);
	if (student_pml_full)
		exit_register(EXIT_REASON_PAGE_MODIFICATION_LOG_FULL, consuming_pml_full);
}

static void setup_ram(struct vcpu *v) { setup_guest(v, PHASE_RAM); }
static void setup_isolation(struct vcpu *v) { setup_guest(v, PHASE_RAM | PHASE_DEMAND | PHASE_MMIO); }
static void setup_demand(struct vcpu *v) { setup_guest(v, PHASE_DEMAND); }
static void setup_mmio(struct vcpu *v) { setup_guest(v, PHASE_MMIO); }
static void setup_protect(struct vcpu *v) { setup_guest(v, PHASE_PROTECT); }
static void setup_dirty(struct vcpu *v) { setup_guest(v, PHASE_DIRTY); }
static void setup_invept(struct vcpu *v) { setup_guest(v, PHASE_PROTECT | PHASE_DIRTY); }

CHECK(07, eptp, "ept-eptp", .last_stage = STAGE_RUN, .setup = setup_ram, .verify = verify_eptp);
CHECK(07, leaves, "ept-leaves", .last_stage = STAGE_RUN, .setup = setup_ram, .verify = verify_leaves);
CHECK(07, isolation, "ept-isolation", .last_stage = STAGE_RUN, .setup = setup_isolation,
      .verify = verify_isolation, .demo = true);
CHECK(07, demand, "ept-demand", .last_stage = STAGE_RUN, .setup = setup_demand, .verify = verify_isolation);
CHECK(07, mmio, "ept-mmio", .last_stage = STAGE_RUN, .setup = setup_mmio, .verify = verify_mmio);
CHECK(07, protect, "ept-write-protect", .last_stage = STAGE_RUN, .setup = setup_protect);
CHECK(07, dirty, "ept-dirty-log", .last_stage = STAGE_RUN, .setup = setup_dirty);
CHECK(07, invept, "ept-invept", .last_stage = STAGE_RUN, .setup = setup_invept);
CHECK(07, pml, "ept-pml", .last_stage = STAGE_RUN, .setup = setup_pml);
CHECK(07, misconfig, "ept-misconfig", .last_stage = STAGE_RUN, .setup = setup_misconfig,
      .verify = verify_misconfig);
