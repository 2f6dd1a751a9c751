/* Checked VMREAD/VMWRITE and the one reporter for failed VMX instructions. */
#include "kernel.h"
#include "vmx.h"

static const char *field_name(enum vmcs_field field)
{
	const char *name = vmcs_field_name(field);
	return name ? name : "(unknown field)";
}

/* VMfailValid leaves its error number in the current VMCS; read it without recursion. */
void vmx_report_failure(const char *instruction, enum vmx_status status)
{
	u64 error = 0;
	printf("VMX: %s failed: %s", instruction, vmx_status_name(status));
	if (status == VMX_FAIL_VALID && vmread(VM_INSTRUCTION_ERROR, &error) == VMX_SUCCEED)
		printf(", VM-instruction error %lu: %s", error, vm_instruction_error_text(error));
	else if (status == VMX_FAIL_INVALID)
		printf(" (no current VMCS, or the operand is invalid)");
	printf("\n");
}

u64 vmcs_read(enum vmcs_field field)
{
	u64 value = 0;
	enum vmx_status s = vmread(field, &value);
	if (s != VMX_SUCCEED) {
		char what[96];
		snprintf(what, sizeof(what), "VMREAD of %s (0x%x)", field_name(field), field);
		vmx_report_failure(what, s);
		panic("vmcs_read: cannot read %s", field_name(field));
	}
	return value;
}

void vmcs_write(enum vmcs_field field, u64 value)
{
	enum vmx_status s = vmwrite(field, value);
	if (s != VMX_SUCCEED) {
		char what[128];
		snprintf(what, sizeof(what), "VMWRITE of 0x%lx to %s (0x%x)", value, field_name(field),
			 field);
		vmx_report_failure(what, s);
		panic("vmcs_write: cannot write %s", field_name(field));
	}
}

/* The four fields of a segment register are 2 apart in every width group (SDM Appendix B). */
void vmcs_write_guest_segment(enum vmcs_field selector_field, u16 selector, u64 base, u32 limit,
			      u32 access_rights)
{
	unsigned index = selector_field - GUEST_ES_SELECTOR;
	if (index > GUEST_TR_SELECTOR - GUEST_ES_SELECTOR || (index & 1))
		panic("vmcs_write_guest_segment: 0x%x is not a guest selector field", selector_field);
	vmcs_write(selector_field, selector);
	vmcs_write(GUEST_ES_BASE + index, base);
	vmcs_write(GUEST_ES_LIMIT + index, limit);
	vmcs_write(GUEST_ES_ACCESS_RIGHTS + index, access_rights);
}

void vmcs_set_bits(enum vmcs_field field, u64 bits, bool on)
{
	u64 value = vmcs_read(field);
	vmcs_write(field, on ? value | bits : value & ~bits);
}
