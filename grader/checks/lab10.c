/* Lab 10 checks: the guest (lab10_guest.S) in lab 07's guest-physical space (lab07_space.c),
 * with the student's EPT views (EPTP switching) and virtualization exceptions. What the guest
 * read and counted, the EPT views walked here from the EPTP list, and Bochs's record of exits
 * are the evidence; the guest's #VE and #UD handlers are the grader's. */
#include "check.h"
#include "lab.h"
#include "lab07.h"
#include "lab07_space.h"
#include "lab10.h"
#include "lab10_shared.h"
#include "params.h"

_Static_assert(VF_WINDOW_LINEAR == WINDOW_LINEAR, "lab10_shared.h: lab 07's window");

extern const char lab10_guest_start[], lab10_guest_end[], lab10_ve_handler[], lab10_ud_handler[];
extern const char lab10_hook_original[], lab10_hook_patched[], lab10_hook_end[];

static exit_handler student_violation;
static u8 *ram, *view1_page, *hook_page;
static u64 probe_exits, suppress_exits;

static bool verbose(void) { return boot_params.flags & BOOT_VERBOSE; }

static u64 exits_so_far(struct vcpu *v)
{
	u64 n = 0;
	for (unsigned i = 0; i < EXIT_REASON_TABLE_SIZE; i++)
		n += v->exit_count[i];
	return n;
}

/* ---- the guest's hypercalls ---- */

static const char *const report_keys[VF_REPORT_KEYS] = {
	[VF_REPORT_VIEW_FIRST] = "guest.view_first",
	[VF_REPORT_VIEW_SWITCHED] = "guest.view_switched",
	[VF_REPORT_VIEW_BACK] = "guest.view_back",
	[VF_REPORT_UD_COUNT] = "guest.ud_count",
	[VF_REPORT_VIEW_AFTER] = "guest.view_after",
	[VF_REPORT_VE_COUNT] = "guest.ve_count",
	[VF_REPORT_VE_REASON] = "guest.ve_reason",
	[VF_REPORT_VE_BUSY] = "guest.ve_busy",
	[VF_REPORT_VE_QUAL] = "guest.ve_qual",
	[VF_REPORT_VE_GLA] = "guest.ve_gla",
	[VF_REPORT_VE_GPA] = "guest.ve_gpa",
	[VF_REPORT_PROBE_READ] = "guest.probe_read",
	[VF_REPORT_SUPPRESS_READ] = "guest.suppress_read",
	[VF_REPORT_HOOK_RESULT] = "guest.hook_result",
	[VF_REPORT_HOOK_READ_LOW] = "guest.hook_read_low",
	[VF_REPORT_HOOK_READ_HIGH] = "guest.hook_read_high",
	[VF_REPORT_HOOKED] = "guest.hooked",
	[VF_REPORT_INDEXES] = "guest.ve_eptp_indexes",
	[VF_REPORT_UD_AT_VMFUNC] = "guest.ud_at_vmfunc",
};

static const char *const steps[] = {
	[1] = "EPTP switching: the guest reads one page in view 0, VMFUNC to view 1, reads, VMFUNC to view 0",
	[2] = "VMFUNCs the processor refuses: index >= 512, an empty list entry, function 1",
	[3] = "#VE: two reads of unmapped pages, a third while the busy dword is set, two writes to "
	      "read-only pages (suppress #VE set, then clear)",
	[4] = "the guest-resident agent: calls of the hooked page, reads of its bytes; the #VE handler "
	      "switches views with VMFUNC",
	[5] = "over",
};

static u64 step_exits, step_ves, step_violations;

/* make run: what the last step cost, in VM exits (all, and EPT violations among them) and in
 * #VEs the guest handled without one (its own count, in its data page). */
static void narrate_step(struct vcpu *v, u64 next)
{
	u64 exits = exits_so_far(v), violations = v->exit_count[EXIT_REASON_EPT_VIOLATION];
	u64 ves = *(u64 *)(ram + VF_DATA_GPA + VF_VE_COUNT);
	if (step_exits)
		printf("lab10:   that step: %lu VM exits (%lu of them EPT violations; the others the "
		       "guest's hypercalls, this one included), %lu #VEs handled in the guest without "
		       "an exit\n",
		       exits - step_exits, violations - step_violations, ves - step_ves);
	if (next < ARRAY_SIZE(steps) && steps[next])
		printf("lab10: step %lu: %s\n", next, steps[next]);
	step_exits = exits;
	step_violations = violations;
	step_ves = ves;
}

static enum exit_verdict vf_hypercall(struct vcpu *v)
{
	switch (v->regs.rax) {
	case HC_VF_REPORT:
		if (v->regs.rdi >= VF_REPORT_KEYS) {
			printf("lab10: unknown report key %lu\n", v->regs.rdi);
			return EXIT_STOP;
		}
		report_fact(report_keys[v->regs.rdi], "0x%lx", v->regs.rsi);
		break;
	case HC_VF_STEP:
		if (verbose())
			narrate_step(v, v->regs.rdi);
		break;
	default:
		printf("lab10: unknown hypercall %lu\n", v->regs.rax);
		return EXIT_STOP;
	}
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

/* ---- the EPT violations that must exit: the third probe page and the suppress-#VE page ---- */

static enum exit_verdict vf_violation(struct vcpu *v)
{
	u64 gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS), page = gpa & ~(PAGE_SIZE - 1);
	if (page == VF_PROBE_GPA + 2 * PAGE_SIZE) {
		u8 *fresh = page_alloc();
		*(u64 *)(fresh + (boot_params.nonce & 0xff8)) = boot_params.nonce ^ VF_PROBE_FILL;
		ept_map(v, page, virt_to_phys(fresh), SIZE_4K, EPT_READ | EPT_WRITE);
		probe_exits++;
		if (verbose())
			printf("lab10: EPT violation exit at 0x%lx (the #VE busy dword was set): mapped\n",
			       gpa);
		return EXIT_RESUME;
	}
	if (page == VF_SUPPRESS_GPA && ept_qual_write(v->exit.qualification)) {
		ept_map(v, page, virt_to_phys(ram + page), SIZE_4K, EPT_READ | EPT_WRITE);
		suppress_exits++;
		if (verbose())
			printf("lab10: EPT violation exit at 0x%lx (suppress #VE): write allowed\n", gpa);
		return EXIT_RESUME;
	}
	if (student_violation)
		return student_violation(v);
	printf("lab10: EPT violation at guest-physical 0x%lx, which nothing handles\n", gpa);
	return EXIT_STOP;
}

/* ---- the guest: lab 07's space, this lab's program, its IDT ---- */

/* A 64-bit interrupt gate in the guest's IDT (G_IDT) for a handler of lab10_guest.S. */
static void idt_gate(unsigned vector, const char *handler)
{
	u64 target = G_CODE + (u64)(handler - lab10_guest_start);
	u32 *gate = (u32 *)(ram + G_IDT + vector * 16);
	gate[0] = (u32)(vmcs_read(GUEST_CS_SELECTOR) << 16) | (target & 0xffff);
	gate[1] = (target & 0xffff0000) | 0x8e00; /* present, DPL 0, 64-bit interrupt gate */
	gate[2] = (u32)(target >> 32);
	gate[3] = 0;
}

static void build_guest(struct vcpu *v, u64 phases)
{
	ram = lab07_space_build_ram(v, 0);
	u64 size = (u64)(lab10_guest_end - lab10_guest_start);
	if (size > G_CODE_MAX)
		panic("lab10: the guest program is larger than G_CODE_MAX");
	memcpy(ram + G_CODE, lab10_guest_start, size);
	*(u64 *)(ram + VF_DATA_GPA + VF_PHASES) = phases;
	idt_gate(VEC_UD, lab10_ud_handler);
	idt_gate(VEC_VE, lab10_ve_handler);
	hypercall_extend(vf_hypercall);
	student_violation = exit_handler_for(EXIT_REASON_EPT_VIOLATION);
	exit_register(EXIT_REASON_EPT_VIOLATION, vf_violation);
}

/* #VE on, its information area at VF_INFO_GPA in the guest's space (before any view copies it). */
static void with_ve(struct vcpu *v)
{
	ve_enable(v);
	if (lab10(v)->ve_info)
		ept_map(v, VF_INFO_GPA, virt_to_phys(lab10(v)->ve_info), SIZE_4K, EPT_READ | EPT_WRITE);
}

/* View 1: VF_VIEW_GPA on another host page; each view's page holds its own value. */
static void with_views(struct vcpu *v)
{
	u64 offset = boot_params.nonce & VF_VIEW_OFFSET_MASK;
	*(u64 *)(ram + VF_VIEW_GPA + offset) = boot_params.nonce * VF_VIEW0_MUL;
	view1_page = page_alloc();
	*(u64 *)(view1_page + offset) = boot_params.nonce * VF_VIEW1_MUL;
	vmfunc_enable(v);
	unsigned view = ept_view_add(v);
	report_fact("views.added", "%u", view);
	ept_view_map(v, view, VF_VIEW_GPA, virt_to_phys(view1_page), EPT_RWX);
}

static void setup_switch(struct vcpu *v)
{
	build_guest(v, VF_PHASE_SWITCH);
	with_views(v);
}
static void setup_invalid(struct vcpu *v)
{
	build_guest(v, VF_PHASE_INVALID);
	with_views(v);
}

static void setup_ve(struct vcpu *v)
{
	build_guest(v, VF_PHASE_VE);
	with_ve(v);
	ept_map(v, VF_SUPPRESS_GPA, virt_to_phys(ram + VF_SUPPRESS_GPA), SIZE_4K, EPT_READ);
	ept_map(v, VF_PLAIN_GPA, virt_to_phys(ram + VF_PLAIN_GPA), SIZE_4K, EPT_READ);
	ept_view_suppress_ve(v, 0, VF_SUPPRESS_GPA, true);
	ept_view_suppress_ve(v, 0, VF_PLAIN_GPA, true);
	ept_view_suppress_ve(v, 0, VF_PLAIN_GPA, false);
}

/* The hook: view 0 reads and writes the original page and cannot execute it; view 1 executes
 * the patched copy and can do nothing else with it. */
static void setup_hook(struct vcpu *v)
{
	build_guest(v, VF_PHASE_HOOK);
	with_ve(v);
	memcpy(ram + VF_HOOK_GPA, lab10_hook_original, (u64)(lab10_hook_patched - lab10_hook_original));
	hook_page = page_alloc();
	memcpy(hook_page, lab10_hook_patched, (u64)(lab10_hook_end - lab10_hook_patched));
	ept_map(v, VF_SUPPRESS_GPA, virt_to_phys(ram + VF_SUPPRESS_GPA), SIZE_4K, EPT_READ);
	vmfunc_enable(v);
	unsigned view = ept_view_add(v);
	report_fact("views.added", "%u", view);
	ept_view_map(v, 0, VF_HOOK_GPA, virt_to_phys(ram + VF_HOOK_GPA), EPT_READ | EPT_WRITE);
	ept_view_map(v, view, VF_HOOK_GPA, virt_to_phys(hook_page), EPT_EXECUTE);
	ept_view_suppress_ve(v, view, VF_SUPPRESS_GPA, true);
	if (verbose())
		printf("lab10: view 0 maps guest-physical 0x%x read/write onto the original code, view %u "
		       "execute-only onto the hook\n",
		       VF_HOOK_GPA, view);
}

/* ---- after the run: the views as the EPTP list holds them ---- */

/* "hpa|rwx" of gpa's leaf in the view whose EPTP is list entry `index` (grader's own walk). */
static void report_view_leaf(const char *key, struct vcpu *v, unsigned index, u64 gpa)
{
	u64 *list = lab10(v)->eptp_list;
	unsigned level = 0;
	u64 *leaf = list && list[index]
			    ? lab07_ept_walk_from(phys_to_virt(list[index] & EPT_ADDRESS_MASK), gpa, &level)
			    : NULL;
	report_fact(key, "0x%lx", leaf ? (*leaf & EPT_ADDRESS_MASK) | (*leaf & EPT_RWX) : 0);
}

static void report_views(struct vcpu *v, u64 gpa, u64 view0_hpa, u64 view1_hpa)
{
	u64 *list = lab10(v)->eptp_list;
	report_fact("views.list_address_is_list", "%d",
		    list && vmcs_read(EPTP_LIST_ADDRESS) == virt_to_phys(list));
	report_fact("views.vm_function_controls", "0x%lx", vmcs_read(VM_FUNCTION_CONTROLS));
	report_fact("views.secondary_controls", "0x%lx",
		    vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS));
	report_fact("views.eptp1_low", "0x%lx", list ? list[1] & 0xfff : 0);
	report_view_leaf("views.view0_leaf", v, 0, gpa);
	report_view_leaf("views.view1_leaf", v, 1, gpa);
	report_fact("views.view0_hpa", "0x%lx", view0_hpa);
	report_fact("views.view1_hpa", "0x%lx", view1_hpa);
	report_fact("views.lab07_pml4_is_view0", "%d",
		    list && list[0] && virt_to_phys(lab07(v)->pml4) == (list[0] & EPT_ADDRESS_MASK));
	report_fact("views.eptp_index", "%lu", vmcs_read(EPTP_INDEX));
	report_fact("views.eptp_is_list_entry", "%d",
		    list && vmcs_read(EPTP_INDEX) < EPTP_LIST_ENTRIES &&
			    vmcs_read(EPT_POINTER) == list[vmcs_read(EPTP_INDEX)]);
}

static void verify_switch(struct vcpu *v)
{
	report_views(v, VF_VIEW_GPA, virt_to_phys(ram + VF_VIEW_GPA), virt_to_phys(view1_page));
	report_fact("host.vmfunc_failures", "%lu", lab10(v)->vmfunc_failures);
}

static void verify_ve(struct vcpu *v)
{
	report_fact("ve.info_address_is_area", "%d",
		    lab10(v)->ve_info && vmcs_read(VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS) ==
						 virt_to_phys(lab10(v)->ve_info));
	report_fact("ve.secondary_controls", "0x%lx",
		    vmcs_read(SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS));
	report_fact("ve.exception_bitmap", "0x%lx", vmcs_read(EXCEPTION_BITMAP));
	report_fact("host.probe_exits", "%lu", probe_exits);
	report_fact("host.suppress_exits", "%lu", suppress_exits);
}

/* Bit 63 ("suppress #VE") of gpa's leaf in the view of list entry `index` (grader's own walk). */
static void report_suppress(const char *key, struct vcpu *v, unsigned index, u64 gpa)
{
	u64 *list = lab10(v)->eptp_list;
	unsigned level = 0;
	u64 *leaf = list && list[index]
			    ? lab07_ept_walk_from(phys_to_virt(list[index] & EPT_ADDRESS_MASK), gpa, &level)
			    : NULL;
	report_fact(key, "%d", leaf ? !!(*leaf & EPT_SUPPRESS_VE) : -1);
}

static void verify_hook(struct vcpu *v)
{
	verify_ve(v);
	report_views(v, VF_HOOK_GPA, virt_to_phys(ram + VF_HOOK_GPA), virt_to_phys(hook_page));
	report_suppress("views.view0_suppress", v, 0, VF_SUPPRESS_GPA);
	report_suppress("views.view1_suppress", v, 1, VF_SUPPRESS_GPA);
	report_fact("hook.original_low", "0x%lx", *(const u64 *)lab10_hook_original);
	report_fact("hook.original_high", "0x%lx", *(const u64 *)(lab10_hook_original + 8));
	report_fact("hook.patched_low", "0x%lx", *(const u64 *)lab10_hook_patched);
	if (verbose())
		printf("lab10: the hook ran without the hypervisor: %lu VM exits in the whole run, %lu of "
		       "them hypercalls; what still exits: a VMFUNC the processor refuses (reason 59), an "
		       "EPT violation while the #VE busy dword is set or at a page with \"suppress #VE\" "
		       "(reason 48); make run CHECK=ve-delivery and CHECK=vmfunc-invalid show them\n",
		       exits_so_far(v), v->exit_count[EXIT_REASON_VMCALL]);
}

CHECK(10, vmfunc_switch, "vmfunc-switch", .last_stage = STAGE_RUN, .setup = setup_switch,
      .verify = verify_switch);
CHECK(10, vmfunc_invalid, "vmfunc-invalid", .last_stage = STAGE_RUN, .setup = setup_invalid,
      .verify = verify_switch);
CHECK(10, ve, "ve-delivery", .last_stage = STAGE_RUN, .setup = setup_ve, .verify = verify_ve);
CHECK(10, hook, "vmfunc-hook", .last_stage = STAGE_RUN, .setup = setup_hook, .verify = verify_hook,
      .demo = true);
