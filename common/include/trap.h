/* Interrupt and exception entry: the frame the stubs in vectors.S build. */
#pragma once
#include "types.h"

struct trap_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error_code;
	u64 rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

#define IDT_VECTORS 256
struct idt_gate {
	u16 offset_low, selector;
	u8 ist, type_attr;
	u16 offset_mid;
	u32 offset_high, reserved;
} __packed;

#define VECTOR_STUB_SIZE 16 /* stub v starts at <table> + 16 * v (vectors.S) */
extern const u8 host_vector_stubs[];
extern const u8 guest_vector_stubs[];
extern struct idt_gate host_idt[IDT_VECTORS];

void idt_fill(struct idt_gate *idt, const u8 *stubs);
const char *exception_name(u64 vector);
void host_trap(struct trap_frame *f);
void guest_trap(struct trap_frame *f);
