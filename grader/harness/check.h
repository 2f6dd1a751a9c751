/* A check: a named run of the hypervisor up to a stage, optionally with a guest program.
 * Checks belong to the grader: the student's files never define or change them. */
#pragma once
#include "guest.h"
#include "hypercall.h"
#include "lab01.h"
#include "vcpu.h"

/* The stages of bringing up the hypervisor, in order; a check runs them up to last_stage. */
enum stage {
	STAGE_NONE = 0,   /* no lab code at all: only the check's verify() */
	STAGE_DETECT,     /* vmx_supported(), vmx_enable_feature_control() */
	STAGE_FIXED_BITS, /* vmx_set_fixed_bits() */
	STAGE_VMXON,      /* vmx_on() */
	STAGE_VMCS,       /* vmcs_load() */
	STAGE_RUN,        /* vmcs_setup_*(), lab setups, vcpu_run() with the guest program */
	STAGE_VMXOFF,     /* vmx_off() */
};

struct check {
	const char *name;
	enum stage last_stage;
	guest_program guest;            /* runs in VMX non-root operation */
	void (*setup)(struct vcpu *v);  /* host side, after the labs' setups, before VM entry */
	void (*verify)(struct vcpu *v); /* host side, after the guest is done */
	void (*run)(struct vcpu *v);    /* instead of vcpu_run(v): a check that runs several guests */
	bool demo;                      /* the check `make run` shows for this lab */
};

/* Defines check `check_name` of lab `lab`: puts a pointer to it into the .checks.<lab> section
 * (the linker script collects them, sorted by lab, between __checks_start and __checks_end) and
 * records "<lab> <name>" in the ELF section .vmxlabs.checks, which the grader reads to pair every
 * C check with its expectations (grader/spec/labNN.py) before it runs anything. */
#define CHECK(lab, ident, check_name, ...) \
	static const struct check check_##ident = { .name = check_name, __VA_ARGS__ }; \
	static const struct check *const check_ptr_##ident __section(".checks." #lab) __used = \
		&check_##ident; \
	__asm__(".pushsection .vmxlabs.checks,\"\",@progbits\n\t.asciz \"" #lab " " check_name \
		"\"\n\t.popsection")

extern const struct check *const __checks_start[], *const __checks_end[];

/* Fills the current VMCS for another guest `v` as the harness does for its own: lab 01's
 * vmcs_setup_controls/host/guest and every lab's setup, the guest starting at `rip` on `rsp`.
 * A multi-guest check makes v->vmcs current (vmcs_load) first. */
void harness_prepare_vcpu(struct vcpu *v, u64 rip, u64 rsp);

/* The fact protocol (facts.c): VMCALL exits answered for guest programs, and FACT lines. */
void hypercall_init(void);
/* A check's own hypercall numbers go to `h` (called for numbers the harness does not know). */
void hypercall_extend(exit_handler h);
/* GUEST_RIP += VM-exit instruction length, blocking by STI and MOV SS ended (facts.c). */
void vmx_advance_rip(struct vcpu *v);
/* Prints "FACT <token> key=value": the line the grader reads; the token ties it to this run. */
void report_fact(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After the check: the failed VMLAUNCH Bochs logs with a nonce-derived number (witness.c). */
void harness_witness(void);

/* Running a lab step inside a check's guest (guest_console.c). Host side, in a check's setup:
 * guest_console_capture() makes every IN/OUT of the guest exit (MSR bitmaps off too) and keeps
 * the COM1 output. Guest side: guest_step_panics() runs step(arg) and returns whether it
 * reached shutdown(), as a panic does; guest_console holds what the step printed. */
struct guest_console {
	bool shutdown;
	char text[256];
	unsigned length;
};
extern struct guest_console guest_console;
void guest_console_capture(void);
bool guest_step_panics(void (*step)(u64), u64 arg);

/* INVEPTs the hypervisor executed (observe.c): Bochs flushes its TLB at every VM entry and exit,
 * so a missing INVEPT never shows in a guest; the checks count them instead. */
struct invept_record {
	u64 count;
	enum invept_type last_type;
	u64 last_eptp;
};
extern struct invept_record invept_seen;
