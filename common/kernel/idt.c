/* The host IDT: every exception in VMX root operation is reported with its RIP and ends the run. */
#include "kernel.h"
#include "segment.h"
#include "trap.h"
#include "x86.h"

#define GATE_INTERRUPT_64 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define IST_FAULT_STACK 1

struct idt_gate host_idt[IDT_VECTORS] __aligned(16);

static const char *const exception_names[32] = {
	[VEC_DE] = "#DE", [VEC_DB] = "#DB", [VEC_NMI] = "NMI", [VEC_BP] = "#BP", [VEC_OF] = "#OF",
	[VEC_BR] = "#BR", [VEC_UD] = "#UD", [VEC_NM] = "#NM",  [VEC_DF] = "#DF", [VEC_TS] = "#TS",
	[VEC_NP] = "#NP", [VEC_SS] = "#SS", [VEC_GP] = "#GP",  [VEC_PF] = "#PF", [VEC_MF] = "#MF",
	[VEC_AC] = "#AC", [VEC_MC] = "#MC", [VEC_XM] = "#XM",  [VEC_VE] = "#VE", [VEC_CP] = "#CP",
};

const char *exception_name(u64 vector)
{
	if (vector < ARRAY_SIZE(exception_names) && exception_names[vector])
		return exception_names[vector];
	return vector < 32 ? "reserved" : "interrupt";
}

/* Points every gate of idt at its stub; faults run on the IST stack so a bad RSP still reports. */
void idt_fill(struct idt_gate *idt, const u8 *stubs)
{
	for (unsigned v = 0; v < IDT_VECTORS; v++) {
		u64 stub = (u64)(stubs + v * VECTOR_STUB_SIZE);
		idt[v] = (struct idt_gate){
			.offset_low = (u16)stub,
			.selector = SEL_KERNEL_CS64,
			.ist = v < 32 ? IST_FAULT_STACK : 0,
			.type_attr = GATE_INTERRUPT_64,
			.offset_mid = (u16)(stub >> 16),
			.offset_high = (u32)(stub >> 32),
		};
	}
}

void idt_init(void)
{
	struct descriptor_table d = { sizeof(host_idt) - 1, (u64)host_idt };
	idt_fill(host_idt, host_vector_stubs);
	__asm__ volatile("lidt %0" : : "m"(d));
}

void host_trap(struct trap_frame *f)
{
	panic("host exception %s (vector %lu) error=0x%lx rip=0x%lx cr2=0x%lx rsp=0x%lx",
	      exception_name(f->vector), f->vector, f->error_code, f->rip, read_cr2(), f->rsp);
}
