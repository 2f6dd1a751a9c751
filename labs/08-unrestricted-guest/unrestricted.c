/* Lab 08: the unrestricted guest, a guest that runs with paging off and in real mode
 * (SDM Vol. 3C, 25.6.2, 26.6, 27.3.1). */
#include "lab.h"
#include "lab08.h"

/* Lets the guest run with CR0.PE = 0 or CR0.PG = 0; needs EPT (lab 07's ept_enable()). */
void ug_enable(struct vcpu *v)
{
	(void)v;
	/* TODO 08-1
	 * SDM 25.6.2 (Table 25-7): "unrestricted guest" is bit 7 of the secondary processor-based
	 * controls. SDM 27.2.1.1: "If the 'unrestricted guest' VM-execution control is 1, the
	 * 'enable EPT' VM-execution control must also be 1." SDM 27.3.1.1: with it, the bits PE and
	 * PG of IA32_VMX_CR0_FIXED0 no longer bind the guest's CR0.
	 * Do: turn the control on, next to "enable EPT" (which ept_enable() has set).
	 * Hint: CPU2_UNRESTRICTED_GUEST, MSR_IA32_VMX_PROCBASED_CTLS2, vmx_adjust_controls().
	 */
	TODO("08-1");
}

#define AR_REAL_CODE (AR_TYPE(SEG_TYPE_CODE_RX_ACCESSED) | AR_S | AR_P)	/* 0x9b */
#define AR_REAL_DATA (AR_TYPE(SEG_TYPE_DATA_RW_ACCESSED) | AR_S | AR_P)	/* 0x93 */
#define AR_BUSY_TSS (AR_TYPE(SEG_TYPE_TSS_BUSY_64) | AR_P)		/* 0x8b: busy 32-bit TSS */
#define REAL_MODE_LIMIT 0xffff

/* The guest as a BIOS leaves it for a boot sector: real mode, CS:IP = cs:ip, SS:SP = 0:sp. */
void ug_setup_real_mode(struct vcpu *v, u16 cs, u16 ip, u16 sp)
{
	(void)v;
	/* TODO 08-2
	 * SDM 27.3.1.1: with "unrestricted guest", CR0 may have PE = 0 and PG = 0, every other bit
	 * of IA32_VMX_CR0_FIXED0 (NE) must still be 1, and CR4 must still hold the bits of
	 * IA32_VMX_CR4_FIXED0 (VMXE). SDM 27.3.1.2 for a real-mode guest under this control: a
	 * usable segment is present, S = 1, CS of type 9, 11, 13 or 15 (or 3 with DPL 0), SS and
	 * the data segments of a read/write type, SS.DPL = 0 when CR0.PE = 0; the limit 0xffff
	 * with G = 0; TR a busy TSS (type 3 or 11), LDTR may be unusable. In real mode a linear
	 * address is segment base + offset, the base being selector * 16 (SDM 20.1.1). SDM 3.4.3:
	 * RFLAGS bit 1 is always 1; RFLAGS.VM must be 0 when CR0.PE = 0 (SDM 27.3.1.4).
	 * Do: CR0 = the fixed-1 bits without PE and PG, plus ET; CR4 = its fixed-1 bits; CR3 = 0;
	 * CS = cs (base cs * 16), SS = DS = ES = FS = GS = 0, all with limit 0xffff; TR a busy
	 * TSS, LDTR unusable; GDTR base 0 limit 0xffff, IDTR base 0 limit 0x3ff (the IVT);
	 * RIP = ip, RSP = sp, RFLAGS = 2.
	 * Hint: vmcs_write_guest_segment(), AR_* and SEG_TYPE_* in vmx_controls.h;
	 * MSR_IA32_VMX_CR0_FIXED0, MSR_IA32_VMX_CR4_FIXED0.
	 */
	(void)cs;
	(void)ip;
	(void)sp;
	TODO("08-2");
}

/* Hands the guest the CR bits it switches modes with: only the fixed ones stay the host's. */
void ug_cr_policy(struct vcpu *v)
{
	(void)v;
	/* TODO 08-3
	 * SDM 25.6.6: a bit set in the CR0 (CR4) guest/host mask is owned by the hypervisor: a
	 * guest MOV to CR0 (CR4) that would change it away from the read shadow exits. SDM 26.6:
	 * with "unrestricted guest", the guest may clear and set CR0.PE and CR0.PG itself; a
	 * guest switching to protected mode and on to IA-32e mode also writes CR4.PAE and CR3,
	 * which EPT makes harmless to the host. Lab 03 owns PE, PG and PAE and makes MOV to CR3
	 * exit: each mode switch would cost an exit the hypervisor then has to emulate.
	 * Do: own only the CR0 bits that stay fixed under this control (IA32_VMX_CR0_FIXED0
	 * without PE and PG) and CR4.VMXE; read shadows = the guest's CR0 and CR4 without the
	 * owned bits (the guest believes they are 0, as on a real processor after reset); turn
	 * "CR3-load exiting" and "CR3-store exiting" off.
	 * Hint: CR0_GUEST_HOST_MASK, CR0_READ_SHADOW, CR4_...; CPU_CR3_LOAD_EXITING,
	 * MSR_IA32_VMX_PROCBASED_CTLS.
	 */
	TODO("08-3");
}
