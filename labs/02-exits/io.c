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
	/* TODO 02-11
	 * SDM 25.6.4: with "use I/O bitmaps", I/O bitmap A holds one bit per port 0000H-7FFFH
	 * and bitmap B one bit per port 8000H-FFFFH; an access exits when the bit of any port it
	 * touches is 1 (bit n%8 of byte n/8 of the page). Ports are 16 bits: stop at FFFFH.
	 * Do: set the bit of every port in the range, in the bitmap that holds it.
	 * Hint: lab02(v)->io_bitmap_a and lab02(v)->io_bitmap_b are zeroed 4-KiB pages (lab02_io_setup above).
	 */
	(void)v;
	(void)port;
	(void)count;
	TODO("02-11");
}

/* Emulates a trapped IN, OUT, INS or OUTS (with or without REP) on io_access(). */
static enum exit_verdict handle_io(struct vcpu *v)
{
	/* TODO 02-12
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
	(void)v;
	TODO("02-12");
}

static void lab02_io_handlers(struct vcpu *v)
{
	(void)v;
	exit_register(EXIT_REASON_IO_INSTRUCTION, handle_io);
}
LAB_SETUP(02, lab02_io_handlers);
