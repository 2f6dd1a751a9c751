"""Lab 10: plausible student bugs, each applied to a copy of the reference solution. The named
check must fail, and its explanation must contain `shows` (what the student sees about the cause).
Each bug breaks one SDM rule a marker implements; the check feeds the input that exposes it.
Format: (id, lab, file, text in the solution, replacement, check that must fail, shows).
Instructor-only: `make dist` leaves this folder out of the student release."""

MUTANTS = [
    # 10-1: enable VM functions and EPTP switching (SDM 25.6.2, 25.6.14, A.11)
    ("vmfunc-function-0-not-enabled", "10", "vmfunc.c",
     "vmcs_write(VM_FUNCTION_CONTROLS, VMFUNC_EPTP_SWITCHING);", "vmcs_write(VM_FUNCTION_CONTROLS, 0);",
     "vmfunc-switch", "BAD      views.vm_function_controls"),
    ("vmfunc-secondary-control-not-set", "10", "vmfunc.c",
     "SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU2_ENABLE_VM_FUNCTIONS;",
     "SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);",
     "vmfunc-switch", "BAD      views.secondary_controls"),
    ("vmfunc-capability-not-read", "10", "vmfunc.c",
     "\tif (!(rdmsr(MSR_IA32_VMX_VMFUNC) & VMFUNC_EPTP_SWITCHING))\n"
     "\t\tpanic(\"VMFUNC: IA32_VMX_VMFUNC[0] is 0: no EPTP switching\");\n", "",
     "vmfunc-switch", "RDMSR IA32_VMX_VMFUNC"),
    ("eptp-list-entry-0-empty", "10", "vmfunc.c",
     "\tf->eptp_list[0] = vmcs_read(EPT_POINTER);\n", "",
     "vmfunc-switch", "BAD      guest.view_back"),
    ("eptp-list-address-not-written", "10", "vmfunc.c",
     "\tvmcs_write(EPTP_LIST_ADDRESS, virt_to_phys(f->eptp_list));\n", "",
     "vmfunc-switch", "BAD      views.list_address_is_list"),
    # 10-2: a view of its own (SDM 29.3.2, 26.5.6.3)
    ("view-shares-lower-tables", "10", "vmfunc.c",
     "f->view_pml4[view] = copy_tables(f->view_pml4[0], EPT_LEVELS);",
     "f->view_pml4[view] = copy_tables(f->view_pml4[0], 1);",
     "vmfunc-switch", "BAD      guest.view_first"),
    ("view-eptp-is-bare-address", "10", "vmfunc.c",
     "f->eptp_list[view] = ept_make_eptp(virt_to_phys(f->view_pml4[view]), ad);",
     "f->eptp_list[view] = virt_to_phys(f->view_pml4[view]) | (ad ? EPTP_ACCESSED_DIRTY : 0);",
     "vmfunc-switch", "BAD      views.eptp1_low"),
    ("view-index-skips-one", "10", "vmfunc.c",
     "unsigned view = f->views++;", "unsigned view = ++f->views;",
     "vmfunc-switch", "BAD      views.added"),
    # 10-3: mapping in one view
    ("view-map-in-view-0", "10", "vmfunc.c",
     "\tif (view)\n\t\tlab07(v)->pml4 = f->view_pml4[view];\n\tept_map(", "\tept_map(",
     "vmfunc-switch", "BAD      guest.view_first"),
    ("view-map-leaves-lab07-on-view", "10", "vmfunc.c",
     "\tept_map(v, gpa, hpa, SIZE_4K, permissions);\n\tlab07(v)->pml4 = saved;\n",
     "\tept_map(v, gpa, hpa, SIZE_4K, permissions);\n\t(void)saved;\n",
     "vmfunc-switch", "BAD      views.lab07_pml4_is_view0"),
    # 10-4: refused VMFUNCs (SDM 26.5.6.2)
    ("vmfunc-exit-skipped-silently", "10", "vmfunc.c",
     "\tvmx_inject_exception(v, VEC_UD, 0);\n", "\tvmx_skip_instruction(v);\n",
     "vmfunc-invalid", "BAD      guest.ud_count"),
    ("vmfunc-exit-injects-gp", "10", "vmfunc.c",
     "vmx_inject_exception(v, VEC_UD, 0);", "vmx_inject_exception(v, VEC_GP, 0);",
     "vmfunc-invalid", "three #UD (vector 6, no error code)"),
    # 10-5: EPT-violation #VE (SDM 25.6.2, 26.5.7)
    ("ve-control-not-set", "10", "ve.c",
     "SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU2_EPT_VIOLATION_VE;",
     "SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);",
     "ve-delivery", "BAD      ve.secondary_controls"),
    ("ve-info-address-not-written", "10", "ve.c",
     "\tvmcs_write(VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS, virt_to_phys(f->ve_info));\n", "",
     "ve-delivery", "BAD      ve.info_address_is_area"),
    ("ve-exception-bitmap-bit-20-set", "10", "ve.c",
     "vmcs_read(EXCEPTION_BITMAP) & ~BIT(VEC_VE)", "vmcs_read(EXCEPTION_BITMAP) | BIT(VEC_VE)",
     "ve-delivery", "BAD      ve.exception_bitmap"),
    ("ve-area-starts-busy", "10", "ve.c",
     "f->ve_info->busy = 0;", "f->ve_info->busy = 0xffffffff;",
     "vmfunc-hook", "BAD      Bochs's record: 1 EPT_VIOLATION exits"),
    # 10-6: suppress #VE (SDM 29.3.3.2)
    ("suppress-ve-wrong-bit", "10", "ve.c",
     "*leaf = suppress ? *leaf | EPT_SUPPRESS_VE : *leaf & ~EPT_SUPPRESS_VE;",
     "*leaf = suppress ? *leaf | BIT(62) : *leaf & ~BIT(62);",
     "ve-delivery", "BAD      host.suppress_exits"),
    ("suppress-ve-never-cleared", "10", "ve.c",
     "*leaf = suppress ? *leaf | EPT_SUPPRESS_VE : *leaf & ~EPT_SUPPRESS_VE;",
     "*leaf |= EPT_SUPPRESS_VE;",
     "ve-delivery", "3 EPT_VIOLATION exits"),
]
