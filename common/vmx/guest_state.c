/* Access to the guest's general registers by SDM index, and to its memory. */
#include "kernel.h"
#include "tss32.h"
#include "vcpu.h"
#include "vmx_controls.h"

/* SDM index -> slot in struct guest_regs (index 4, RSP, is in the VMCS). */
static u64 *reg_slot(struct vcpu *v, unsigned index)
{
	u64 *const slots[16] = {
		&v->regs.rax, &v->regs.rcx, &v->regs.rdx, &v->regs.rbx, NULL,         &v->regs.rbp,
		&v->regs.rsi, &v->regs.rdi, &v->regs.r8,  &v->regs.r9,  &v->regs.r10, &v->regs.r11,
		&v->regs.r12, &v->regs.r13, &v->regs.r14, &v->regs.r15,
	};
	if (index >= 16)
		panic("guest register index %u out of range", index);
	return slots[index];
}

u64 guest_reg_read(struct vcpu *v, unsigned index)
{
	u64 *slot = reg_slot(v, index);
	return slot ? *slot : vmcs_read(GUEST_RSP);
}

void guest_reg_write(struct vcpu *v, unsigned index, u64 value)
{
	u64 *slot = reg_slot(v, index);
	if (slot)
		*slot = value;
	else
		vmcs_write(GUEST_RSP, value);
}

void *guest_linear_to_host(struct vcpu *v, u64 gla)
{
	(void)v;
	return (void *)gla;
}

bool guest_gdt_entry(struct vcpu *v, u16 selector, u64 **entry)
{
	u64 index = selector & ~7UL;
	if ((selector & 4) || index + 7 > vmcs_read(GUEST_GDTR_LIMIT))
		return false;
	*entry = guest_linear_to_host(v, vmcs_read(GUEST_GDTR_BASE) + index);
	return true;
}

bool guest_load_segment(struct vcpu *v, enum vmcs_field selector_field, u16 selector)
{
	u64 *entry;
	if ((selector & ~3) == 0) {
		vmcs_write_guest_segment(selector_field, selector, 0, 0, AR_UNUSABLE);
		return true;
	}
	bool ldtr = selector_field == GUEST_LDTR_SELECTOR;
	if (!guest_gdt_entry(v, selector, &entry) || !DESC_PRESENT(*entry))
		return false;
	if (ldtr ? DESC_S(*entry) || DESC_TYPE(*entry) != SEG_TYPE_LDT : !DESC_S(*entry))
		return false;
	if (!ldtr)
		*entry |= 1UL << 40; /* a code/data load sets the accessed bit */
	vmcs_write_guest_segment(selector_field, selector, DESC_BASE(*entry), desc_limit(*entry),
				 desc_access_rights(*entry));
	return true;
}
