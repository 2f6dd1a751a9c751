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
	 * Achieve: after this call, an access to any port from `port` to `port + count - 1` exits
	 * under "use I/O bitmaps", and no other port changes; the 16-bit port space does not wrap
	 * around.
	 * SDM 25.6.4: "I/O bitmap A contains one bit for each I/O port in the range 0000H through
	 * 7FFFH; I/O bitmap B contains bits for ports in the range 8000H through FFFFH."
	 * Hints: docs/labs/02-exits.md, step 02-11.
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
	 * Achieve: each trapped IN, OUT, INS or OUTS, with or without REP, has the effect the
	 * instruction would have had on the device io_access() reaches: the same port, size,
	 * direction and data, the same changes to RAX, RSI, RDI, RCX and guest memory; then the
	 * guest continues after it.
	 * SDM 28.2.1, exit qualification for I/O instructions, bits 31:16: "Port number (as
	 * specified in DX or in an immediate operand)".
	 * Hints: docs/labs/02-exits.md, step 02-12.
	 */
	u64 q = v->exit.qualification;
	unsigned size = io_qual_size(q);
	bool is_in = io_qual_in(q);
	u16 port = io_qual_port(q);
	if (!io_qual_string(q)) {
		u32 value = (u32)v->regs.rax;
		io_access(port, size, is_in, &value);
		if (is_in && size == 4)
			v->regs.rax = value;
		else if (is_in)
			v->regs.rax = (v->regs.rax & ~((1UL << (8 * size)) - 1)) | value;
		vmx_skip_instruction(v);
		return EXIT_RESUME;
	}
	u64 info = vmcs_read(VM_EXIT_INSTRUCTION_INFORMATION);
	enum address_size address_size = ins_outs_info_address_size(info);
	unsigned segment = is_in ? SEGREG_ES : ins_outs_info_segment(info);
	u64 base = segment == SEGREG_FS   ? vmcs_read(GUEST_FS_BASE)
		   : segment == SEGREG_GS ? vmcs_read(GUEST_GS_BASE)
					  : 0;
	u64 mask = address_size == ADDRESS_SIZE_16   ? 0xffff
		   : address_size == ADDRESS_SIZE_32 ? 0xffffffffUL
						     : ~0UL;
	u64 keep = address_size == ADDRESS_SIZE_16 ? ~0xffffUL : 0; /* bits a 16-bit update leaves alone */
	u64 *index = is_in ? &v->regs.rdi : &v->regs.rsi;
	u64 count = io_qual_rep(q) ? v->regs.rcx & mask : 1;
	s64 step = (vmcs_read(GUEST_RFLAGS) & RFLAGS_DF) ? -(s64)size : (s64)size;
	for (; count; count--) {
		u8 *element = guest_linear_to_host(v, base + (*index & mask));
		u32 value = 0;
		if (!is_in)
			memcpy(&value, element, size);
		io_access(port, size, is_in, &value);
		if (is_in)
			memcpy(element, &value, size);
		*index = (*index & keep) | ((*index + step) & mask);
	}
	if (io_qual_rep(q))
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
