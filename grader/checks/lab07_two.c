/* Lab 07 check ept-two-guests: two guests, each in a guest-physical space of its own (its own
 * RAM, its own EPT built with the student's ept_enable() and ept_map() in its own lab07(v)),
 * switched by the student's lab 05 scheduler on the VMX-preemption timer. Each writes a pattern
 * (its nonce-derived tag | the guest-physical address) to every page it reaches, tries pages
 * beyond its space (the other guest's and the hypervisor's host addresses among them), and reads
 * its memory back. The evidence is the grader's: both EPTs walked from the VMCSs' EPT pointers,
 * the host pages in use and those probed scanned for the patterns, the hypervisor's code and
 * constants hashed before and after, and Bochs's record of the exits. */
#include "check.h"
#include "lab.h"
#include "lab05.h"
#include "lab07.h"
#include "lab07_shared.h"
#include "lab07_space.h"
#include "params.h"

#define LEAVES_MAX (GUEST_RAM_SIZE / PAGE_SIZE + DEMAND_TOUCHES + 8)
#define TABLES_MAX 32
#define NARRATED 4 /* make run: exits of each kind narrated per guest */

/* One guest of the check and what the grader learns about it. */
struct sweeper {
	char key, name; /* 'a', 'A' (the harness's vCPU) or 'b', 'B' */
	struct vcpu *v;
	u8 *ram;
	u64 tag, probes, caught, preemptions, demand_exits;
	bool done;
	u64 *pml4; /* from its VMCS's EPT pointer, after the run */
	u64 leaf_hpa[LEAVES_MAX], tables[TABLES_MAX], probe[SWEEP_LIST_MAX];
	unsigned leaf_count, table_count;
	u64 leaves, bad_leaves, own_pages, stray_pages;
};

static struct vcpu vcpu_b;
static struct sweeper guests[2];
static exit_handler student_violation, student_timer;

static struct sweeper *sweeper_of(struct vcpu *v)
{
	return v == guests[0].v ? &guests[0] : v == guests[1].v ? &guests[1] : NULL;
}

static bool verbose(void) { return boot_params.flags & BOOT_VERBOSE; }

static bool in_demand(u64 gpa) { return gpa >= DEMAND_GPA && gpa < DEMAND_GPA + DEMAND_SIZE; }

/* Inside the space the check gave the guest: its RAM or its demand region. */
static bool in_space(u64 gpa) { return gpa < GUEST_RAM_SIZE || in_demand(gpa); }

/* ---- the guests' parameters ---- */

static u64 tag_of(unsigned i)
{
	return ((boot_params.nonce ^ (i + 1) * 0x9e3779b97f4a7c15UL) * 0xff51afd7ed558ccdUL) & SWEEP_TAG_MASK;
}

static void add_probe(u64 *list, u64 *count, u64 gpa)
{
	gpa &= ~(PAGE_SIZE - 1);
	if (!in_space(gpa) && gpa < HOST_RAM_END && *count < SWEEP_LIST_MAX)
		list[(*count)++] = gpa;
}

/* The demand pages the guest reaches, then the probes: a nonce-chosen page of every 2-MiB block
 * of the first 128 MiB beyond its space, and the host addresses of the other guest's RAM, of
 * both EPT PML4s and of both VMCSs (where a guest-physical address equal to a host one lands if
 * the EPT were an identity map). */
static void write_params(struct sweeper *g, struct sweeper *other)
{
	u64 *params = (u64 *)(g->ram + G_PARAMS), *list = params + P_SWEEP_LIST / 8, n = 0;
	for (u64 k = 0; k < DEMAND_TOUCHES; k++)
		list[n++] = DEMAND_GPA + (DEMAND_STRIDE * k + (boot_params.nonce & 31)) * PAGE_SIZE;
	params[P_SWEEP_REACH / 8] = n;
	for (u64 block = SIZE_2M; block < HOST_RAM_END; block += SIZE_2M)
		add_probe(list, &n,
			  block + ((boot_params.nonce >> 8) + block / SIZE_2M * 97 + (u64)g->key * 41) % 512 *
					  PAGE_SIZE);
	add_probe(list, &n, virt_to_phys(other->ram) + (boot_params.nonce >> 20) % 512 * PAGE_SIZE);
	add_probe(list, &n, virt_to_phys(other->ram) + G_CODE);
	add_probe(list, &n, virt_to_phys(lab07(other->v)->pml4));
	add_probe(list, &n, virt_to_phys(lab07(g->v)->pml4));
	add_probe(list, &n, virt_to_phys(other->v->vmcs));
	add_probe(list, &n, virt_to_phys(g->v->vmcs));
	g->probes = n - DEMAND_TOUCHES;
	memcpy(g->probe, list + DEMAND_TOUCHES, g->probes * sizeof(u64));
	params[P_SWEEP_PROBES / 8] = g->probes;
	params[P_SWEEP_TAG / 8] = g->tag;
}

/* ---- the exits the check watches ---- */

/* A probe beyond the guest's space exits (nothing is mapped there): the check counts it and
 * resumes the guest at RBX, with R11 + 1. Everything else is the student's. */
static enum exit_verdict catch_probe(struct vcpu *v)
{
	struct sweeper *g = sweeper_of(v);
	u64 gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	if (!g)
		return student_violation(v);
	if (in_space(gpa)) {
		u64 before = lab07(v)->demand_pages;
		enum exit_verdict verdict = student_violation(v);
		if (verbose() && in_demand(gpa) && ++g->demand_exits <= NARRATED)
			printf("EPT violation: guest %c writes guest-physical 0x%lx in its demand region: %s\n",
			       g->name, gpa,
			       lab07(v)->demand_pages != before ? "a fresh host page of its own now backs it"
								: "not handled");
		return verdict;
	}
	if (verbose() && g->caught < NARRATED)
		printf("EPT violation: guest %c writes guest-physical 0x%lx, beyond its space: nothing is "
		       "mapped there, the store did not happen; the check counts it, the guest goes on%s\n",
		       g->name, gpa, g->caught + 1 == NARRATED ? " (further ones not shown)" : "");
	g->caught++;
	v->regs.r11++;
	vmcs_write(GUEST_RIP, v->regs.rbx);
	return EXIT_RESUME;
}

static enum exit_verdict count_preemption(struct vcpu *v)
{
	struct sweeper *g = sweeper_of(v);
	if (!g)
		return student_timer(v);
	if (verbose() && g->preemptions < NARRATED)
		printf("sched: guest %c preempted (exit 52) at guest RIP 0x%lx: its slice is over%s\n",
		       g->name, v->exit.guest_rip,
		       g->preemptions + 1 == NARRATED ? " (further ones not shown)" : "");
	g->preemptions++;
	return student_timer(v);
}

static enum exit_verdict sweep_end(struct vcpu *v)
{
	struct sweeper *g = sweeper_of(v);
	char key[48];
	if (!g || v->regs.rax != HC_EPT_SWEEP_END) {
		printf("lab07: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	if (g->done)
		panic("ept-two-guests: guest %c was entered again after it stopped: a guest whose run "
		      "loop ended without a preemption is done",
		      g->name);
	g->done = true;
	snprintf(key, sizeof(key), "two.%c.lost", g->key);
	report_fact(key, "%lu", v->regs.rdi);
	snprintf(key, sizeof(key), "two.%c.not_caught", g->key);
	report_fact(key, "%lu", v->regs.rsi);
	snprintf(key, sizeof(key), "two.%c.done", g->key);
	report_fact(key, "0x%lx", v->regs.rdx);
	return EXIT_STOP;
}

/* ---- the run ---- */

static void setup_two(struct vcpu *v)
{
	guests[0] = (struct sweeper){ .key = 'a', .name = 'A', .v = v, .tag = tag_of(0) };
	guests[0].ram = lab07_space_build_ram(v, PHASE_SWEEP);
}

/* A hash of the hypervisor's code and constants (.text, .rodata: 0x8000 up to .data). */
extern const u64 __data_start[];
static u64 image_hash(void)
{
	u64 h = 0xcbf29ce484222325UL;
	for (const u64 *p = (const u64 *)0x8000; p < __data_start; p++)
		h = (h ^ *p) * 0x100000001b3UL;
	return h;
}

static u64 hash_before;

static void run_two(struct vcpu *v)
{
	u64 slice = SWEEP_SLICE_BASE + boot_params.nonce % SWEEP_SLICE_RANGE;
	struct scheduler s = { 0 };
	guests[1] = (struct sweeper){ .key = 'b', .name = 'B', .v = &vcpu_b, .tag = tag_of(1) };
	vmcs_load(&vcpu_b); /* guest B's VMCS is current from here on */
	harness_prepare_vcpu(&vcpu_b, G_CODE, G_STACK_TOP);
	guests[1].ram = lab07_space_build_ram(&vcpu_b, PHASE_SWEEP);
	vcpu_before_entry(&vcpu_b);
	write_params(&guests[0], &guests[1]);
	write_params(&guests[1], &guests[0]);
	/* after the labs' setups for B, which register the student's handlers again */
	student_violation = exit_handler_for(EXIT_REASON_EPT_VIOLATION);
	student_timer = exit_handler_for(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED);
	if (student_violation)
		exit_register(EXIT_REASON_EPT_VIOLATION, catch_probe);
	if (student_timer)
		exit_register(EXIT_REASON_VMX_PREEMPTION_TIMER_EXPIRED, count_preemption);
	hypercall_extend(sweep_end);
	hash_before = image_hash();
	if (verbose())
		for (unsigned i = 0; i < 2; i++)
			printf("two guests: %c has VMCS 0x%lx, EPT pointer 0x%lx, RAM at host 0x%lx, a slice of "
			       "%lu TSC ticks\n",
			       guests[i].name, virt_to_phys(guests[i].v->vmcs), lab07(guests[i].v)->eptp,
			       virt_to_phys(guests[i].ram), slice);
	sched_add(&s, v, slice);
	sched_add(&s, &vcpu_b, slice);
	sched_run(&s);
	if (vmptrld(virt_to_phys(v->vmcs)) != VMX_SUCCEED) /* the harness's VMCS again */
		panic("ept-two-guests: VMPTRLD of the harness's VMCS failed");
}

/* ---- the evidence: both EPTs, the host's memory ---- */

static bool overlaps(u64 a, u64 a_size, u64 b, u64 b_size) { return a < b + b_size && b < a + a_size; }

static void collect_tables(struct sweeper *g, u64 *table, unsigned level)
{
	if (g->table_count < TABLES_MAX)
		g->tables[g->table_count++] = virt_to_phys(table);
	for (unsigned i = 0; i < EPT_ENTRIES && level > 1; i++)
		if ((table[i] & EPT_RWX) && !(level <= 3 && (table[i] & EPT_LARGE_PAGE)))
			collect_tables(g, phys_to_virt(table[i] & EPT_ADDRESS_MASK), level - 1);
}

/* A host page that belongs to the hypervisor: its image, a VMCS, a VMXON region, a lab's
 * state, an EPT table of either guest. */
static bool hypervisor_page(u64 hpa)
{
	if (hpa < HOST_IMAGE_END || hpa >= HOST_RAM_END)
		return true;
	for (unsigned i = 0; i < 2; i++) {
		struct vcpu *v = guests[i].v;
		if (hpa == virt_to_phys(v->vmcs) || hpa == virt_to_phys(v->vmxon_region))
			return true;
		for (unsigned l = 0; l < ARRAY_SIZE(v->lab_state); l++)
			if (v->lab_state[l] && hpa == virt_to_phys(v->lab_state[l]))
				return true;
		for (unsigned t = 0; t < guests[i].table_count; t++)
			if (hpa == guests[i].tables[t])
				return true;
	}
	return false;
}

/* Whether guest g's leaf gpa -> hpa (size) is one the check asked for: its own RAM, or a fresh
 * page for its demand region that is nobody else's. */
static bool leaf_allowed(struct sweeper *g, u64 gpa, u64 hpa, u64 size)
{
	if (size != SIZE_4K)
		return false;
	if (gpa < GUEST_RAM_SIZE)
		return hpa == virt_to_phys(g->ram) + gpa;
	if (!in_demand(gpa) || hypervisor_page(hpa))
		return false;
	for (unsigned i = 0; i < 2; i++)
		if (overlaps(hpa, PAGE_SIZE, virt_to_phys(guests[i].ram), GUEST_RAM_SIZE))
			return false;
	return true;
}

static void audit_leaves(struct sweeper *g, u64 *table, unsigned level, u64 gpa_base)
{
	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		u64 gpa = gpa_base + i * ept_level_size(level);
		if (!(table[i] & EPT_RWX))
			continue;
		if (level > 1 && !(level <= 3 && (table[i] & EPT_LARGE_PAGE))) {
			audit_leaves(g, phys_to_virt(table[i] & EPT_ADDRESS_MASK), level - 1, gpa);
			continue;
		}
		u64 size = ept_level_size(level), hpa = table[i] & EPT_ADDRESS_MASK & ~(size - 1);
		g->leaves++;
		if (g->leaf_count < LEAVES_MAX)
			g->leaf_hpa[g->leaf_count++] = hpa;
		if (!leaf_allowed(g, gpa, hpa, size) && !g->bad_leaves++) {
			char key[48];
			snprintf(key, sizeof(key), "two.%c.first_bad_leaf", g->key);
			report_fact(key, "gpa 0x%lx -> hpa 0x%lx, size 0x%lx", gpa, hpa, size);
		}
	}
}

/* Host pages both EPTs map (leaves), or both walk (tables). */
static u64 shared_pages(void)
{
	u64 shared = 0;
	for (unsigned i = 0; i < guests[0].leaf_count; i++)
		for (unsigned j = 0; j < guests[1].leaf_count; j++)
			shared += guests[0].leaf_hpa[i] == guests[1].leaf_hpa[j];
	for (unsigned i = 0; i < guests[0].table_count; i++)
		for (unsigned j = 0; j < guests[1].table_count; j++)
			shared += guests[0].tables[i] == guests[1].tables[j];
	return shared;
}

/* Where guest g's pattern for gpa may be: its RAM, or the page its EPT maps for a demand page. */
static bool pattern_at_home(struct sweeper *g, u64 gpa, u64 hpa)
{
	if (gpa < GUEST_RAM_SIZE)
		return hpa == virt_to_phys(g->ram) + gpa;
	unsigned level;
	u64 *leaf = in_demand(gpa) ? lab07_ept_walk_from(g->pml4, gpa, &level) : NULL;
	return leaf && level == 1 && hpa == (*leaf & EPT_ADDRESS_MASK);
}

/* Host page hpa at SWEEP_OFFSET: a guest's pattern must be at home, nowhere else. */
static void scan_page(u64 hpa)
{
	u64 value = *(u64 *)phys_to_virt(hpa + SWEEP_OFFSET);
	for (unsigned i = 0; i < 2; i++) {
		struct sweeper *g = &guests[i];
		if ((value & SWEEP_TAG_MASK) != g->tag)
			continue;
		if (pattern_at_home(g, value & ~SWEEP_TAG_MASK, hpa)) {
			g->own_pages++;
		} else if (!g->stray_pages++) {
			char key[48];
			snprintf(key, sizeof(key), "two.%c.first_stray", g->key);
			report_fact(key, "guest-physical 0x%lx found at host 0x%lx (%s)",
				    value & ~SWEEP_TAG_MASK, hpa,
				    overlaps(hpa, 1, virt_to_phys(guests[1 - i].ram), GUEST_RAM_SIZE)
					    ? "the other guest's RAM"
				    : hypervisor_page(hpa) ? "the hypervisor's"
							   : "not this guest's");
		}
	}
}

static u64 max(u64 a, u64 b) { return a > b ? a : b; }

/* The end of the pool pages in use: past the last RAM, leaf, table and VMCS of both guests,
 * plus a margin for what was allocated after them. */
static u64 pool_in_use_end(void)
{
	u64 end = HOST_IMAGE_END;
	for (unsigned i = 0; i < 2; i++) {
		struct sweeper *g = &guests[i];
		end = max(end, virt_to_phys(g->ram) + GUEST_RAM_SIZE);
		end = max(end, virt_to_phys(g->v->vmcs) + PAGE_SIZE);
		for (unsigned j = 0; j < g->leaf_count; j++)
			end = max(end, g->leaf_hpa[j] + PAGE_SIZE);
		for (unsigned j = 0; j < g->table_count; j++)
			end = max(end, g->tables[j] + PAGE_SIZE);
	}
	return end + SIZE_2M < HOST_RAM_END ? end + SIZE_2M : HOST_RAM_END;
}

/* The pool pages in use, and every page a guest probed (where a wrong EPT would have put its
 * store). Not all of the 128 MiB: each page read costs Bochs a page walk and a line of its log. */
static void scan_host_memory(void)
{
	u64 end = pool_in_use_end();
	for (u64 hpa = HOST_IMAGE_END; hpa < end; hpa += PAGE_SIZE)
		scan_page(hpa);
	for (unsigned i = 0; i < 2; i++)
		for (unsigned j = 0; j < guests[i].probes; j++)
			if (guests[i].probe[j] >= end)
				scan_page(guests[i].probe[j]);
}

static void report_sweeper(struct sweeper *g)
{
	const struct {
		const char *what;
		u64 value;
	} facts[] = {
		{ "leaves", g->leaves },           { "bad_leaves", g->bad_leaves },
		{ "own_pages", g->own_pages },     { "stray_pages", g->stray_pages },
		{ "probes", g->probes },           { "caught", g->caught },
		{ "preemptions", g->preemptions },
	};
	char key[48];
	for (unsigned i = 0; i < ARRAY_SIZE(facts); i++) {
		snprintf(key, sizeof(key), "two.%c.%s", g->key, facts[i].what);
		report_fact(key, "%lu", facts[i].value);
	}
}

static void verify_two(struct vcpu *v)
{
	for (unsigned i = 0; i < 2; i++) {
		struct sweeper *g = &guests[i];
		if (vmptrld(virt_to_phys(g->v->vmcs)) != VMX_SUCCEED)
			panic("ept-two-guests: VMPTRLD of guest %c's VMCS failed", g->name);
		g->pml4 = phys_to_virt(vmcs_read(EPT_POINTER) & EPT_ADDRESS_MASK);
		collect_tables(g, g->pml4, EPT_LEVELS);
	}
	if (vmptrld(virt_to_phys(v->vmcs)) != VMX_SUCCEED)
		panic("ept-two-guests: VMPTRLD of the harness's VMCS failed");
	for (unsigned i = 0; i < 2; i++)
		audit_leaves(&guests[i], guests[i].pml4, EPT_LEVELS, 0);
	scan_host_memory();
	for (unsigned i = 0; i < 2; i++)
		report_sweeper(&guests[i]);
	report_fact("two.shared_pages", "%lu", shared_pages());
	report_fact("two.image_unchanged", "%d", image_hash() == hash_before);
}

CHECK(07, two_guests, "ept-two-guests", .last_stage = STAGE_RUN, .setup = setup_two, .run = run_two,
      .verify = verify_two);
