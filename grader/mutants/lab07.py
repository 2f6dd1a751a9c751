"""Lab 07: plausible student bugs, each applied to a copy of the reference solution. The named
check must fail, and its explanation must contain `shows` (what the student sees about the cause).
Each bug breaks one SDM rule a marker implements; the check feeds the input that exposes it.
Format: (id, lab, file, text in the solution, replacement, check that must fail, shows).
Instructor-only: `make dist` leaves this folder out of the student release."""

MUTANTS = [
    # 07-1: the EPT pointer (SDM 25.6.11, Table 25-9)
    ("eptp-memory-type-uc", "07", "ept.c",
     "u64 eptp = (pml4_pa & EPT_ADDRESS_MASK) | MEMORY_TYPE_WB |",
     "u64 eptp = (pml4_pa & EPT_ADDRESS_MASK) | MEMORY_TYPE_UC |",
     "ept-eptp", "BAD      eptp.made_without_ad"),
    ("eptp-walk-length-not-minus-one", "07", "ept.c",
     "(u64)(EPT_LEVELS - 1) << EPTP_WALK_LENGTH_SHIFT;", "(u64)EPT_LEVELS << EPTP_WALK_LENGTH_SHIFT;",
     "ept-eptp", "invalid EPTPTR value"),
    ("eptp-accessed-dirty-always", "07", "ept.c",
     "return accessed_dirty ? eptp | EPTP_ACCESSED_DIRTY : eptp;", "return eptp | EPTP_ACCESSED_DIRTY;",
     "ept-eptp", "BAD      eptp.made_without_ad"),
    # 07-2: enable EPT (SDM 25.6.2)
    ("ept-not-enabled", "07", "ept.c",
     "SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS) | CPU2_ENABLE_EPT;",
     "SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS);",
     "ept-eptp", "MISSING  eptp.secondary_controls"),
    # 07-3: EPT entries and leaves (SDM 29.3.2, 29.3.3.1)
    ("large-leaf-without-page-size-bit", "07", "ept.c",
     "(leaf > 1 ? EPT_LARGE_PAGE : 0);", "0;",
     "ept-leaves", "BAD      leaf.big.level"),
    ("leaf-memory-type-missing", "07", "ept.c",
     "table[ept_index(gpa, leaf)] = hpa | permissions | (u64)MEMORY_TYPE_WB << EPT_MEMORY_TYPE_SHIFT |",
     "table[ept_index(gpa, leaf)] = hpa | permissions |",
     "ept-leaves", "BAD      leaf.ram.entry"),
    ("table-entry-write-without-read", "07", "ept.c",
     "*entry = virt_to_phys(page_alloc()) | EPT_RWX;",
     "*entry = virt_to_phys(page_alloc()) | EPT_WRITE | EPT_EXECUTE;",
     "ept-leaves", "BAD      exits.EPT_MISCONFIGURATION"),
    # 07-5: INVEPT (SDM 29.4.3)
    ("invept-missing-after-write-protect", "07", "ept.c",
     "e->written_count = 0;\n\tept_invalidate(v);", "e->written_count = 0;",
     "ept-invept", "BAD      invept.protect.count = 0"),
    ("invept-all-context-only", "07", "ept.c",
     "enum invept_type type = cap & EPT_CAP_INVEPT_SINGLE_CONTEXT ? INVEPT_SINGLE_CONTEXT :",
     "enum invept_type type = cap & EPT_CAP_INVEPT_ALL_CONTEXT ? INVEPT_ALL_CONTEXT :",
     "ept-invept", "BAD      invept.protect.type"),
    # 07-7, 07-8: dirty logging (SDM 29.3.5)
    ("dirty-start-clears-accessed", "07", "ept.c",
     "*leaf &= ~EPT_DIRTY;", "*leaf &= ~EPT_ACCESSED;",
     "ept-dirty-log", "BAD      dirty.flags"),
    ("dirty-collect-reads-accessed", "07", "ept.c",
     "if (leaf && (*leaf & EPT_DIRTY))\n\t\t\tbitmap |= BIT(i);",
     "if (leaf && (*leaf & EPT_ACCESSED))\n\t\t\tbitmap |= BIT(i);",
     "ept-dirty-log", "BAD      dirty.collected"),
    # 07-9: decoding the violation (SDM 28.2.1 Table 28-7, 28.2.5)
    ("gpa-from-linear-field", "07", "violation.c",
     "\tu64 gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);\n\tstruct lab07_vcpu *e = lab07(v);",
     "\tu64 gpa = vmcs_read(GUEST_LINEAR_ADDRESS);\n\tstruct lab07_vcpu *e = lab07(v);",
     "ept-demand", "MISSING  guest.demand_digest"),
    ("protect-tests-read-bit", "07", "violation.c",
     "if (ept_qual_write(q) && (ept_qual_allowed(q) & EPT_ACCESS_READ) &&",
     "if (ept_qual_read(q) && (ept_qual_allowed(q) & EPT_ACCESS_READ) &&",
     "ept-write-protect", "MISSING  protect.recorded"),
    # 07-10: demand mapping
    ("demand-maps-identity", "07", "violation.c",
     "ept_map(v, gpa & ~(SIZE_4K - 1), virt_to_phys(page_alloc()), SIZE_4K, EPT_RWX);",
     "ept_map(v, gpa & ~(SIZE_4K - 1), gpa & ~(SIZE_4K - 1), SIZE_4K, EPT_RWX);",
     "ept-demand", "BAD      isolation.bad_leaves"),
    # 07-11: write protection lifted after the first write
    ("write-protection-never-lifted", "07", "violation.c",
     "\t*leaf |= EPT_WRITE;\n\treturn EXIT_RESUME;", "\treturn EXIT_RESUME;",
     "ept-write-protect", "exit storm"),
    ("written-page-not-aligned", "07", "violation.c",
     "e->written[e->written_count++] = gpa & ~(SIZE_4K - 1);", "e->written[e->written_count++] = gpa;",
     "ept-write-protect", "BAD      protect.recorded_elsewhere"),
    # 07-12: misconfigurations (SDM 29.3.3.1)
    ("misconfig-no-read-is-bad", "07", "violation.c",
     "if ((entry & EPT_WRITE) && !(entry & EPT_READ))", "if (!(entry & EPT_READ))",
     "ept-misconfig", "BAD      misconfig.classified"),
    ("misconfig-nonleaf-reserved-bits-ignored", "07", "violation.c",
     "\telse if (!leaf)\n\t\treserved |= 0x78;\t\t\t\t/* 6:3 */\n", "",
     "ept-misconfig", "BAD      misconfig.classified"),
    # 07-13: the guest's page walk (SDM 4.5)
    ("walk-ignores-large-guest-pages", "07", "guest_walk.c",
     "if (level == 1 || (level <= 3 && (entry & PTE_PAGE_SIZE))) {", "if (level == 1) {",
     "ept-mmio", "BAD      device.accesses"),
    ("walk-large-page-offset-4k", "07", "guest_walk.c",
     "*gpa = (entry & PTE_ADDRESS_MASK & ~(size - 1)) | (gva & (size - 1));",
     "*gpa = (entry & PTE_ADDRESS_MASK & ~(size - 1)) | (gva & (SIZE_4K - 1));",
     "ept-mmio", "BAD      device.accesses"),
    # 07-14: MMIO emulation
    ("mmio-store-emulated-as-load", "07", "guest_walk.c",
     "\tif (insn.store) {\n\t\tu64 value", "\tif (false) {\n\t\tu64 value",
     "ept-mmio", "BAD      device.accesses"),
    ("mmio-load-not-zero-extended", "07", "guest_walk.c",
     "guest_reg_write(v, insn.reg, insn.size == 4 ? (u32)value : value);",
     "guest_reg_write(v, insn.reg, value);",
     "ept-mmio", "BAD      guest.mmio_id"),
]
