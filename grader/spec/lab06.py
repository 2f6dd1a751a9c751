"""Lab 06: the monitor trap flag. Guest programs: grader/checks/lab06.c and lab06_programs.S.
The hypervisor's trace (the guest RIPs its MTF exits saw) is compared with what the program's
code implies (its labels, nonce-dependent counts) and with Bochs's own record of the guest:
after each MTF exit, the address of the first instruction Bochs fetched at the next VM entry
(gradelib.BochsRecord.resumes)."""
from gradelib import C, EXIT_NUMBERS, check

LAB = "06"
MASK = 2**64 - 1
MTF, VMCALL = EXIT_NUMBERS["MONITOR_TRAP_FLAG"], EXIT_NUMBERS["VMCALL"]
EXCEPTION_OR_NMI, EXTERNAL_INTERRUPT = EXIT_NUMBERS["EXCEPTION_OR_NMI"], EXIT_NUMBERS["EXTERNAL_INTERRUPT"]
TIMER = EXIT_NUMBERS["VMX_PREEMPTION_TIMER_EXPIRED"]
VEC_UD, VEC_BP, VEC_GP, VEC_MTF_INJECT = C["VEC_UD"], C["VEC_BP"], C["VEC_GP"], C["VEC_MTF_INJECT"]
INT3 = C["INT3_OPCODE"]
STEP = "the hypervisor's trace (guest RIPs at its MTF exits)"


def rol(x, n):
    return ((x << n) | (x >> (64 - n))) & MASK


def hexes(values):
    return "[" + ", ".join(hex(v) if v is not None else "none" for v in values) + "]"


def trace(r):
    """The trace the hypervisor recorded (lab06(v)->trace), as the check reported it."""
    length = r.int_fact("trace.length", 0)
    return [r.int_fact(f"trace.{i}") for i in range(min(length, C["MTF_TRACE_MAX"]))]


def label(r, name):
    return r.int_fact(f"label.{name}", 0)


def expect_trace(r, want, why):
    seen = trace(r)
    shown = (hexes(seen), hexes(want)) if max(len(seen), len(want)) <= 64 else first_difference(seen, want)
    return r.expect_that(STEP, seen == want, *shown, why)


def expect_bochs_agrees(r):
    """Each recorded step is where Bochs saw the guest go on after that MTF exit."""
    resumes, seen = r.bochs.resumes(MTF), trace(r)
    return r.expect_that("Bochs's record: where the guest went on after each MTF exit", resumes == seen,
                         hexes(resumes), f"the hypervisor's trace {hexes(seen)}",
                         "one step per MTF exit, the exit's guest RIP, never moved: the guest must "
                         "resume at the instruction the trace names")


def trace_result(nonce, count):
    x = nonce
    for i in range(count, 0, -1):
        x = rol((x * C["TRACE_MULTIPLIER"] + i) & MASK, 5)
    return x


def first_difference(seen, want):
    """A long list compared in one line: its length, and the first step where it differs."""
    i = next((i for i, (a, b) in enumerate(zip(seen, want)) if a != b), min(len(seen), len(want)))
    at = lambda xs: hex(xs[i]) if i < len(xs) and xs[i] is not None else "none"
    return f"{len(seen)} steps, step {i}: {at(seen)}", f"{len(want)} steps, step {i}: {at(want)}"


def long_trace(r):
    """The second trace of mtf-trace: a loop of two instructions, then the two that start a
    trace with a limit of 0, each step the RIP of the next instruction."""
    loop = [label(r, "trace_long_jnz"), label(r, "trace_long")] * C["TRACE_LONG_LOOP"]
    return loop[:-1] + [label(r, n) for n in ("trace_long_end", "trace_long_zero", "trace_long_call")]


@check(LAB, "mtf-trace", 16, ["06-1", "06-2", "06-3"],
       "a single-step trace of straight code and a loop, instruction by instruction")
def mtf_trace(r):
    count = C["TRACE_LOOP_BASE"] + r.nonce % C["TRACE_LOOP_SPREAD"]
    body = [label(r, n) for n in ("trace_l2", "trace_l3", "trace_l4", "trace_l5", "trace_l1")]
    want = (body * count)[:-1] + [label(r, "trace_l6"), label(r, "trace_stop")]
    expect_trace(r, want, f"the loop runs {count} times (nonce): one MTF exit after every instruction, "
                          "at the RIP of the next one (SDM 26.5.2)")
    longer = long_trace(r)
    resumes = r.bochs.resumes(MTF)
    seen, wanted = first_difference(resumes, trace(r) + longer)
    r.expect_that("Bochs's record: where the guest went on after each MTF exit", resumes == trace(r) + longer,
                  seen, f"the hypervisor's trace, then the second trace: {wanted}",
                  "one step per MTF exit, the exit's guest RIP, never moved; the second trace runs "
                  f"{len(longer)} steps under a limit of {C['TRACE_LONG_LIMIT']} (only the limit stops a "
                  "trace, not the end of the buffer), and a start with a limit of 0 records nothing and "
                  "turns MTF off")
    r.expect_eq("long_trace.length", str(len(longer)), "the second trace's count of steps when a start with "
                f"a limit of 0 ends it: it starts from 0, and goes on past the {C['MTF_TRACE_MAX']} RIPs the "
                "buffer keeps")
    r.expect_eq("on_step.count", str(len(want) + len(longer)), "on_step is called for every recorded step of "
                "both traces, past the buffer's end too")
    r.expect_eq("on_step.last", label(r, "trace_long_call"), "with the step's RIP")
    r.expect_eq("exits.MONITOR_TRAP_FLAG", str(len(want) + len(longer)),
                "an MTF exit for each traced instruction of both traces, no more")
    r.expect_eq("trace.result", trace_result(r.nonce, count),
                "the traced program computes what it computes untraced")


@check(LAB, "mtf-rep", 10, ["06-3"],
       "REP STOSB: one MTF exit after each iteration, RIP still on the REP instruction")
def mtf_rep(r):
    count = C["REP_COUNT_BASE"] + r.nonce % C["REP_COUNT_SPREAD"]
    want = [label(r, "rep_l2")] + [label(r, "rep_insn")] * count + [label(r, "rep_after"), label(r, "rep_stop")]
    expect_trace(r, want, f"REP STOSB of {count} bytes (nonce) exits after each iteration; the "
                          "iterations before the last leave RIP on the REP instruction (SDM 26.5.2): "
                          "record every exit, even one at the same RIP as the last")
    expect_bochs_agrees(r)


@check(LAB, "mtf-fault", 10, ["06-3"],
       "a faulting instruction: the MTF exit comes after the fault is delivered")
def mtf_fault(r):
    handler = label(r, "ud_handler")
    seen = trace(r)
    r.expect_that("the first step of the trace", seen[:1] == [handler], hexes(seen[:1]), hexes([handler]),
                  "UD2 faults: the MTF exit is pending after the delivery of the #UD, at the first "
                  "instruction of the guest's #UD handler (SDM 26.5.2)")
    r.expect_eq("trace.length", C["SHORT_TRACE_LIMIT"], "the trace stops at its limit of steps")
    expect_bochs_agrees(r)
    r.expect_eq("fault.vector", VEC_UD, "the guest's handler still gets its #UD")
    r.expect_eq("fault.rip_is_ud2", 1, "with the UD2's address as the fault's RIP")


@check(LAB, "mtf-inject", 10, ["06-2", "06-3"],
       "an event injected by VM entry with MTF on: the exit comes after delivery, before the handler runs")
def mtf_inject(r):
    handler = label(r, "inject_handler")
    expect_trace_start(r, handler)
    expect_bochs_agrees(r)
    expect_one_injection(r)
    r.expect_eq("irq.count", 1, "the guest's handler then runs once")
    r.expect_eq("irq.vector", VEC_MTF_INJECT, "for the injected vector")


def expect_trace_start(r, handler):
    seen = trace(r)
    r.expect_that("the first step of the trace", seen[:1] == [handler], hexes(seen[:1]), hexes([handler]),
                  "VM entry injected an interrupt with MTF on: the MTF exit is pending on the "
                  "boundary before the first instruction after the entry, at the handler's first "
                  "instruction (SDM 26.5.2)")
    r.expect_eq("trace.length", C["SHORT_TRACE_LIMIT"], "the trace stops at its limit of steps")


def expect_one_injection(r):
    seen = r.bochs.injections
    r.expect_that("Bochs's record of injections (vector, error code)", seen == [(VEC_MTF_INJECT, 0)],
                  [(hex(v), hex(e)) for v, e in seen], [(hex(VEC_MTF_INJECT), "0x0")],
                  "the check injected one external interrupt")


@check(LAB, "mtf-hlt", 8, ["06-3"],
       "HLT stepped with MTF: an MTF exit after the HLT")
def mtf_hlt(r):
    want = [label(r, "hlt_after"), label(r, "hlt_next")]
    expect_trace(r, want, "HLT (RFLAGS.IF = 0, HLT exiting off) is followed by an MTF exit with RIP "
                          "after the HLT (SDM 26.5.2; the activity state it saves is not graded: "
                          "Bochs saves 'active' where the SDM says HLT)")
    expect_bochs_agrees(r)
    r.expect_absent("watchdog.fired", "the MTF exit ends the HLT; nothing else would")


@check(LAB, "mtf-vs-timer", 10, ["06-2", "06-3"],
       "an MTF exit and a VMX-preemption timer exit due at the same boundary: MTF first")
def mtf_vs_timer(r):
    handler = label(r, "inject_handler")
    reasons = r.bochs.reasons()
    first = reasons.index(TIMER) if TIMER in reasons else len(reasons)
    seen = reasons[max(first - 2, 0):first + 1]
    r.expect_that("Bochs's record: the exits up to the first timer exit", seen == [VMCALL, MTF, TIMER],
                  seen, [VMCALL, MTF, TIMER],
                  "the entry after the hypercall injects an interrupt with MTF on and a timer of 0: "
                  "the MTF exit after delivery ranks above the timer exit (SDM 26.5.1, 26.5.2), "
                  "which comes at the next entry")
    expect_trace_start(r, handler)
    r.expect_eq("timer.exit_rip", handler, "the timer exit comes before the handler's first instruction runs")
    expect_bochs_agrees(r)
    r.expect_eq("irq.count", 1, "the guest's handler runs once")


@check(LAB, "mtf-vs-interrupt", 10, ["06-2", "06-3"],
       "an MTF exit ranks above a pending interrupt")
def mtf_vs_interrupt(r):
    reasons = r.bochs.reasons()
    after = [reasons[i + 1] if i + 1 < len(reasons) else None for i, x in enumerate(reasons) if x == MTF]
    r.expect_that("Bochs's record: the exit after each MTF exit", after == [EXTERNAL_INTERRUPT],
                  after, [EXTERNAL_INTERRUPT],
                  "the stepped instruction sends a self-IPI: the MTF exit comes first, then the "
                  "external-interrupt exit at the next entry (SDM 26.5.2: MTF ranks above INTR)")
    after_send = label(r, "event_after")
    resumes = r.bochs.resumes(MTF)
    r.expect_that("Bochs's record: where the guest went on after each MTF exit", resumes == [after_send],
                  hexes(resumes), hexes([after_send]), "after the one instruction that sent the IPI")
    r.expect_eq("host.host_interrupts", 1, "the hypervisor's own vector then reaches the hypervisor (lab 04)")


def bp_result(nonce, count):
    x = nonce
    for i in range(count, 0, -1):
        x = (x * C["BP_MULTIPLIER"] + i) & MASK
        x = rol(x ^ C["BP_XOR"], 7)
    return ~x & MASK


def expect_breakpoints(r, names, counts):
    for i, (name, count) in enumerate(zip(names, counts)):
        r.expect_eq(f"bp.hits.{i}", count, f"the breakpoint at {name} is hit every time its instruction runs")
        r.expect_eq(f"bp.byte.{i}", INT3, "INT3 is planted again after each step over it")
    at = [label(r, n) for n in names]
    after = [label(r, n.replace("hit", "after")) for n in names]
    hits = r.bochs.resumes(EXCEPTION_OR_NMI)
    seen = {hex(a): hits.count(a) for a in at}
    r.expect_that("Bochs's record: the guest went on at each breakpoint after its #BP exit", 
                  seen == {hex(a): c for a, c in zip(at, counts)}, seen,
                  {hex(a): c for a, c in zip(at, counts)},
                  "INT3 exits with RIP on the INT3 (SDM 28.3.3): with the original byte back and RIP "
                  "unchanged, the guest runs the real instruction")
    steps = r.bochs.resumes(MTF)
    r.expect_that("Bochs's record: where the guest went on after each MTF exit",
                  sorted(steps) == sorted(a for a, c in zip(after, counts) for _ in range(c)),
                  {hex(a): steps.count(a) for a in set(steps)}, {hex(a): c for a, c in zip(after, counts)},
                  "one MTF exit per hit, after exactly the restored instruction; MTF is off again "
                  "after the step")


@check(LAB, "breakpoint", 16, ["06-4", "06-5", "06-6"],
       "breakpoints that survive execution: every hit counted, the program's result unchanged")
def breakpoint(r):
    count = C["BP_LOOP_BASE"] + r.nonce % C["BP_LOOP_SPREAD"]
    expect_breakpoints(r, ["bp_hit1", "bp_hit2", "bp_hit3"], [count, count, 1])
    r.expect_eq("bp.result", bp_result(r.nonce, count),
                f"the loop ({count} times, nonce) computes what it computes without breakpoints")


@check(LAB, "breakpoint-chain", 10, ["06-5", "06-7"],
       "exceptions that are not the hypervisor's breakpoints still reach the guest")
def breakpoint_chain(r):
    count = C["BP_LOOP_BASE"] + r.nonce % C["BP_LOOP_SPREAD"]
    r.expect_eq("fault.ud_vector", VEC_UD, "a #UD that exits (exception bitmap) goes to lab 04's handler, "
                "which reflects it")
    r.expect_exits("EXCEPTION_OR_NMI", lambda quals: len(quals) == 4,
                   "4: the guest's #UD, its own INT3 at CPL 0 and at CPL 3, the breakpoint's one hit",
                   "the check sets bit 6 (#UD) of the exception bitmap before the breakpoint: planting it "
                   "sets bit 3 (#BP) and keeps every other bit (SDM 25.6.3), or the #UD no longer exits")
    r.expect_eq("fault.bp_vector", VEC_BP, "the guest's own INT3 (no breakpoint there) is the guest's #BP")
    r.expect_eq("fault.bp_rip_after_int3", 1, "delivered as a software exception: return address after the INT3")
    r.expect_eq("fault.user_int3_vector", VEC_GP, "the guest's own INT3 at CPL 3, its #BP gate with DPL 0: "
                "a software exception is checked against the gate's DPL, as INT3 is (SDM 27.6.1.1), so the "
                "guest gets #GP, as it would without a hypervisor; a hardware exception skips the check")
    r.expect_eq("fault.user_int3_error_code", VEC_BP * 8 + 2, "the #GP's error code names the IDT gate of #BP")
    r.expect_eq("fault.user_int3_rip_is_int3", 1, "the #GP is at the INT3 itself: leave RIP on it")
    expect_breakpoints(r, ["bp_hit3"], [1])
    r.expect_eq("bp.result", bp_result(r.nonce, count), "the program's result is unchanged")
