"""Lab 05: plausible student bugs, each applied to a copy of the reference solution. The named
check must fail, and its explanation must contain `shows` (what the student sees about the cause).
Each bug breaks one SDM rule a marker implements; the check feeds the input that exposes it.
Format: (id, lab, file, text in the solution, replacement, check that must fail, shows).
Instructor-only: `make dist` leaves this folder out of the student release."""

SUPPORTED = ("return vmx_controls_allowed(PIN_ACTIVATE_VMX_PREEMPTION_TIMER, MSR_IA32_VMX_PINBASED_CTLS) &&\n"
             "\t       vmx_controls_allowed(EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE, MSR_IA32_VMX_EXIT_CTLS);")
CONTROLS = ("\tu64 pin = vmcs_read(PIN_BASED_VM_EXECUTION_CONTROLS) | PIN_ACTIVATE_VMX_PREEMPTION_TIMER;\n"
            "\tvmcs_write(PIN_BASED_VM_EXECUTION_CONTROLS,\n"
            "\t\t   vmx_adjust_controls((u32)pin, MSR_IA32_VMX_PINBASED_CTLS, \"pin-based controls\"));\n"
            "\tu64 exit = vmcs_read(VM_EXIT_CONTROLS) | EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE;\n"
            "\tvmcs_write(VM_EXIT_CONTROLS,\n"
            "\t\t   vmx_adjust_controls((u32)exit, MSR_IA32_VMX_EXIT_CTLS, \"VM-exit controls\"));\n")
ENTRY = ("\t\tenum vmx_status status = vmx_enter(&v->regs, v->launched);\n"
         "\t\tif (status != VMX_SUCCEED)\n\t\t\tvmx_entry_failed(v, status);\n\t\tv->launched = true;")
RELOAD = "\tvmcs_write(VMX_PREEMPTION_TIMER_VALUE, preemption_timer_value(lab05(v)->slice));\n"
NO_PREEMPTION = "guest B made no progress while A ran: no VMX-preemption timer exit (52) in Bochs's record"

MUTANTS = [
    # 05-1: both controls allowed, from the allowed 1-settings (SDM A.3.1, A.4)
    ("supported-ignores-save-control", "05", "timer.c", SUPPORTED,
     "return vmx_controls_allowed(PIN_ACTIVATE_VMX_PREEMPTION_TIMER, MSR_IA32_VMX_PINBASED_CTLS);",
     "timer-support", "BAD      support.no_save = 0x1"),
    ("supported-reads-allowed-0", "05", "timer.c", SUPPORTED,
     "return (rdmsr(vmx_control_msr(MSR_IA32_VMX_PINBASED_CTLS)) & PIN_ACTIVATE_VMX_PREEMPTION_TIMER) &&\n"
     "\t       (rdmsr(vmx_control_msr(MSR_IA32_VMX_EXIT_CTLS)) & EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE);",
     "timer-support", "BAD      support.real = 0x0"),
    # 05-2, 05-3: the rate is IA32_VMX_MISC[4:0]; ticks >> X, saturating (SDM A.6, 26.5.1)
    ("rate-not-masked", "05", "timer.c",
     "return VMX_MISC_PREEMPTION_TIMER_RATE(rdmsr(MSR_IA32_VMX_MISC));",
     "return (unsigned)rdmsr(MSR_IA32_VMX_MISC) & 0xff;",
     "timer-rate", "BAD      rate.rate"),
    ("value-shifted-left", "05", "timer.c",
     "u64 units = tsc_ticks >> preemption_timer_rate();", "u64 units = tsc_ticks << preemption_timer_rate();",
     "timer-rate", "BAD      rate.small"),
    ("value-truncated", "05", "timer.c",
     "return units > PREEMPTION_TIMER_MAX ? PREEMPTION_TIMER_MAX : (u32)units;", "return (u32)units;",
     "timer-rate", "BAD      rate.huge"),
    ("value-from-32-bit-ticks", "05", "timer.c",
     "u64 units = tsc_ticks >> preemption_timer_rate();", "u64 units = (u32)tsc_ticks >> preemption_timer_rate();",
     "timer-rate", "BAD      rate.wide"),
    ("rate-four-bits", "05", "timer.c",
     "return VMX_MISC_PREEMPTION_TIMER_RATE(rdmsr(MSR_IA32_VMX_MISC));",
     "return rdmsr(MSR_IA32_VMX_MISC) & 0xf;",
     "timer-rate", "BAD      rate_max.rate = 0xf"),
    ("value-divided-by-int-shift", "05", "timer.c",
     "u64 units = tsc_ticks >> preemption_timer_rate();",
     "u64 units = tsc_ticks / (1 << preemption_timer_rate());",
     "timer-rate", "BAD      rate_max.wide"),
    # 05-4: activate the timer, save its value at every exit, the field from the slice (SDM 26.5.1, 27.7.4)
    ("timer-never-activated", "05", "timer.c", CONTROLS, "",
     "sched-round-robin", NO_PREEMPTION),
    ("save-control-missing", "05", "timer.c",
     "u64 exit = vmcs_read(VM_EXIT_CONTROLS) | EXIT_SAVE_VMX_PREEMPTION_TIMER_VALUE;",
     "u64 exit = vmcs_read(VM_EXIT_CONTROLS);",
     "timer-save", "MISSING  exits.VMX_PREEMPTION_TIMER_EXPIRED"),
    ("slice-reloaded-before-every-entry", "05", "timer.c", "LAB_SETUP(05, lab05_setup);",
     "LAB_SETUP(05, lab05_setup);\n"
     "static void reload_slice(struct vcpu *v)\n{\n" + RELOAD + "}\n"
     "static void lab05_reload(struct vcpu *v)\n{\n\t(void)v;\n\texit_set_before_entry(reload_slice);\n}\n"
     "LAB_SETUP(05, lab05_reload);",
     "timer-save", "MISSING  exits.VMX_PREEMPTION_TIMER_EXPIRED"),
    ("slice-written-in-ticks", "05", "timer.c",
     "vmcs_write(VMX_PREEMPTION_TIMER_VALUE, preemption_timer_value(slice_ticks));",
     "vmcs_write(VMX_PREEMPTION_TIMER_VALUE, slice_ticks);",
     "timer-scaled", "BAD      scaled.start"),
    ("slice-not-converted", "05", "timer.c",
     "vmcs_write(VMX_PREEMPTION_TIMER_VALUE, preemption_timer_value(slice_ticks));",
     "vmcs_write(VMX_PREEMPTION_TIMER_VALUE, slice_ticks / 2);",
     "timer-slice", "BAD      Bochs's record: guest ticks of each slice"),
    # 05-5: the timer exit ends the slice; the hypervisor writes a full slice again; RIP stays
    ("timer-exit-no-reload", "05", "timer.c", "\tlab05(v)->preempted = true;\n" + RELOAD,
     "\tlab05(v)->preempted = true;\n",
     "timer-slice", "write a new slice into the field after a timer exit"),
    ("timer-exit-not-counted", "05", "timer.c", "\tlab05(v)->preemptions++;\n", "",
     "timer-slice", "BAD      slice.preemptions = 0"),
    ("timer-exit-count-faked", "05", "timer.c", "\tlab05(v)->preemptions++;\n",
     "\tlab05(v)->preemptions = 3;\n",
     "timer-hlt", "BAD      timer.preemptions = 3, expected 0x2"),
    ("timer-exit-reloads-in-ticks", "05", "timer.c", RELOAD,
     "\tvmcs_write(VMX_PREEMPTION_TIMER_VALUE, lab05(v)->slice);\n",
     "timer-scaled", "BAD      scaled.handler"),
    ("timer-exit-skips-instruction", "05", "timer.c", "\tlab05(v)->preempted = true;\n",
     "\tlab05(v)->preempted = true;\n\tvmx_skip_instruction(v);\n",
     "timer-hlt", "BAD      hlt.rip_after_hlt1 = 0"),
    ("timer-exit-not-marked-preempted", "05", "timer.c", "\tlab05(v)->preempted = true;\n", "",
     "timer-slice", "MISSING  guest.done"),
    ("timer-exit-resumes-same-guest", "05", "timer.c",
     "\treturn EXIT_STOP;\n\t/* END 05-5 */", "\treturn EXIT_RESUME;\n\t/* END 05-5 */",
     "sched-round-robin", "BAD      Bochs's record: entries after each exit while all guests run"),
    # 05-6, 05-7: VMWRITE goes to the current VMCS; VMPTRLD switches, VMCLEAR is not needed (SDM 25.11, 31.3)
    ("slice-written-into-current-vmcs", "05", "sched.c",
     "\tsched_switch(s, s->count - 1);\n\tpreemption_timer_start(v, slice_ticks);",
     "\tpreemption_timer_start(v, slice_ticks);",
     "sched-round-robin", "guest B made no progress while A ran"),
    ("vmclear-on-switch", "05", "sched.c",
     "\tenum vmx_status status = vmptrld(virt_to_phys(s->guest[next]->vmcs));",
     "\tvmclear(virt_to_phys(s->guest[s->current]->vmcs));\n"
     "\tenum vmx_status status = vmptrld(virt_to_phys(s->guest[next]->vmcs));",
     "sched-round-robin", "VM-instruction error 5"),
    # 05-8: the launch state belongs to each VMCS (SDM 25.11.3)
    ("launch-state-shared", "05", "sched.c", ENTRY,
     ENTRY.replace("v->launched", "launched").replace("\t\tenum", "\t\tstatic bool launched;\n\t\tenum", 1),
     "sched-round-robin", "VM-instruction error 5"),
    ("slice-reloaded-by-run-loop", "05", "sched.c", ENTRY,
     "\t" + RELOAD + ENTRY,
     "sched-round-robin", "BAD      Bochs's record: guest ticks without a timer exit"),
    ("vmlaunch-after-every-switch", "05", "sched.c", "\ts->current = next;\n",
     "\ts->current = next;\n\ts->guest[next]->launched = false;\n",
     "sched-round-robin", "VM-instruction error 4"),
    # 05-9: round robin; a guest that stopped never runs again
    ("done-guest-runs-again", "05", "sched.c",
     "\t\tif (!lab05(v)->preempted)\n\t\t\ts->done[s->current] = true;\n", "",
     "sched-round-robin", "guest B was entered again after it stopped"),
    ("round-robin-skips-a-guest", "05", "sched.c",
     "\t\tunsigned next = s->current;\n\t\tdo {\n\t\t\tnext = (next + 1) % s->count;\n"
     "\t\t} while (s->done[next] && next != s->current);",
     "\t\tunsigned next = s->current;\n\t\tfor (unsigned i = 0; i < s->count; i++)\n"
     "\t\t\tif (i != s->current && !s->done[i]) {\n\t\t\t\tnext = i;\n\t\t\t\tbreak;\n\t\t\t}",
     "sched-round-robin", "guest C made no progress while A ran"),
    ("slice-given-to-first-guest", "05", "sched.c", "\tpreemption_timer_start(v, slice_ticks);",
     "\tpreemption_timer_start(s->guest[0], slice_ticks);",
     "sched-weighted", "BAD      Bochs's record: guest ticks of each slice"),
]
