/* Lab 08 checks: the unrestricted guest's guest-physical space. 2 MiB of RAM of its own at
 * guest-physical 0 (4-KiB EPT leaves onto a host block elsewhere, through the student's
 * ept_map()), except the machine's page 0 (IVT, BIOS data area), its EBDA page, VGA memory and
 * ROMs, which map to themselves; the guest's parameters, GDT, page tables (PAE and IA-32e),
 * data pages and code (lab08_guest.S at 0x7C00) in its RAM. */
#include "check.h"
#include "lab.h"
#include "lab08.h"
#include "lab07_space.h"
#include "lab08_shared.h"
#include "lab08_space.h"
#include "params.h"

extern const char lab08_guest_start[], lab08_guest_end[];
extern const u64 lab08_pae_entry_offset;

#define GDT_CODE32 0x00cf9a000000ffffUL /* base 0, limit 4 GiB, execute/read, D = 1 */
#define GDT_DATA 0x00cf92000000ffffUL   /* base 0, limit 4 GiB, read/write */
#define GDT_CODE64 0x00af9a000000ffffUL /* L = 1 */
#define AR_FLAT_CODE32 (AR_TYPE(SEG_TYPE_CODE_RX_ACCESSED) | AR_S | AR_P | AR_DB | AR_G)
#define AR_FLAT_DATA (AR_TYPE(SEG_TYPE_DATA_RW_ACCESSED) | AR_S | AR_P | AR_DB | AR_G)

#define VGA_MEMORY_END 0xc0000 /* VGA memory ends, the option ROMs begin */
#define CR3_PAE_IGNORED 0x18   /* PWT, PCD: with PAE paging CR3 bits 4:0 are ignored */

u8 *lab08_ram;

/* ---- the guest's memory: parameters, GDT, PAE and IA-32e page tables, data pages, code ---- */

static void build_page_tables(u32 nonce)
{
	const u64 rw = PTE_PRESENT | PTE_WRITABLE;
	for (unsigned i = 0; i < 4; i++) {
		u64 *pd = (u64 *)(lab08_ram + UG_PD + i * PAGE_SIZE),
		    *pt = (u64 *)(lab08_ram + UG_PT + i * PAGE_SIZE);
		((u64 *)(lab08_ram + UG_PAE_PDPT))[i] = (UG_PD + i * PAGE_SIZE) | PTE_PRESENT; /* SDM 5.4.1 */
		if (i == 0)
			pd[0] = 0 | rw | PTE_PAGE_SIZE; /* the first 2 MiB: linear = physical */
		pd[UG_DATA_LINEAR / SIZE_2M] = (UG_PT + i * PAGE_SIZE) | rw;
		pt[0] = (UG_DATA + i * PAGE_SIZE) | rw;
		*(u32 *)(lab08_ram + UG_DATA + i * PAGE_SIZE + DATA_OFFSET) = (nonce ^ i) * DATA_MULTIPLIER;
	}
	((u64 *)(lab08_ram + UG_PML4))[0] = UG_PDPT64 | rw;
	((u64 *)(lab08_ram + UG_PDPT64))[0] = UG_PD | rw;
}

static void build_memory(u64 phases)
{
	lab08_ram = lab07_alloc_2m();
	u64 *params = (u64 *)(lab08_ram + UG_PARAMS), *gdt = (u64 *)(lab08_ram + UG_GDT);
	params[P_NONCE / 8] = boot_params.nonce;
	params[P_PHASES / 8] = phases;
	gdt[SEL_CODE32 / 8] = GDT_CODE32;
	gdt[SEL_DATA / 8] = GDT_DATA;
	gdt[SEL_CODE64 / 8] = GDT_CODE64;
	build_page_tables((u32)boot_params.nonce);
	u64 size = (u64)(lab08_guest_end - lab08_guest_start);
	if (size > UG_CODE_MAX)
		panic("lab08: the guest program is larger than UG_CODE_MAX");
	memcpy(lab08_ram + UG_ENTRY, lab08_guest_start, size);
}

/* The guest-physical space of a PC: its own RAM, and the machine's page 0 (IVT, BIOS data
 * area), EBDA page, VGA memory (read/write) and ROMs (read/execute) at their own addresses. */
static void map_guest(struct vcpu *v)
{
	for (u64 gpa = 0; gpa < UG_RAM_SIZE; gpa += PAGE_SIZE) {
		if (gpa == UG_IVT || gpa == UG_EBDA_PAGE)
			ept_map(v, gpa, gpa, SIZE_4K, EPT_READ | EPT_WRITE);
		else if (gpa >= UG_LOW_RAM_END && gpa < VGA_MEMORY_END)
			ept_map(v, gpa, gpa, SIZE_4K, EPT_READ | EPT_WRITE);
		else if (gpa >= VGA_MEMORY_END && gpa < UG_HIGH_RAM)
			ept_map(v, gpa, gpa, SIZE_4K, EPT_READ | EPT_EXECUTE);
		else
			ept_map(v, gpa, virt_to_phys(lab08_ram + gpa), SIZE_4K, EPT_RWX);
	}
	lab08(v)->ram_end = UG_RAM_SIZE;
	lab08(v)->machine_end = UG_MACHINE_RAM;
}

void lab08_space_build(struct vcpu *v, u64 phases)
{
	build_memory(phases);
	ept_enable(v, false);
	map_guest(v);
}

/* A copy of the PDPT at a 32-byte boundary that is not a page's, its entries with PWT and PCD
 * from the nonce (SDM 5.4.1: CR3 bits 31:5 locate it; Table 5-8: PDPTE bits 3 and 4). */
static u64 lab08_pae_pdpt(u32 nonce)
{
	u64 pdpt = UG_PAE_PDPT + PAE_PDPT_SIZE * (1 + nonce % PAE_PDPT_SLOTS);
	for (unsigned i = 0; i < 4; i++)
		((u64 *)(lab08_ram + pdpt))[i] =
			((u64 *)(lab08_ram + UG_PAE_PDPT))[i] | PAE_PDPTE_CACHE_BITS(nonce, i);
	return pdpt;
}

/* 32-bit protected mode with PAE paging on the guest's own tables, at lab08_pae_entry. */
void lab08_enter_pae(void)
{
	u64 cr0 = vmcs_read(GUEST_CR0) | CR0_PE | CR0_PG, cr4 = vmcs_read(GUEST_CR4) | CR4_PAE;
	vmcs_write(GUEST_CR0, cr0);
	vmcs_write(CR0_READ_SHADOW, cr0 & ~vmcs_read(CR0_GUEST_HOST_MASK));
	vmcs_write(GUEST_CR4, cr4);
	vmcs_write(CR4_READ_SHADOW, cr4 & ~vmcs_read(CR4_GUEST_HOST_MASK));
	vmcs_write(GUEST_CR3, lab08_pae_pdpt((u32)boot_params.nonce) | CR3_PAE_IGNORED);
	vmcs_write_guest_segment(GUEST_CS_SELECTOR, SEL_CODE32, 0, 0xffffffff, AR_FLAT_CODE32);
	const enum vmcs_field data[] = { GUEST_SS_SELECTOR, GUEST_DS_SELECTOR, GUEST_ES_SELECTOR,
					 GUEST_FS_SELECTOR, GUEST_GS_SELECTOR };
	for (unsigned i = 0; i < ARRAY_SIZE(data); i++)
		vmcs_write_guest_segment(data[i], SEL_DATA, 0, 0xffffffff, AR_FLAT_DATA);
	vmcs_write(GUEST_GDTR_BASE, UG_GDT);
	vmcs_write(GUEST_GDTR_LIMIT, UG_GDT_LIMIT);
	vmcs_write(GUEST_IDTR_LIMIT, 0);
	vmcs_write(GUEST_RIP, UG_ENTRY + lab08_pae_entry_offset);
	for (unsigned i = 0; i < 4; i++)
		vmcs_write(GUEST_PDPTE0 + 2 * i, 0);
}
