/* Lab 02: I/O instructions: which ports exit (the I/O bitmaps) and how an exit is emulated
 * (SDM Vol. 3C, 25.6.4, 26.1.3, 28.2.1 and 28.2.5). */
#include "io_device.h"
#include "lab.h"
#include "lab02.h"

static void lab02_io_setup(struct vcpu *v)
{
	lab02(v)->io_bitmap_a = page_alloc();
	lab02(v)->io_bitmap_b = page_alloc();
	vmcs_write(IO_BITMAP_A, virt_to_phys(lab02(v)->io_bitmap_a));
	vmcs_write(IO_BITMAP_B, virt_to_phys(lab02(v)->io_bitmap_b));
}
LAB_SETUP(02, lab02_io_setup);

/* Makes IN/OUT to ports port .. port + count - 1 exit. */
void io_intercept(struct vcpu *v, u16 port, unsigned count)
{
	/* BEGIN 02-11 unused: v, port, count
	 * SDM 25.6.4: with "use I/O bitmaps", I/O bitmap A holds one bit per port 0000H-7FFFH
	 * and bitmap B one bit per port 8000H-FFFFH; an access exits when the bit of any port it
	 * touches is 1 (bit n%8 of byte n/8 of the page). Ports are 16 bits: stop at FFFFH.
	 * Do: set the bit of every port in the range, in the bitmap that holds it.
	 * Hint: lab02(v)->io_bitmap_a and lab02(v)->io_bitmap_b are zeroed 4-KiB pages (lab02_io_setup above).
	 */
	for (u32 p = port; p < (u32)port + count && p <= 0xffff; p++) {
		u8 *bitmap = p < 0x8000 ? lab02(v)->io_bitmap_a : lab02(v)->io_bitmap_b;
		u32 bit = p & 0x7fff;
		bitmap[bit / 8] |= (u8)BIT(bit % 8);
	}
	/* END 02-11 */
}

/* Emulates a trapped IN, OUT, INS or OUTS (with or without REP) on io_access(). */
static enum exit_verdict handle_io(struct vcpu *v)
{
	/* BEGIN 02-12 unused: v
	 * SDM 28.2.1 (exit qualification for I/O instructions): bits 2:0 = size - 1 (0, 1 or 3),
	 * bit 3 = direction (1 = IN), bit 4 = string instruction, bit 5 = REP prefix, bits 31:16 =
	 * port. SDM 28.2.5: for INS/OUTS the VM-exit instruction-information field gives the
	 * address size in bits 9:7 (0 = 16, 1 = 32, 2 = 64 bits). INS writes to ES:RDI, OUTS
	 * reads from DS:RSI (bases are 0 in 64-bit mode); each element moves RDI/RSI by the size,
	 * backwards when RFLAGS.DF = 1; REP repeats RCX times and leaves RCX = 0. A plain IN of 1
	 * or 2 bytes keeps the rest of RAX; IN of 4 bytes clears bits 63:32.
	 * Do: decode; for IN/OUT move between AL/AX/EAX and io_access(); for INS/OUTS walk the
	 * guest buffer, then update RSI or RDI (and RCX for REP) within the address size.
	 * Skip the instruction and resume.
	 * Hint: guest_linear_to_host() (vcpu.h) turns a guest address into a pointer. Updates
	 * follow the address size: a 32-bit register write clears bits 63:32, a 16-bit one keeps
	 * the bits above 15.
	 */
	u64 q = v->exit.qualification;
	unsigned size = (q & 7) + 1;
	bool is_in = q & BIT(3), string = q & BIT(4), rep = q & BIT(5);
	u16 port = (u16)(q >> 16);
	if (!string) {
		u32 value = (u32)v->regs.rax;
		io_access(port, size, is_in, &value);
		if (is_in && size == 4)
			v->regs.rax = value;
		else if (is_in)
			v->regs.rax = (v->regs.rax & ~((1UL << (8 * size)) - 1)) | value;
		vmx_skip_instruction(v);
		return EXIT_RESUME;
	}
	unsigned address_size = (vmcs_read(VM_EXIT_INSTRUCTION_INFORMATION) >> 7) & 7;
	u64 mask = address_size == 0 ? 0xffff : address_size == 1 ? 0xffffffffUL : ~0UL;
	u64 keep = address_size == 0 ? ~0xffffUL : 0;	/* bits a 16-bit update leaves alone */
	u64 *index = is_in ? &v->regs.rdi : &v->regs.rsi;
	u64 count = rep ? v->regs.rcx & mask : 1;
	s64 step = (vmcs_read(GUEST_RFLAGS) & RFLAGS_DF) ? -(s64)size : (s64)size;
	for (; count; count--) {
		u64 address = *index & mask;
		u32 value = 0;
		if (!is_in)
			memcpy(&value, guest_linear_to_host(v, address), size);
		io_access(port, size, is_in, &value);
		if (is_in)
			memcpy(guest_linear_to_host(v, address), &value, size);
		*index = (*index & keep) | ((address + step) & mask);
	}
	if (rep)
		v->regs.rcx &= keep;
	vmx_skip_instruction(v);
	return EXIT_RESUME;
	/* END 02-12 */
}

static void lab02_io_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_IO_INSTRUCTION, handle_io);
}
LAB_SETUP(02, lab02_io_handlers);
