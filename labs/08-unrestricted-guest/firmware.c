/* Lab 08: the machine's own BIOS as guest code. A real-mode guest calls its services through
 * the IVT; the hypervisor keeps the machine-wide ports and its own memory to itself
 * (SDM Vol. 3C, 25.6.4; ACPI 6.5, 15.1 "INT 15H, E820H"). */
#include "lab.h"
#include "lab08.h"

/* The BIOS's ports pass through, except those that act on the whole machine. */
void ug_firmware_io(struct vcpu *v)
{
	/* TODO 08-8
	 * Achieve: the guest's IN and OUT reach every device of the machine without a VM exit,
	 * except the machine-wide ports of lab08.h (PORT_*), which always exit, whatever the
	 * bitmaps held before.
	 * SDM 25.6.4: "I/O bitmap A contains one bit for each I/O port in the range 0000H through
	 * 7FFFH; I/O bitmap B contains bits for ports in the range 8000H through FFFFH."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-8.
	 */
	(void)v;
	TODO("08-8");
}

/* The hook: cmp eax, 0xe820; jne chain; vmcall; retf 2; chain: jmp far to the BIOS. */
static const u8 int15_stub[] = {
	0x66, 0x3d, 0x20, 0xe8, 0x00, 0x00, /* cmp eax, 0x0000e820 */
	0x75, 0x06,                         /* jne +6 */
	0x0f, 0x01, 0xc1,                   /* vmcall */
	0xca, 0x02, 0x00,                   /* retf 2: return with the flags the hypervisor set */
	0xea,                               /* jmp far ptr16:16, the BIOS's vector follows */
};
#define INT15_VECTOR 0x15
#define ONE_MIB 0x100000UL

/* Points the guest's INT 15h at a stub at guest-physical `stub_gpa` that hands E820h calls to
 * the hypervisor (VMCALL, answered by ug_e820_answer()) and every other call to the BIOS. */
void ug_hook_int15(struct vcpu *v, u64 stub_gpa)
{
	/* TODO 08-9
	 * Achieve: the guest's INT 15h runs the stub, copied to stub_gpa and followed by the BIOS's
	 * INT 15h vector (the operand of its far jump), so that E820h calls exit to the hypervisor
	 * and every other call reaches the BIOS; lab08(v)->int15_ip and int15_cs keep the BIOS's
	 * vector.
	 * SDM Vol. 3A 21.1.4: "The interrupt vector table is an array of 4-byte entries ... Each
	 * entry consists of a far pointer to a handler procedure, made up of a segment selector and
	 * an offset."
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-9.
	 */
	(void)v;
	(void)stub_gpa;
	(void)int15_stub;
	TODO("08-9");
}

struct e820_entry {
	u64 base, length;
	u32 type;
} __attribute__((packed));

/* Answers one INT 15h E820h call the stub handed over (registers as the guest left them). */
void ug_e820_answer(struct vcpu *v)
{
	/* TODO 08-10
	 * Achieve: one E820h call answered as ACPI's "Query System Address Map" (INT 15H, E820H)
	 * specifies, with the guest's map, never the machine's: [0, E820_EBDA) usable, [E820_EBDA,
	 * 640 KiB) reserved, [E820_BIOS, 1 MiB) reserved, [1 MiB, lab08(v)->ram_end) usable,
	 * [ram_end, machine_end) reserved. A call without the signature or with a buffer smaller
	 * than an entry fails (CF = 1). The stub returns with RETF 2, so the flags in the VMCS are
	 * the ones the caller gets.
	 * SDM Vol. 3A 21.1.1: a real-mode segment's base is its selector times 16. ACPI (E820h):
	 * the buffer is ES:DI, one entry per call, EBX the next call's continuation value, 0 after
	 * the last entry.
	 * Hints: docs/labs/08-unrestricted-guest.md, step 08-10.
	 */
	(void)v;
	TODO("08-10");
}
