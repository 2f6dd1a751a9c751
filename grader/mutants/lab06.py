"""Lab 06: plausible student bugs, each applied to a copy of the reference solution. The named
check must fail, and its explanation must contain `shows` (what the student sees about the cause).
Each bug breaks one SDM rule a marker implements; the check feeds the input that exposes it.
Format: (id, lab, file, text in the solution, replacement, check that must fail, shows).
Instructor-only: `make dist` leaves this folder out of the student release."""

MUTANTS = [
    # 06-1: the "monitor trap flag" control, primary processor-based bit 27 (SDM 25.6.2)
    ("mtf-never-set", "06", "mtf.c",
     "vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_MONITOR_TRAP_FLAG, on);",
     "vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_MONITOR_TRAP_FLAG, false);",
     "mtf-trace", "MISSING  exits.MONITOR_TRAP_FLAG"),
    ("monitor-exiting-for-mtf", "06", "mtf.c",
     "vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_MONITOR_TRAP_FLAG, on);",
     "vmcs_set_bits(PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, CPU_MONITOR_EXITING, on);",
     "mtf-vs-timer", "BAD      Bochs's record: the exits up to the first timer exit = [18, 52]"),
    # 06-2: the trace's limit of steps
    ("trace-limit-plus-one", "06", "mtf.c",
     "s->trace_limit = limit;", "s->trace_limit = limit + 1;",
     "mtf-fault", "BAD      trace.length = 3"),
    ("trace-started-without-mtf", "06", "mtf.c",
     "\ts->tracing = s->trace_limit > 0;\n\tmtf_set(v, s->tracing);",
     "\ts->tracing = s->trace_limit > 0;",
     "mtf-inject", "BAD      the first step of the trace = []"),
    # 06-3: one step per MTF exit, at the exit's RIP (SDM 26.5.2)
    ("trace-stops-after-one-step", "06", "mtf.c",
     "\tif (s->trace_length >= s->trace_limit)\n\t\ts->tracing = false;",
     "\ts->tracing = false;",
     "mtf-trace", "BAD      the hypervisor's trace"),
    ("trace-limit-off-by-one", "06", "mtf.c",
     "if (s->trace_length >= s->trace_limit)", "if (s->trace_length > s->trace_limit)",
     "mtf-fault", "BAD      trace.length = 3"),
    ("rep-iterations-merged", "06", "mtf.c",
     "\tif (!s->tracing)\n\t\treturn;\n\tu64 rip",
     "\tif (!s->tracing || (s->trace_length && s->trace[s->trace_length - 1] == v->exit.guest_rip))\n"
     "\t\treturn;\n\tu64 rip",
     "mtf-rep", "BAD      the hypervisor's trace"),
    ("mtf-step-skips-instruction", "06", "mtf.c",
     "\ts->trace_length++;\n",
     "\ts->trace_length++;\n\tvmcs_write(GUEST_RIP, rip + 1);\n",
     "mtf-trace", "BAD      Bochs's record: where the guest went on after each MTF exit"),
    # 06-4: INT3 over the first byte, #BP in the exception bitmap (SDM 25.6.3)
    ("int3-planted-one-byte-late", "06", "breakpoint.c",
     "u8 *code = guest_linear_to_host(v, b->rip);", "u8 *code = guest_linear_to_host(v, b->rip + 1);",
     "breakpoint", "BAD      bp.hits.0"),
    ("bp-not-in-exception-bitmap", "06", "breakpoint.c",
     "\tvmcs_set_bits(EXCEPTION_BITMAP, BIT(VEC_BP), true);\n", "",
     "breakpoint", "GUEST EXCEPTION"),
    ("original-saved-after-int3", "06", "breakpoint.c",
     "\tb->original = *code;\n\t*code = INT3_OPCODE;", "\t*code = INT3_OPCODE;\n\tb->original = *code;",
     "breakpoint", "hypervisor: GUEST EXCEPTION #BP"),
    # 06-5: restore, step with MTF, RIP left on the breakpoint (SDM 28.3.3)
    ("breakpoint-not-restored", "06", "breakpoint.c",
     "\t*(u8 *)guest_linear_to_host(v, b->rip) = b->original;\n", "",
     "breakpoint", "BAD      Bochs's record: the guest went on at each breakpoint after its #BP exit"),
    ("rip-past-restored-instruction", "06", "breakpoint.c",
     "\ts->stepping = b;\n\tmtf_set(v, true);",
     "\ts->stepping = b;\n\tvmcs_write(GUEST_RIP, b->rip + v->exit.instruction_length);\n\tmtf_set(v, true);",
     "breakpoint", "BAD      bp.result"),
    ("step-without-mtf", "06", "breakpoint.c",
     "\ts->stepping = b;\n\tmtf_set(v, true);", "\ts->stepping = b;",
     "breakpoint", "BAD      bp.hits.0"),
    ("other-exceptions-dropped", "06", "breakpoint.c",
     "\tif (!int3)\n\t\treturn s->earlier_exception_handler(v);", "\tif (!int3)\n\t\treturn EXIT_RESUME;",
     "breakpoint-chain", "exit storm"),
    # 06-6: INT3 planted again after the step
    ("int3-not-replanted", "06", "breakpoint.c",
     "\t*(u8 *)guest_linear_to_host(v, b->rip) = INT3_OPCODE;\n\tb->planted = true;\n\ts->stepping = NULL;",
     "\tb->planted = true;\n\ts->stepping = NULL;",
     "breakpoint", "BAD      bp.hits.0"),
    ("mtf-left-on-after-step", "06", "breakpoint.c",
     "\tb->planted = true;\n\ts->stepping = NULL;", "\tb->planted = true;",
     "breakpoint", "BAD      Bochs's record: where the guest went on after each MTF exit"),
    # 06-7: the guest's own INT3 is a software exception with its instruction length (SDM 27.6.1.1)
    ("own-int3-as-hardware-exception", "06", "breakpoint.c",
     "intr_info(VEC_BP, INTR_TYPE_SOFTWARE_EXCEPTION, false)", "intr_info(VEC_BP, INTR_TYPE_HARDWARE_EXCEPTION, false)",
     "breakpoint-chain", "BAD      fault.bp_rip_after_int3"),
    ("own-int3-without-length", "06", "breakpoint.c",
     "\tvmcs_write(VM_ENTRY_INSTRUCTION_LENGTH, v->exit.instruction_length);\n", "",
     "breakpoint-chain", "BAD      fault.bp_rip_after_int3"),
]
