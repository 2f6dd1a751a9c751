/* The local APIC (SDM Vol. 3A, ch. 11), memory-mapped at its default base, used by host and guest. */
#pragma once
#include "types.h"

#define APIC_DEFAULT_BASE 0xfee00000UL
#define MSR_IA32_APIC_BASE 0x1b
#define APIC_BASE_ENABLE BIT(11)

/* Register offsets (SDM Table 11-1) */
#define APIC_ID 0x20
#define APIC_TPR 0x80
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0  /* spurious-interrupt vector; bit 8 = APIC software enable */
#define APIC_ISR 0x100 /* 8 registers, 0x10 apart, 32 vectors each */
#define APIC_IRR 0x200
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INITIAL_COUNT 0x380
#define APIC_TIMER_CURRENT_COUNT 0x390
#define APIC_TIMER_DIVIDE 0x3e0

#define APIC_SVR_ENABLE BIT(8)
#define APIC_ICR_DELIVERY_NMI (4U << 8)
#define APIC_ICR_SELF (1U << 18) /* destination shorthand 01: self */
#define APIC_TIMER_DIVIDE_BY_1 0xb

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_DEFAULT_BASE + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_DEFAULT_BASE + reg) = v; }

void apic_init(void);
/* Fires `vector` once, after `count` timer ticks (divide by 1). */
void apic_timer_oneshot(u8 vector, u32 count);
void apic_eoi(void);
bool apic_in_service(u8 vector);
void apic_self_nmi(void);
