"""Lab 03: plausible student bugs, each applied to a copy of the reference solution. The named
check must fail, and its explanation must contain `shows` (what the student sees about the cause).
Format: (id, lab, file, text in the solution, replacement, check that must fail, shows).
Instructor-only: `make dist` leaves this folder out of the student release."""

MUTANTS = [
    ("cr0-shadow-not-updated", "03", "cr_access.c",
     "\tvmcs_write(CR0_READ_SHADOW, value);\n", "",
     "cr0-shadow", "BAD      cr0.after_ne_clear"),
    ("real-cr0-not-kept-legal", "03", "cr_access.c",
     "vmcs_write(GUEST_CR0, (value | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1));",
     "vmcs_write(GUEST_CR0, value);",
     "cr0-shadow", "VM entry failed"),
    ("vmxe-visible-to-guest", "03", "cr_policy.c",
     "vmcs_write(CR4_READ_SHADOW, vmcs_read(GUEST_CR4) & ~CR4_VMXE);",
     "vmcs_write(CR4_READ_SHADOW, vmcs_read(GUEST_CR4));",
     "cr4-vmxe", "BAD      cr4.initial"),
    ("guest-may-set-vmxe", "03", "cr_access.c",
     "if ((value & ~fixed1) || (value & CR4_VMXE) ||", "if ((value & ~fixed1) ||",
     "cr4-vmxe", "BAD      cr4.set_vmxe"),
    ("ts-not-owned", "03", "cr_policy.c",
     "#define CR0_OWNED (CR0_PE | CR0_NE | CR0_TS | CR0_PG)",
     "#define CR0_OWNED (CR0_PE | CR0_NE | CR0_PG)",
     "clts-lmsw", "BAD      ts.start_view"),
    ("lmsw-clears-pe", "03", "cr_access.c",
     "u64 low = (lmsw_source & 0xf) | (cr0 & CR0_PE);", "u64 low = lmsw_source & 0xf;",
     "clts-lmsw", "GUEST EXCEPTION #GP"),
    ("access-type-misdecoded", "03", "cr_access.c",
     "type = (q >> 4) & 3,", "type = (q >> 4) & 1,", "clts-lmsw", "BAD"),
    ("cr3-target-not-registered", "03", "cr_policy.c",
     "\tcr3_target_add(v, vmcs_read(GUEST_CR3));\n", "",
     "cr3-exiting", "BAD      exits.CONTROL_REGISTER_ACCESS"),
    ("cr3-load-dropped", "03", "cr_access.c",
     "\t\tvmcs_write(GUEST_CR3, value);\n", "",
     "cr3-exiting", "BAD      cr3.read_other"),
    ("cr8-to-real-register", "03", "cr_access.c",
     "\t\tlab03(v)->cr8 = value;", "\t\twrite_cr8(value);",
     "cr8-exiting", "BAD      host.vcpu_cr8"),
]
