/* Lab 07 checks: a guest in its own guest-physical space (built by lab07_space.c with the
 * student's ept_map(); lab07_guest.S runs in it), a device page, the guest's hypercalls that
 * start and end its phases, and what each check reports. What the guest read, what the device
 * saw and what the EPT holds afterwards (walked from the VMCS's EPT pointer) are the evidence. */
#include "check.h"
#include "lab.h"
#include "lab07.h"
#include "lab07_shared.h"
#include "lab07_space.h"
#include "params.h"

static exit_handler student_violation;

static bool verbose(void) { return boot_params.flags & BOOT_VERBOSE; }

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
	.name = "lab07-device",
	.gpa = MMIO_GPA,
	.size = PAGE_SIZE,
	.read = device_read,
	.write = device_write,
};

/* ---- the guest's hypercalls ---- */

static const char *const report_keys[REPORT_KEYS] = {
	[REPORT_BIG_DIGEST] = "guest.big_digest",
	[REPORT_HUGE_READ] = "guest.huge_read",
	[REPORT_DEMAND_FIRST_READS] = "guest.demand_first_reads",
	[REPORT_DEMAND_DIGEST] = "guest.demand_digest",
	[REPORT_MMIO_MIX] = "guest.mmio_mix",
	[REPORT_MMIO_ID] = "guest.mmio_id",
	[REPORT_MISCONFIG_SURVIVED] = "guest.misconfig_survived",
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

/* A page left in the written list by an earlier round: ept_write_protect() starts a new one. */
static void protect(struct vcpu *v)
{
	lab07(v)->written[0] = DIRTY_GPA;
	lab07(v)->written_count = 1;
	ept_write_protect(v, PROTECT_GPA, TRACKED_PAGES * PAGE_SIZE);
}

/* The pages the phase wrote, as the host sees them: the nonce at 0x10, the index at 0x18. */
static u64 written_in_host(u64 gpa)
{
	u64 mask = 0;
	for (unsigned i = 0; i < TRACKED_PAGES; i++) {
		u64 *page = (u64 *)(lab07_guest_ram + gpa + i * PAGE_SIZE);
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
		u64 *leaf = lab07_ept_walk(DIRTY_GPA + i * PAGE_SIZE, &level);
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
		u64 *leaf = lab07_ept_walk(DIRTY_GPA + i * PAGE_SIZE, &level);
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

/* SDM 28.2.5: the VM-exit instruction length is not defined for an EPT violation (Bochs fills
 * it). The handler sees one no instruction has, in v->exit and in the VMCS (VMWRITE to an exit
 * field, IA32_VMX_MISC[29]); moving the guest's RIP by it stops the guest. */
#define UNDEFINED_LENGTH 0x5a

static enum exit_verdict narrated_violation(struct vcpu *v)
{
	u64 q = v->exit.qualification, gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	u64 demand = lab07(v)->demand_pages;
	unsigned written = lab07(v)->written_count;
	v->exit.instruction_length = UNDEFINED_LENGTH;
	if (rdmsr(MSR_IA32_VMX_MISC) & BIT(29))
		vmcs_write(VM_EXIT_INSTRUCTION_LENGTH, UNDEFINED_LENGTH);
	enum exit_verdict verdict = student_violation(v);
	if (vmcs_read(GUEST_RIP) == v->exit.guest_rip + UNDEFINED_LENGTH) {
		report_fact("mmio.used_exit_length", "guest RIP 0x%lx", v->exit.guest_rip);
		return EXIT_STOP;
	}
	if (!verbose())
		return verdict;
	unsigned allowed = ept_qual_allowed(q);
	printf("EPT violation: %s of guest-physical 0x%lx (guest-linear 0x%lx), the translation allowed "
	       "%c%c%c: ",
	       ept_qual_fetch(q)   ? "instruction fetch"
	       : ept_qual_write(q) ? "write"
				   : "read",
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


static void setup_guest(struct vcpu *v, u64 phases)
{
	lab07_space_build(v, phases);
	mmio_device_register(&device);
	hypercall_extend(ept_hypercall);
	student_violation = exit_handler_for(EXIT_REASON_EPT_VIOLATION);
	if (student_violation)
		exit_register(EXIT_REASON_EPT_VIOLATION, narrated_violation);
}


static void report_leaf(const char *name, u64 gpa, u64 hpa)
{
	char key[48];
	unsigned level = 0;
	u64 *leaf = lab07_ept_walk(gpa, &level);
	snprintf(key, sizeof(key), "leaf.%s.level", name);
	report_fact(key, "%u", leaf ? level : 0);
	snprintf(key, sizeof(key), "leaf.%s.entry", name);
	report_fact(key, "0x%lx", leaf ? *leaf : 0);
	snprintf(key, sizeof(key), "leaf.%s.hpa", name);
	report_fact(key, "0x%lx", hpa);
}

/* Bits 2:0 that every non-leaf entry on the walk to `gpa` allows (SDM 29.3.2: all apply). */
static void report_path(const char *name, u64 gpa)
{
	char key[48];
	u64 *table = phys_to_virt(vmcs_read(EPT_POINTER) & EPT_ADDRESS_MASK), allowed = EPT_RWX;
	for (unsigned level = EPT_LEVELS; level > 1; level--) {
		u64 entry = table[ept_index(gpa, level)];
		if (!(entry & EPT_RWX) || (level <= 3 && (entry & EPT_LARGE_PAGE)))
			break;
		allowed &= entry;
		table = phys_to_virt(entry & EPT_ADDRESS_MASK);
	}
	snprintf(key, sizeof(key), "leaf.%s.path", name);
	report_fact(key, "%lu", allowed & EPT_RWX);
}

static void verify_leaves(struct vcpu *v)
{
	report_leaf("ram", G_CODE, virt_to_phys(lab07_guest_ram) + G_CODE);
	report_path("ram", G_CODE);
	report_leaf("big", BIG_GPA, virt_to_phys(lab07_big_page));
	report_leaf("huge", HUGE_GPA, HUGE_HPA);
	lab07_audit_isolation(v);
}

static void verify_eptp(struct vcpu *v)
{
	report_fact("eptp.vmcs", "0x%lx", vmcs_read(EPT_POINTER));
	report_fact("eptp.root_is_vcpu_pml4", "%d",
		    (vmcs_read(EPT_POINTER) & EPT_ADDRESS_MASK) == virt_to_phys(lab07(v)->pml4));
	report_fact("eptp.made_without_ad", "0x%lx", ept_make_eptp(0x123000, false));
	report_fact("eptp.made_with_ad", "0x%lx", ept_make_eptp(0xabc000, true));
	report_fact("eptp.primary_controls", "0x%lx",
		    vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS));
	report_fact("eptp.secondary_controls", "0x%lx",
		    vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS));
	lab07_audit_isolation(v);
}

static void verify_mmio(struct vcpu *v)
{
	report_fact("device.accesses", "%s", accesses);
	report_fact("device.latch", "0x%lx", latch);
	report_fact("device.wide", "0x%lx", wide);
	lab07_audit_isolation(v);
}

/* SDM 29.3.3.1, one entry per rule (and sound ones): what ept_entry_misconfig() says. */
static void verify_misconfig(struct vcpu *v)
{
	const u64 wb = (u64)MEMORY_TYPE_WB << EPT_MEMORY_TYPE_SHIFT, table = 0x5000;
	const struct {
		u64 entry;
		unsigned level;
	} samples[] = {
		{ table | EPT_WRITE | wb, 1 },
		{ table | EPT_RWX | wb, 1 },
		{ table | EPT_READ | 2UL << EPT_MEMORY_TYPE_SHIFT, 1 },
		{ table | EPT_READ | 7UL << EPT_MEMORY_TYPE_SHIFT, 1 },
		{ table | EPT_RWX | EPT_LARGE_PAGE, 4 },
		{ table | EPT_RWX | BIT(3), 2 },
		{ SIZE_2M | BIT(13) | EPT_READ | wb | EPT_LARGE_PAGE, 2 },
		{ SIZE_1G | BIT(21) | EPT_READ | wb | EPT_LARGE_PAGE, 3 },
		{ BIT(45) | table | EPT_READ | wb, 1 },
		{ table | EPT_EXECUTE | wb, 1 },
		{ 0, 1 },
		{ table | EPT_RWX, 3 },
		{ SIZE_1G | EPT_READ | wb | EPT_LARGE_PAGE, 3 },
		{ table | EPT_RWX | 2UL << EPT_MEMORY_TYPE_SHIFT, 3 },
		{ table | EPT_WRITE, 4 },
		{ table | EPT_READ | 3UL << EPT_MEMORY_TYPE_SHIFT, 1 },
		{ SIZE_2M | BIT(12) | EPT_READ | wb | EPT_LARGE_PAGE, 2 },
	};
	char list[64] = "";
	for (unsigned i = 0; i < ARRAY_SIZE(samples); i++) {
		unsigned n = strlen(list);
		snprintf(list + n, sizeof(list) - n, "%s%d", i ? "," : "",
			 ept_entry_misconfig(samples[i].entry, samples[i].level));
	}
	report_fact("misconfig.classified", "%s", list);
	lab07_audit_isolation(v);
}

/* The leaf of MISCONFIG_GPA made write-only: a misconfiguration the guest's read runs into. */
static void setup_misconfig(struct vcpu *v)
{
	setup_guest(v, PHASE_RAM | PHASE_MISCONFIG);
	unsigned level;
	u64 *leaf = lab07_ept_walk(MISCONFIG_GPA, &level);
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

/* After the audit: an execute-only leaf, where nothing else is mapped. SDM 29.3.2: an entry is
 * present when any of bits 2:0 is set, so ept_lookup() finds it. */
static void verify_protect(struct vcpu *v)
{
	lab07_audit_isolation(v);
	ept_map(v, EXECUTE_ONLY_GPA, virt_to_phys(lab07_guest_ram), SIZE_4K, EPT_EXECUTE);
	unsigned level = 0;
	u64 *leaf = ept_lookup(v, EXECUTE_ONLY_GPA, &level);
	report_fact("lookup.execute_only", "%d", leaf && level == 1 && (*leaf & EPT_RWX) == EPT_EXECUTE);
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
      .verify = lab07_audit_isolation, .demo = true);
CHECK(07, demand, "ept-demand", .last_stage = STAGE_RUN, .setup = setup_demand,
      .verify = lab07_audit_isolation);
CHECK(07, mmio, "ept-mmio", .last_stage = STAGE_RUN, .setup = setup_mmio, .verify = verify_mmio);
CHECK(07, protect, "ept-write-protect", .last_stage = STAGE_RUN, .setup = setup_protect,
      .verify = verify_protect);
CHECK(07, dirty, "ept-dirty-log", .last_stage = STAGE_RUN, .setup = setup_dirty,
      .verify = lab07_audit_isolation);
CHECK(07, invept, "ept-invept", .last_stage = STAGE_RUN, .setup = setup_invept,
      .verify = lab07_audit_isolation);
CHECK(07, pml, "ept-pml", .last_stage = STAGE_RUN, .setup = setup_pml, .verify = lab07_audit_isolation);
CHECK(07, misconfig, "ept-misconfig", .last_stage = STAGE_RUN, .setup = setup_misconfig,
      .verify = verify_misconfig);
