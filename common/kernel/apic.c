/* Local APIC: enable it, a one-shot timer, EOI, ISR queries and self-NMIs (SDM Vol. 3A, ch. 11). */
#include "apic.h"
#include "x86.h"

#define SPURIOUS_VECTOR 0xff

void apic_init(void)
{
	wrmsr(MSR_IA32_APIC_BASE, rdmsr(MSR_IA32_APIC_BASE) | APIC_BASE_ENABLE);
	apic_write(APIC_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
	apic_write(APIC_TPR, 0);
}

void apic_timer_oneshot(u8 vector, u32 count)
{
	apic_write(APIC_TIMER_DIVIDE, APIC_TIMER_DIVIDE_BY_1);
	apic_write(APIC_LVT_TIMER, vector); /* one-shot, not masked */
	apic_write(APIC_TIMER_INITIAL_COUNT, count);
}

void apic_eoi(void) { apic_write(APIC_EOI, 0); }

bool apic_in_service(u8 vector) { return (apic_read(APIC_ISR + 0x10 * (vector / 32)) >> (vector % 32)) & 1; }

/* The "self" shorthand allows only fixed delivery: address our own APIC ID instead. */
void apic_self_nmi(void)
{
	apic_write(APIC_ICR_HIGH, apic_read(APIC_ID) & 0xff000000U);
	apic_write(APIC_ICR_LOW, APIC_ICR_DELIVERY_NMI);
}
