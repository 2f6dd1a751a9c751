/* Lab 03 checks: guests that read and write CR0, CR4, CR3 and CR8 under masks and shadows. */
#include "check.h"
#include "lab.h"
#include "lab03.h"
#include "params.h"

static u64 smsw(void)
{
	u64 v;
	__asm__ volatile("smsw %0" : "=r"(v));
	return v;
}

static void lmsw(u16 v) { __asm__ volatile("lmsw %0" : : "r"(v)); }
static void clts(void) { __asm__ volatile("clts"); }
static void fpu_op(u64 a) { (void)a; __asm__ volatile("fninit"); }
static void do_write_cr0(u64 v) { write_cr0(v); }
static void do_write_cr4(u64 v) { write_cr4(v); }
static void do_write_cr3(u64 v) { write_cr3(v); }
static void do_write_cr8(u64 v) { write_cr8(v); }

/* The vector of the exception fn(arg) raised, or 0x100 when it ran through. */
static u64 fault_of(void (*fn)(u64), u64 arg)
{
	struct guest_fault f;
	return guest_catch(fn, arg, &f) ? f.vector : 0x100;
}

static void report_host_crs(struct vcpu *v)
{
	(void)v;
	report_fact("host.guest_cr0", "0x%lx", vmcs_read(GUEST_CR0));
	report_fact("host.cr0_shadow", "0x%lx", vmcs_read(CR0_READ_SHADOW));
	report_fact("host.guest_cr4", "0x%lx", vmcs_read(GUEST_CR4));
	report_fact("host.cr4_shadow", "0x%lx", vmcs_read(CR4_READ_SHADOW));
}

static void setup_report_initial(struct vcpu *v)
{
	(void)v;
	report_fact("host.cr0_initial", "0x%lx", vmcs_read(GUEST_CR0));
	report_fact("host.cr4_initial", "0x%lx", vmcs_read(GUEST_CR4));
}

static void guest_cr0(u64 nonce)
{
	(void)nonce;
	u64 c0 = read_cr0();
	guest_report("cr0.initial", c0);
	write_cr0(c0 & ~CR0_NE);
	guest_report("cr0.after_ne_clear", read_cr0());
	guest_report("cr0.smsw", smsw() & 0xffff);
	write_cr0(read_cr0() ^ CR0_WP);
	guest_report("cr0.after_wp", read_cr0());
	guest_report("cr0.pg_clear", fault_of(do_write_cr0, read_cr0() & ~CR0_PG));
	guest_report("cr0.nw_without_cd", fault_of(do_write_cr0, (read_cr0() | CR0_NW) & ~CR0_CD));
	guest_report("cr0.high_bits", fault_of(do_write_cr0, read_cr0() | BIT(32)));
	guest_report("cr0.final", read_cr0());
}

static void guest_cr4(u64 nonce)
{
	(void)nonce;
	u64 c4 = read_cr4();
	guest_report("cr4.initial", c4);
	guest_report("cr4.set_vmxe", fault_of(do_write_cr4, c4 | CR4_VMXE));
	write_cr4(c4 | CR4_TSD);
	guest_report("cr4.after_tsd", read_cr4());
	write_cr4(c4);
	guest_report("cr4.clear_pae", fault_of(do_write_cr4, c4 & ~CR4_PAE));
	guest_report("cr4.reserved_bit", fault_of(do_write_cr4, c4 | BIT(30)));
	guest_report("cr4.final", read_cr4());
}

/* Real CR0.TS = 1 while the shadow says 0: the state CLTS cannot change without an exit. */
static void setup_ts_split(struct vcpu *v)
{
	setup_report_initial(v);
	vmcs_write(GUEST_CR0, vmcs_read(GUEST_CR0) | CR0_TS);
	vmcs_write(CR0_READ_SHADOW, vmcs_read(CR0_READ_SHADOW) & ~CR0_TS);
}

static void guest_clts_lmsw(u64 nonce)
{
	(void)nonce;
	guest_report("ts.start_fpu", fault_of(fpu_op, 0));
	guest_report("ts.start_view", read_cr0() & CR0_TS);
	clts();					/* shadow TS = 0: no exit, real TS stays 1 */
	guest_report("ts.clts_no_exit_fpu", fault_of(fpu_op, 0));
	write_cr0(read_cr0() | CR0_TS);
	guest_report("ts.set_view", read_cr0() & CR0_TS);
	clts();					/* shadow TS = 1: exits */
	guest_report("ts.clts_exit_view", read_cr0() & CR0_TS);
	guest_report("ts.clts_exit_fpu", fault_of(fpu_op, 0));
	lmsw((u16)(read_cr0() | CR0_TS));
	guest_report("lmsw.ts_view", read_cr0() & CR0_TS);
	guest_report("lmsw.ts_fpu", fault_of(fpu_op, 0));
	lmsw((u16)(read_cr0() | CR0_MP));	/* only MP changes: not owned, no exit */
	guest_report("lmsw.mp_view", read_cr0() & CR0_MP);
	lmsw((u16)((read_cr0() & ~CR0_PE) ^ CR0_TS));	/* TS changes: exits; PE must stay */
	guest_report("lmsw.pe_view", read_cr0() & CR0_PE);
	guest_report("lmsw.pe_ts_view", read_cr0() & CR0_TS);
	clts();
	guest_report("ts.final_fpu", fault_of(fpu_op, 0));
}

static u64 cr3_target, cr3_other;

static u64 clone_page_tables(void)
{
	u8 *pml4 = page_alloc();
	memcpy(pml4, phys_to_virt(read_cr3() & ~0xfffUL), PAGE_SIZE);
	return virt_to_phys(pml4);
}

static void setup_cr3(struct vcpu *v)
{
	cr3_target = clone_page_tables();
	cr3_other = clone_page_tables();
	cr3_target_add(v, cr3_target);
	report_fact("host.cr3_original", "0x%lx", vmcs_read(GUEST_CR3));
	report_fact("host.cr3_target", "0x%lx", cr3_target);
	report_fact("host.cr3_other", "0x%lx", cr3_other);
}

static void guest_cr3(u64 nonce)
{
	(void)nonce;
	u64 original = read_cr3();
	guest_report("cr3.read0", original);
	write_cr3(cr3_target);
	guest_report("cr3.read_target", read_cr3());
	write_cr3(cr3_other);
	guest_report("cr3.read_other", read_cr3());
	write_cr3(original);
	guest_report("cr3.read_back", read_cr3());
	guest_report("cr3.beyond_maxphyaddr", fault_of(do_write_cr3, cr3_other | BIT(62)));
}

static void guest_cr8(u64 nonce)
{
	u64 tpr = 1 + nonce % 15;
	write_cr8(tpr);
	guest_report("cr8.read", read_cr8());
	guest_report("cr8.too_big", fault_of(do_write_cr8, 16));
	guest_report("cr8.read_after", read_cr8());
}

static void verify_cr8(struct vcpu *v)
{
	report_fact("host.real_cr8", "0x%lx", read_cr8());
	report_fact("host.vcpu_cr8", "0x%lx", lab03(v)->cr8);
}

CHECK(03, cr0_shadow, "cr0-shadow", .last_stage = STAGE_RUN, .guest = guest_cr0,
      .setup = setup_report_initial, .verify = report_host_crs);
CHECK(03, cr4_vmxe, "cr4-vmxe", .last_stage = STAGE_RUN, .guest = guest_cr4,
      .setup = setup_report_initial, .verify = report_host_crs);
CHECK(03, clts_lmsw, "clts-lmsw", .last_stage = STAGE_RUN, .guest = guest_clts_lmsw,
      .setup = setup_ts_split, .verify = report_host_crs);
CHECK(03, cr3, "cr3-exiting", .last_stage = STAGE_RUN, .guest = guest_cr3, .setup = setup_cr3);
CHECK(03, cr8, "cr8-exiting", .last_stage = STAGE_RUN, .guest = guest_cr8,
      .verify = verify_cr8, .demo = true);
