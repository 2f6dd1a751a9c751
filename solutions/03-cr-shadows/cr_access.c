/* Lab 03: emulating the control-register accesses that exit (SDM Vol. 3C, 26.1.3, 26.3, 28.2.1). */
#include "lab.h"
#include "lab03.h"

/* The emulation steps below are not static so that each one can be left undone on its own. */

/* The CR0 bits LMSW loads (bits 3:0: PE, MP, EM, TS; SDM Vol. 2, LMSW). */
#define LMSW_BITS (CR0_PE | CR0_MP | CR0_EM | CR0_TS)

/* What the guest sees in CR0 or CR4: its own bits where it owns them, the shadow elsewhere. */
u64 guest_visible(enum vmcs_field real, enum vmcs_field mask, enum vmcs_field shadow)
{
	u64 m = vmcs_read(mask);
	return (vmcs_read(real) & ~m) | (vmcs_read(shadow) & m);
}

u64 maxphyaddr_mask(void)
{
	unsigned bits = cpuid(0x80000008, 0).eax & 0xff;
	return BIT(bits) - 1;
}

/* A guest write of `value` to CR0: fault like the processor, or update shadow and real CR0. */
bool emulate_cr0_write(struct vcpu *v, u64 value)
{
	(void)v;
	/* BEGIN 03-3 unused: value
	 * SDM 2.5 and the MOV CR page (Vol. 2): MOV to CR0 raises #GP(0) when bits 63:32 are set,
	 * when NW = 1 with CD = 0, when PG = 1 with PE = 0, and (SDM 10.8.5) when it clears PG in
	 * IA-32e mode. SDM 26.3: the guest's view of an owned bit is the read shadow; the real
	 * CR0 (GUEST_CR0) must still satisfy the VMX fixed bits (SDM 24.8; PE, NE, PG here).
	 * Do: return false (the caller injects #GP(0)) on each fault. Otherwise write the whole
	 * value to CR0_READ_SHADOW, and to GUEST_CR0 the value with the fixed bits applied;
	 * return true.
	 * Hint: the guest runs in IA-32e mode while GUEST_IA32_EFER.LMA is set, or (without the
	 * load-EFER entry control) while the "IA-32e mode guest" entry control is set.
	 */
	bool ia32e = vmcs_read(VM_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST;
	if ((value >> 32) || ((value & CR0_NW) && !(value & CR0_CD)) ||
	    ((value & CR0_PG) && !(value & CR0_PE)) || (ia32e && !(value & CR0_PG)))
		return false;
	vmcs_write(CR0_READ_SHADOW, value);
	vmcs_write(GUEST_CR0, (value | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1));
	return true;
	/* END 03-3 */
}

/* A guest write of `value` to CR4: VMX stays hidden (setting VMXE faults). */
bool emulate_cr4_write(struct vcpu *v, u64 value)
{
	(void)v;
	/* BEGIN 03-4 unused: value
	 * SDM 2.5 and the MOV CR page: MOV to CR4 raises #GP(0) when it sets a reserved bit or
	 * (SDM 10.8.5) clears PAE in IA-32e mode. This hypervisor offers no nested VMX, so for the
	 * guest CR4.VMXE is reserved: setting it raises #GP(0), as on a processor without VMX.
	 * The real CR4 keeps VMXE = 1 (a VMX fixed bit in non-root operation).
	 * Do: return false on each fault; otherwise store the value in CR4_READ_SHADOW and the
	 * value with the CR4 fixed bits applied in GUEST_CR4; return true.
	 * Hint: a bit is reserved when IA32_VMX_CR4_FIXED1 has it 0.
	 */
	bool ia32e = vmcs_read(VM_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST;
	u64 fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0), fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	if ((value & ~fixed1) || (value & CR4_VMXE) || (ia32e && !(value & CR4_PAE)))
		return false;
	vmcs_write(CR4_READ_SHADOW, value);
	vmcs_write(GUEST_CR4, (value | fixed0) & fixed1);
	return true;
	/* END 03-4 */
}

/* CLTS and LMSW: both change the low bits of CR0 and go through emulate_cr0_write(). */
bool clts_or_lmsw(struct vcpu *v, enum cr_access_type type, u16 lmsw_source)
{
	/* BEGIN 03-5 unused: v, type, lmsw_source
	 * SDM 26.3 and the CLTS/LMSW pages: CLTS clears CR0.TS. LMSW loads CR0 bits 3:0 (PE, MP,
	 * EM, TS) from its 16-bit source, except that it can set PE but never clear it. Both act
	 * on the CR0 the guest believes in (read shadow for owned bits).
	 * Do: compute the new guest CR0 from the guest-visible CR0 and apply it with
	 * emulate_cr0_write().
	 * Hint: guest_visible() above; the LMSW source comes from the exit qualification.
	 */
	u64 cr0 = guest_visible(GUEST_CR0, CR0_GUEST_HOST_MASK, CR0_READ_SHADOW);
	if (type == CR_ACCESS_CLTS)
		return emulate_cr0_write(v, cr0 & ~CR0_TS);
	u64 low = (lmsw_source & LMSW_BITS) | (cr0 & CR0_PE);
	return emulate_cr0_write(v, (cr0 & ~LMSW_BITS) | low);
	/* END 03-5 */
}

/* MOV to or from CR3 (CR3-load/store exiting) and CR8 (CR8-load/store exiting). */
bool mov_cr3_cr8(struct vcpu *v, unsigned cr, bool to_cr, enum gpr reg)
{
	/* BEGIN 03-6 unused: v, cr, to_cr, reg
	 * SDM 26.1.3: with CR3-store (CR3-load) exiting, MOV from (to) CR3 exits, loads of a
	 * CR3-target value excepted; the guest's CR3 is GUEST_CR3. MOV to CR3 raises #GP(0) when
	 * it sets a bit at or above MAXPHYADDR (CPUID.80000008H:EAX[7:0]). With CR8-load/store
	 * exiting and no TPR shadow, every MOV to/from CR8 exits: the hypervisor keeps the
	 * guest's task priority (lab03(v)->cr8). CR8 has 4 bits: a value above 15 raises #GP(0).
	 * Do: move between the guest register `reg` and GUEST_CR3 or lab03(v)->cr8, checking the faults;
	 * return false to have #GP(0) injected.
	 * Hint: maxphyaddr_mask() above; guest_reg_read()/guest_reg_write() (vcpu.h).
	 */
	if (!to_cr) {
		guest_reg_write(v, reg, cr == 3 ? vmcs_read(GUEST_CR3) : lab03(v)->cr8);
		return true;
	}
	u64 value = guest_reg_read(v, reg);
	if (cr == 3) {
		if (value & ~maxphyaddr_mask())
			return false;
		vmcs_write(GUEST_CR3, value);
	} else {
		if (value > 15)
			return false;
		lab03(v)->cr8 = value;
	}
	return true;
	/* END 03-6 */
}

/* Exit reason 28: decode the exit qualification and emulate the access. */
static enum exit_verdict handle_cr_access(struct vcpu *v)
{
	/* BEGIN 03-7 unused: v
	 * SDM 28.2.1 (Table 28-3): bits 3:0 = the control register (0 for CLTS and LMSW), bits
	 * 5:4 = access type (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW), bits 11:8 = the general
	 * register of a MOV, bits 31:16 = the LMSW source data. MOV from CR0/CR4 never exits
	 * (SDM 26.3): reads come from the shadow without the hypervisor.
	 * Do: decode, call emulate_cr0_write(), emulate_cr4_write(), clts_or_lmsw() or
	 * mov_cr3_cr8(); inject #GP(0)
	 * when they return false (RIP unchanged), otherwise skip the instruction. Panic on an
	 * access this hypervisor did not ask for.
	 * Hint: the cr_qual_*() accessors of vmx_exit.h decode the fields (registers as enum gpr;
	 * 4 = RSP, which guest_reg_read() fetches from GUEST_RSP); guest_reg_read() fetches the
	 * source of a MOV to CR.
	 */
	u64 q = v->exit.qualification;
	unsigned cr = cr_qual_cr(q);
	enum cr_access_type type = cr_qual_access_type(q);
	enum gpr reg = cr_qual_register(q);
	bool ok;
	if (type == CR_ACCESS_CLTS || type == CR_ACCESS_LMSW)
		ok = clts_or_lmsw(v, type, cr_qual_lmsw_source(q));
	else if (cr == 3 || cr == 8)
		ok = mov_cr3_cr8(v, cr, type == CR_ACCESS_MOV_TO_CR, reg);
	else if (type == CR_ACCESS_MOV_TO_CR && cr == 0)
		ok = emulate_cr0_write(v, guest_reg_read(v, reg));
	else if (type == CR_ACCESS_MOV_TO_CR && cr == 4)
		ok = emulate_cr4_write(v, guest_reg_read(v, reg));
	else
		panic("handle_cr_access: unexpected access, qualification 0x%lx", q);
	if (!ok) {
		vmx_inject_exception(v, VEC_GP, 0);
		return EXIT_RESUME;
	}
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 03-7 */
}

static void lab03_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_CONTROL_REGISTER_ACCESS, handle_cr_access);
}
LAB_SETUP(03, lab03_handlers);
