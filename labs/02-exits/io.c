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
	 * Achieve: after this call, an access to any port from `port` to `port + count - 1` exits
	 * under "use I/O bitmaps", and no other port changes; the 16-bit port space does not wrap
	 * around.
	 * SDM 25.6.4: "I/O bitmap A contains one bit for each I/O port in the range 0000H through
	 * 7FFFH; I/O bitmap B contains bits for ports in the range 8000H through FFFFH."
	 * Hints: docs/labs/02-exits.md, step 02-11.
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
	 * Achieve: each trapped IN, OUT, INS or OUTS, with or without REP, has the effect the
	 * instruction would have had on the device io_access() reaches: the same port, size,
	 * direction and data, the same changes to RAX, RSI, RDI, RCX and guest memory; then the
	 * guest continues after it.
	 * SDM 28.2.1, exit qualification for I/O instructions, bits 31:16: "Port number (as
	 * specified in DX or in an immediate operand)".
	 * Hints: docs/labs/02-exits.md, step 02-12.
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
