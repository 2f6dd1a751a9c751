/*
 * A lab step run inside a check's guest, where its panic must not end the run: every IN/OUT of
 * the guest exits to capture_console(), which keeps the COM1 output and turns the write to the
 * shutdown port into a #UD in the guest, where guest_catch() around the step returns.
 */
#include "check.h"
#include "kernel.h"
#include "x86.h"
#include "vmx_controls.h"

#define CONSOLE_PORT 0x3f8
#define CONSOLE_LINE_STATUS_PORT 0x3fd
#define LINE_STATUS_EMPTY 0x60 /* transmitter holding register and transmitter empty */

struct guest_console guest_console;

static enum exit_verdict capture_console(struct vcpu *v)
{
	u64 q = v->exit.qualification;
	if (io_qual_port(q) == SHUTDOWN_PORT) {
		guest_console.shutdown = true;
		vmcs_write(VM_ENTRY_INTERRUPTION_INFORMATION,
			   intr_info(VEC_UD, INTR_TYPE_HARDWARE_EXCEPTION, false));
		return EXIT_RESUME;
	}
	if (io_qual_in(q))
		v->regs.rax = io_qual_port(q) == CONSOLE_LINE_STATUS_PORT ? LINE_STATUS_EMPTY : 0;
	else if (io_qual_port(q) == CONSOLE_PORT && guest_console.length + 1 < sizeof(guest_console.text))
		guest_console.text[guest_console.length++] = (char)v->regs.rax;
	vmx_advance_rip(v);
	return EXIT_RESUME;
}

void guest_console_capture(void)
{
	u64 primary = vmcs_read(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);
	primary &= ~(u64)(CPU_USE_MSR_BITMAPS | CPU_USE_IO_BITMAPS);
	vmcs_write(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, primary | CPU_UNCONDITIONAL_IO_EXITING);
	exit_register(EXIT_REASON_IO_INSTRUCTION, capture_console);
}

bool guest_step_panics(void (*step)(u64), u64 arg)
{
	guest_console.shutdown = false;
	guest_console.length = 0;
	guest_catch(step, arg, NULL);
	guest_console.text[guest_console.length] = '\0';
	return guest_console.shutdown;
}
