/* Lab 08: the unrestricted guest, a guest that runs with paging off and in real mode
 * (SDM Vol. 3C, 25.6.2, 26.6, 27.3.1). */
#include "lab.h"
#include "lab08.h"

/* Lets the guest run with CR0.PE = 0 or CR0.PG = 0; needs EPT (lab 07's ept_enable()). */
void ug_enable(struct vcpu *v)
{
	(void)v;
	/* TODO 08-1
	 * Achieve: from the next VM entry on, the guest may run with paging off and in real mode:
	 * "unrestricted guest" on, next to the "enable EPT" that ept_enable() set.
	 * SDM 26.6: "If this control is 1, CR0.PE and CR0.PG may be 0 in VMX non-root operation."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-1.
	 */
	TODO("08-1");
}

#define AR_REAL_CODE (AR_TYPE(SEG_TYPE_CODE_RX_ACCESSED) | AR_S | AR_P) /* 0x9b */
#define AR_REAL_DATA (AR_TYPE(SEG_TYPE_DATA_RW_ACCESSED) | AR_S | AR_P) /* 0x93 */
#define AR_BUSY_TSS (AR_TYPE(SEG_TYPE_TSS_BUSY_64) | AR_P)              /* 0x8b: busy 32-bit TSS */
#define REAL_MODE_LIMIT 0xffff

/* The guest as a BIOS leaves it for a boot sector: real mode, CS:IP = cs:ip, SS:SP = 0:sp. */
void ug_setup_real_mode(struct vcpu *v, u16 cs, u16 ip, u16 sp)
{
	(void)v;
	/* TODO 08-2
	 * Achieve: the VMCS holds the processor a BIOS hands a boot sector: real mode (protection
	 * and paging off) at CS:IP = cs:ip and SS:SP = 0:sp, every segment register a real-mode
	 * segment, the interrupt vector table as interrupt table, interrupts off; nothing of lab
	 * 01's 64-bit guest that differs is left, and the state passes every VM-entry check.
	 * SDM 27.3.1.1: "Bit 0 (corresponding to CR0.PE) and bit 31 (PG) are not checked if the
	 * "unrestricted guest" VM-execution control is 1."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-2.
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
	 * Achieve: the guest's own MOVs to and from CR0, CR3 and CR4 (its mode switches) cause no
	 * VM exit, except a change of a bit that must stay fixed under "unrestricted guest"; a MOV
	 * from CR0 or CR4 shows the guest those bits as a processor after reset has them (0).
	 * SDM 25.6.6: "In general, bits set to 1 in a guest/host mask correspond to bits "owned" by
	 * the host: Guest attempts to set them (using CLTS, LMSW, or MOV to CR) to values differing
	 * from the corresponding bits in the corresponding read shadow cause VM exits."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-3.
	 */
	TODO("08-3");
}
