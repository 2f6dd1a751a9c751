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
	 * bit 3 = direction (1 = IN), bit 4 = string instruction, bit 5 = REP prefix, bit 6 =
	 * operand encoding (1 = immediate port), bits 31:16 = port (for both encodings). SDM
	 * 28.2.5: for INS/OUTS the VM-exit instruction-information field gives the address size
	 * in bits 9:7 (0 = 16, 1 = 32, 2 = 64 bits) and, for OUTS, the segment in bits 17:15.
	 * INS writes to ES:RDI, OUTS reads from seg:RSI (DS unless overridden); in 64-bit mode
	 * only FS and GS have non-zero bases (SDM Vol. 1, 3.4.2.1). Each element moves RDI/RSI by
	 * the size, backwards when RFLAGS.DF = 1; REP repeats RCX times and leaves RCX = 0. A
	 * plain IN of 1 or 2 bytes keeps the rest of RAX; IN of 4 bytes clears bits 63:32.
	 * Do: decode; for IN/OUT move between AL/AX/EAX and io_access(); for INS/OUTS walk the
	 * guest buffer, then update RSI or RDI (and RCX for REP) within the address size.
	 * Skip the instruction and resume.
	 * Hint: io_qual_*(), ins_outs_info_*() and enum segment_register are in vmx_exit.h;
	 * guest_linear_to_host() (vcpu.h) turns a guest address into a pointer; the bases are
	 * GUEST_FS_BASE and GUEST_GS_BASE. Updates follow the address size: a 32-bit register
	 * write clears bits 63:32, a 16-bit one keeps the bits above 15.
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
	u64 base = segment == SEGREG_FS ? vmcs_read(GUEST_FS_BASE) :
		   segment == SEGREG_GS ? vmcs_read(GUEST_GS_BASE) : 0;
	u64 mask = address_size == ADDRESS_SIZE_16 ? 0xffff :
		   address_size == ADDRESS_SIZE_32 ? 0xffffffffUL : ~0UL;
	u64 keep = address_size == ADDRESS_SIZE_16 ? ~0xffffUL : 0;	/* bits a 16-bit update leaves alone */
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
