/* Names for numbers: VMCS fields, exit reasons, VM-instruction errors (all from the SDM). */
#include "vmx.h"
#include "vmx_exit.h"

struct named {
	unsigned long number;
	const char *name;
};

static const struct named vmcs_fields[] = {
#define VMCS_NAME_ENTRY(name, encoding) { encoding, #name },
	VMCS_FIELDS(VMCS_NAME_ENTRY)
#undef VMCS_NAME_ENTRY
};

static const struct named exit_reasons[] = {
#define EXIT_REASON_NAME_ENTRY(name, number) { number, #name },
	EXIT_REASONS(EXIT_REASON_NAME_ENTRY)
#undef EXIT_REASON_NAME_ENTRY
};

static const struct named vm_errors[] = {
#define VM_ERROR_ENTRY(number, text) { number, text },
	VM_INSTRUCTION_ERRORS(VM_ERROR_ENTRY)
#undef VM_ERROR_ENTRY
};

static const char *lookup(const struct named *table, size_t n, unsigned long number)
{
	for (size_t i = 0; i < n; i++)
		if (table[i].number == number)
			return table[i].name;
	return NULL;
}

const char *vmcs_field_name(unsigned long encoding)
{
	return lookup(vmcs_fields, ARRAY_SIZE(vmcs_fields), encoding);
}

const char *exit_reason_name(unsigned reason)
{
	return lookup(exit_reasons, ARRAY_SIZE(exit_reasons), reason);
}

const char *vm_instruction_error_text(unsigned long error)
{
	const char *text = lookup(vm_errors, ARRAY_SIZE(vm_errors), error);
	return text ? text : "(no such error number in the SDM)";
}

const char *vmx_status_name(enum vmx_status s)
{
	switch (s) {
	case VMX_SUCCEED:
		return "VMsucceed";
	case VMX_FAIL_INVALID:
		return "VMfailInvalid";
	case VMX_FAIL_VALID:
		return "VMfailValid";
	}
	return "?";
}
