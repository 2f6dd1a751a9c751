/* Lab 08: the machine's own BIOS as guest code. A real-mode guest calls its services through
 * the IVT; the hypervisor keeps the machine-wide ports and its own memory to itself
 * (SDM Vol. 3C, 25.6.4; ACPI 6.5, 15.1 "INT 15H, E820H"). */
#include "lab.h"
#include "lab08.h"

/* The BIOS's ports pass through, except those that act on the whole machine. */
void ug_firmware_io(struct vcpu *v)
{
	/* BEGIN 08-8 unused: v
	 * SDM 25.6.4: with "use I/O bitmaps", an IN or OUT exits exactly when the bit of one of
	 * its ports is 1 in bitmap A (ports 0000-7FFF) or B (8000-FFFF). The BIOS drives the
	 * disk, the video card and the timers through ports: those must reach the devices, with
	 * no exit. Some ports of Bochs's PC act on the whole machine, not on the guest: port 0x92
	 * and the 8042 (0x60, 0x64) mask address line 20 for host and guest alike or reset the
	 * machine, and so does 0xCF9; "Shutdown" written to 0x8900 powers Bochs off; the BIOS's
	 * panic ports 0x400-0x403 and 0x500-0x503 end the run.
	 * Do: clear both bitmaps (whatever an earlier setup made exit), then make the ports above
	 * exit.
	 * Hint: lab02(v)->io_bitmap_a/_b (4 KiB each), io_intercept() (lab 02), PORT_* in
	 * lab08.h. The check registers a device that answers the exits.
	 */
	memset(lab02(v)->io_bitmap_a, 0, PAGE_SIZE);
	memset(lab02(v)->io_bitmap_b, 0, PAGE_SIZE);
	io_intercept(v, PORT_KBC_DATA, 1);
	io_intercept(v, PORT_KBC_COMMAND, 1);
	io_intercept(v, PORT_SYSTEM_CONTROL_A, 1);
	io_intercept(v, PORT_ROMBIOS_DEBUG, PORT_DEBUG_COUNT);
	io_intercept(v, PORT_VGABIOS_DEBUG, PORT_DEBUG_COUNT);
	io_intercept(v, PORT_RESET_CONTROL, 1);
	io_intercept(v, PORT_BOCHS_SHUTDOWN, 1);
	/* END 08-8 */
}

/* The hook: cmp eax, 0xe820; jne chain; vmcall; retf 2; chain: jmp far to the BIOS. */
static const u8 int15_stub[] = {
	0x66, 0x3d, 0x20, 0xe8, 0x00, 0x00,	/* cmp eax, 0x0000e820 */
	0x75, 0x06,				/* jne +6 */
	0x0f, 0x01, 0xc1,			/* vmcall */
	0xca, 0x02, 0x00,			/* retf 2: return with the flags the hypervisor set */
	0xea,					/* jmp far ptr16:16, the BIOS's vector follows */
};
#define INT15_VECTOR 0x15
#define ONE_MIB 0x100000UL

/* Points the guest's INT 15h at a stub at guest-physical `stub_gpa` that hands E820h calls to
 * the hypervisor (VMCALL, answered by ug_e820_answer()) and every other call to the BIOS. */
void ug_hook_int15(struct vcpu *v, u64 stub_gpa)
{
	/* BEGIN 08-9 unused: v, stub_gpa, int15_stub
	 * SDM Vol. 3A, 20.1.4: in real mode, INT n takes its handler from the IVT at linear
	 * address 4 * n: a 2-byte offset (IP), then a 2-byte segment (CS). SDM 26.1.2: VMCALL
	 * exits unconditionally, in real mode too. The guest's memory is guest-physical: reach it
	 * through the EPT.
	 * Do: keep the BIOS's vector in lab08(v)->int15_ip/_cs; copy int15_stub to stub_gpa with
	 * that vector (IP, then CS) right after it; point IVT entry 0x15 at the stub (CS:IP with
	 * CS * 16 + IP = stub_gpa, stub_gpa < 1 MiB).
	 * Hint: ept_gpa_to_host() (lab 07).
	 */
	u16 *vector = ept_gpa_to_host(v, 4 * INT15_VECTOR);
	u8 *stub = ept_gpa_to_host(v, stub_gpa);
	if (!vector || !stub)
		panic("ug_hook_int15: the IVT or the stub's page is not mapped");
	lab08(v)->int15_ip = vector[0];
	lab08(v)->int15_cs = vector[1];
	memcpy(stub, int15_stub, sizeof(int15_stub));
	memcpy(stub + sizeof(int15_stub), vector, 4);
	vector[0] = (u16)(stub_gpa & 0xf);
	vector[1] = (u16)(stub_gpa >> 4);
	/* END 08-9 */
}

struct e820_entry {
	u64 base, length;
	u32 type;
} __attribute__((packed));

/* Answers one INT 15h E820h call the stub handed over (registers as the guest left them). */
void ug_e820_answer(struct vcpu *v)
{
	/* BEGIN 08-10 unused: v
	 * ACPI 6.5, 15.1: the caller passes EAX = E820h, EDX = "SMAP", EBX = the continuation
	 * value (0 on the first call), ECX = its buffer's size (at least 20), ES:DI = the buffer.
	 * One call returns one entry (base, length, type: 1 = usable RAM, 2 = reserved) with
	 * CF = 0, EAX = "SMAP", ECX = the bytes written, EBX = the value for the next call or 0
	 * after the last entry; CF = 1 means an error. The guest must never be told that memory
	 * it does not have is RAM: beyond its own RAM the machine's memory is the hypervisor's.
	 * Do: the map is [0, E820_EBDA) usable, [E820_EBDA, 640 KiB) reserved, [E820_BIOS, 1 MiB)
	 * reserved, [1 MiB, ram_end) usable, [ram_end, machine_end) reserved (lab08(v)); write
	 * entry EBX at ES.base + DI, set the registers, and set or clear RFLAGS.CF in the VMCS
	 * (the stub returns with RETF 2, which keeps the current flags).
	 * Hint: GUEST_ES_BASE; ept_gpa_to_host(); RFLAGS_CF; v->regs.
	 */
	const struct lab08_vcpu *s = lab08(v);
	const struct e820_entry map[] = {
		{ 0, E820_EBDA, E820_USABLE },
		{ E820_EBDA, 0xa0000 - E820_EBDA, E820_RESERVED },
		{ E820_BIOS, ONE_MIB - E820_BIOS, E820_RESERVED },
		{ ONE_MIB, s->ram_end - ONE_MIB, E820_USABLE },
		{ s->ram_end, s->machine_end - s->ram_end, E820_RESERVED },
	};
	u32 index = (u32)v->regs.rbx;
	u64 buffer = vmcs_read(GUEST_ES_BASE) + (v->regs.rdi & 0xffff);
	struct e820_entry *out = ept_gpa_to_host(v, buffer);
	u64 rflags = vmcs_read(GUEST_RFLAGS);
	if ((u32)v->regs.rdx != E820_SIGNATURE || (u32)v->regs.rcx < E820_ENTRY_SIZE ||
	    index >= ARRAY_SIZE(map) || !out) {
		vmcs_write(GUEST_RFLAGS, rflags | RFLAGS_CF);
		return;
	}
	*out = map[index];
	v->regs.rax = E820_SIGNATURE;
	v->regs.rcx = E820_ENTRY_SIZE;
	v->regs.rbx = index + 1 < ARRAY_SIZE(map) ? index + 1 : 0;
	vmcs_write(GUEST_RFLAGS, rflags & ~RFLAGS_CF);
	/* END 08-10 */
}
