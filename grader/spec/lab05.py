"""Lab 05: the VMX-preemption timer and a round-robin scheduler. Guest programs:
grader/checks/lab05.c. Bochs's timer counts one tick per guest instruction (rate 0, the exact
build) and lets V-1 instructions retire for a value V: the tolerances below allow for that."""
from gradelib import C, as_int, check

LAB = "05"
TIMER = "exits.VMX_PREEMPTION_TIMER_EXPIRED"
RATE_MIN, RATE_RANGE = C["RATE_MIN"], C["RATE_RANGE"]
MAX = C["PREEMPTION_TIMER_MAX"]


def slice_of(nonce, base, rng):
    """A check's slice in TSC ticks (lab05.c: slice_of)."""
    return base + (nonce >> 4) % rng


def timer_value(ticks, rate):
    return min(ticks >> rate, MAX)


@check(LAB, "timer-support", 8, ["05-1"],
       "both controls the timer needs are allowed (capability MSRs, allowed 1-settings)")
def timer_support(r):
    r.expect_eq("support.real", 1, "this Bochs allows pin-based bit 6 and VM-exit bit 22 (bits 63:32 "
                "of the capability MSRs, the TRUE_ ones when IA32_VMX_BASIC[55] = 1)")
    r.expect_eq("support.no_activate", 0, "the check cleared allowed-1 bit 6 of the pin-based "
                "capability MSR: no \"activate VMX-preemption timer\"")
    r.expect_eq("support.no_save", 0, "the check cleared allowed-1 bit 22 of the VM-exit capability "
                "MSR: no \"save VMX-preemption timer value\"")
    r.expect("exits.RDMSR", lambda v: as_int(v) >= 3, "RDMSR exits (Bochs's record)",
             "the answers must come from the capability MSRs, read in the guest (every RDMSR exits here)")


@check(LAB, "timer-rate", 10, ["05-2", "05-3"],
       "the rate X from IA32_VMX_MISC[4:0] and time slices converted into timer values")
def timer_rate(r):
    rate_phase(r, "rate", RATE_MIN + r.nonce % RATE_RANGE)
    rate_phase(r, "rate_max", C["RATE_MAX"])
    r.expect("exits.RDMSR", lambda v: as_int(v) >= 1, "RDMSR exits (Bochs's record)",
             "the rate must come from IA32_VMX_MISC, read in the guest (every RDMSR exits here)")


def rate_phase(r, prefix, rate):
    small = (r.nonce >> 8) & 0xffffff
    wide = (((r.nonce >> 8) & 0xffffffff) | 1 << 31) << (rate - 2)
    huge = (1 << (32 + rate)) + (r.nonce >> 48)
    r.expect_eq(f"{prefix}.rate", rate, f"the check's IA32_VMX_MISC reads bits 4:0 = {rate} with bits 5-8 "
                "set: the rate is bits 4:0 only (SDM A.6)")
    r.expect_eq(f"{prefix}.small", timer_value(small, rate),
                f"{small:#x} ticks >> {rate}: the timer counts down once per 2^X TSC ticks")
    r.expect_eq(f"{prefix}.wide", timer_value(wide, rate),
                f"{wide:#x} ticks >> {rate}: shift the 64-bit count, truncate only the result")
    r.expect_eq(f"{prefix}.huge", MAX, f"{huge:#x} ticks >> {rate} does not fit the 32-bit field: "
                "the largest value, never a truncated one")



@check(LAB, "timer-scaled", 6, ["05-4", "05-5"],
       "a slice becomes a timer value at the processor's rate, when it starts and after each timer exit")
def timer_scaled(r):
    rate = RATE_MIN + (r.nonce >> 40) % RATE_RANGE
    ticks = C["SCALED_TICKS_BASE"] + ((r.nonce >> 8) & 0xffffff)
    value = timer_value(ticks, rate)
    r.expect_eq("scaled.activate", 1, "preemption_timer_start() sets \"activate VMX-preemption timer\" "
                "(pin-based bit 6) in the current VMCS")
    r.expect_eq("scaled.save", 1, "preemption_timer_start() sets \"save VMX-preemption timer value\" "
                "(VM-exit control bit 22) in the current VMCS")
    why = (f"a slice of {ticks:#x} TSC ticks at rate X = {rate} (the check's IA32_VMX_MISC) is the "
           f"value {ticks:#x} >> {rate}: convert with preemption_timer_value(), never write ticks (Bochs's "
           "X = 0 hides the difference)")
    r.expect_eq("scaled.start", value, "preemption_timer_start() writes the field: " + why)
    r.expect_eq("scaled.handler", value, "after a timer exit (saved value 0) the handler writes a full "
                "slice again: " + why)
    r.expect("exits.VMWRITE", lambda v: as_int(v) >= 1, "VMWRITE exits (Bochs's record)",
             "the steps run in a guest here, and their VMWRITEs exit to the check")


# ---- Bochs's record as a timeline: which VMCS ran, from which tick to which exit ----

def runs(r):
    """(VMCS, entry tick, exit tick, exit reason, VMLAUNCH?) of every VM entry that entered the
    guest: an entry Bochs followed with a VM exit (a failed VMLAUNCH, like the closing witness's,
    has none)."""
    out, t = [], r.bochs.timeline
    for (tick, kind, value), nxt in zip(t, t[1:] + [(0, None, 0)]):
        if kind in ("VMLAUNCH", "VMRESUME") and nxt[1] == "exit":
            out.append((value, tick, nxt[0], nxt[2], kind == "VMLAUNCH"))
    return out


def slices(runs_):
    """The guest ticks of each slice that a timer exit ended: the runs of one VMCS since its
    previous timer exit (other exits, such as CPUID or VMCALL, split a slice into runs)."""
    out, spent = [], {}
    for vmcs, entry, exit_tick, reason, _ in runs_:
        spent[vmcs] = spent.get(vmcs, 0) + exit_tick - entry
        if reason == TIMER_REASON:
            out.append((vmcs, spent.pop(vmcs)))
    return out


TIMER_REASON = 52


def overrun(runs_, want, hi):
    """The first stretch of a VMCS's runs in Bochs's record that lasts longer than its slice
    (want(vmcs) + hi guest ticks) without a timer exit: (VMCS, ticks, entries), or None."""
    spent, entries = {}, {}
    for vmcs, entry, exit_tick, reason, _ in runs_:
        spent[vmcs] = spent.get(vmcs, 0) + exit_tick - entry
        entries[vmcs] = entries.get(vmcs, 0) + 1
        if spent[vmcs] > want(vmcs) + hi:
            return vmcs, spent[vmcs], entries[vmcs]
        if reason == TIMER_REASON:
            spent.pop(vmcs), entries.pop(vmcs)
    return None


def expect_slices(r, want, lo, hi, why):
    """Every timer-ended slice in Bochs's record lasts want(vmcs) + [lo, hi] ticks, and no VMCS
    runs longer than that without a timer exit."""
    seen = slices(runs(r))
    bad = [(hex(v), ticks) for v, ticks in seen if not want(v) + lo <= ticks <= want(v) + hi]
    shown = ", ".join(str(ticks) for _, ticks in seen[:10]) + (", ..." if len(seen) > 10 else "")
    r.expect_that(f"Bochs's record: guest ticks of each slice a timer exit ended [{shown}]",
                  bool(seen) and not bad, f"{len(seen)} slices, {len(bad)} wrong {bad[:4]}",
                  "every one right", why)
    over = overrun(runs(r), want, hi)
    r.expect_that("Bochs's record: guest ticks without a timer exit", over is None,
                  f"VMCS {over[0]:#x}: {over[1]} ticks over {over[2]} VM entries" if over else "none longer "
                  "than a slice", "at most one slice", "" if not over else
                  f"its slice is {want(over[0])} ticks, but the timer did not end it: other VM exits "
                  "split it, and each VM entry started a full slice again. \"Save VMX-preemption timer "
                  "value\" (VM-exit control bit 22) makes an entry continue the slice; never write the "
                  "field again before an entry (only after a timer exit)")


@check(LAB, "timer-slice", 12, ["05-4", "05-5"],
       "a slice of S TSC ticks ends in exit 52 after S ticks, again and again (rate 0 on Bochs)")
def timer_slice(r):
    s = slice_of(r.nonce, C["SLICE_BASE"], C["SLICE_RANGE"])
    step = C["SLICE_LOOP_INSTRUCTIONS"]
    bound = s * 7 // 2 // step
    r.expect_eq("guest.done", bound, f"the guest's loop of {bound} iterations runs to its end")
    r.expect_eq(TIMER, 3, f"the loop lasts 3.5 slices of {s} ticks: three VMX-preemption timer exits "
                "(Bochs's record), each followed by a full slice again")
    r.expect_eq("slice.preemptions", r.bochs.count(TIMER_REASON),
                "lab05(v)->preemptions counts every timer exit Bochs recorded")
    expect_slices(r, lambda v: s, -2, 2,
                  f"each slice lasts {s} ticks: preemption_timer_start() writes the value of {s} ticks, "
                  "and the exit handler writes a full slice again (after a timer exit the saved value is 0)")
    for n in range(1, C["SLICE_REPORTED"] + 1):
        want = n * (s - 1)
        r.expect(f"slice.counter{n}", lambda v, want=want: abs(as_int(v) * step - want) <= step,
                 f"{want // step} (+-1)", f"{n} slice(s) of {s} ticks let {want} guest instructions "
                 f"retire on Bochs ({s - 1} each: V-1 for a value V), {step} per iteration, and RIP "
                 "stays where the timer stopped the guest")


@check(LAB, "timer-save", 16, ["05-4"],
       "a guest that exits every 25 instructions is still preempted once per slice (save control)")
def timer_save(r):
    s = slice_of(r.nonce, C["SAVE_SLICE_BASE"], C["SAVE_SLICE_RANGE"])
    per_iteration = C["SAVE_LOOP_NOPS"] + 5
    n = C["SAVE_SLICES"]
    bound = (2 * n + 1) * s // 2 // per_iteration
    r.expect_eq("guest.done", bound, f"the guest's loop of {bound} iterations runs to its end")
    r.expect_eq("exits.CPUID", bound, "each iteration's CPUID exits")
    r.expect(TIMER, lambda v: n - 1 <= as_int(v) <= n + 1, f"{n} (+-1)",
             f"the guest runs {n}.5 slices of {s} ticks in all, but never {s} ticks without a CPUID "
             "exit: only \"save VMX-preemption timer value\" (VM-exit control bit 22) makes each entry "
             "continue the slice; without it (or with the field written again before every entry) "
             "every entry starts a full slice and the timer never fires")
    expect_slices(r, lambda v: s, -per_iteration - 2, 2,
                  f"the guest ticks between two timer exits add up to one slice ({s}), "
                  "however many CPUID exits split it")
    expect_preemptions(r)


def expect_preemptions(r):
    r.expect_eq("timer.preemptions", r.bochs.count(TIMER_REASON),
                "lab05(v)->preemptions counts every timer exit Bochs recorded")


@check(LAB, "timer-hlt", 12, ["05-4", "05-5"],
       "the timer counts down in the HLT state: a guest halted with IF = 0 is still preempted")
def timer_hlt(r):
    r.expect_eq("hlt.armed", 1, "preemption_timer_start() activates the timer with the value of the "
                f"slice ({C['HLT_SLICE']} ticks)")
    r.expect_absent("exits.HLT", "the check turned HLT exiting off: the guest really halts")
    r.expect_eq(TIMER, C["HLT_EXITS"], "the timer ends each slice in the HLT state (SDM 26.5.1: it "
                "counts in the HLT activity state too); the check wakes the guest after the second")
    expect_slices(r, lambda v: C["HLT_SLICE"], -2, 12,
                  f"each slice lasts {C['HLT_SLICE']} ticks although no instruction runs "
                  "(Bochs's idle loop advances 10 ticks at a time)")
    for n in range(1, C["HLT_EXITS"] + 1):
        r.expect_eq(f"hlt.activity{n}", C["ACTIVITY_HLT"],
                    "the exit saves activity state HLT (1): the guest is still halted")
        r.expect_eq(f"hlt.rip_after_hlt{n}", 1,
                    "guest RIP is the instruction after HLT, and the handler leaves it there: "
                    "exit 52 is not caused by an instruction (the check shows your handler a "
                    f"VM-exit instruction length of {C['HLT_UNDEFINED_LENGTH']}: undefined, never skip it)")
    expect_preemptions(r)
    r.expect_eq("guest.done", r.nonce ^ 0x4a17, "the guest ends after the check wakes it")


@check(LAB, "timer-zero-inject", 10, ["05-4", "05-5"],
       "value 0 at a VM entry that injects an interrupt: the exit comes after delivery, at the handler")
def timer_zero_inject(r):
    vector = C["VEC_ZERO"]
    first = runs(r)[:1]
    r.expect_that("Bochs's record: the first VM entry", bool(first) and first[0][3] == TIMER_REASON and
                  first[0][2] - first[0][1] <= 1,
                  [(f"{e[2] - e[1]} ticks", f"exit {e[3]}") for e in first],
                  "exit 52 within a tick", "with value 0 the timer exit comes before the guest's first "
                  "instruction (SDM 26.7.4: after event injection)")
    r.expect_injections(lambda ev: ev[:1] == [(vector, 0)], f"[{vector:#x}/0x0] first",
                        "the check queued the interrupt: lab 04 injects it at that entry")
    r.expect_eq("zero.first_exit_is_timer", 1, "the first VM exit is the timer's")
    r.expect_eq("zero.rip_at_handler", 1, "guest RIP at that exit is the first instruction of the "
                f"guest's handler for vector {vector:#x}: the interrupt was delivered first")
    r.expect_eq("zero.handler_ran_before", 0, "and none of the handler has run")
    r.expect_eq("zero.irq_count", 1, "after the exit the handler runs, once")
    r.expect_eq("zero.irq_vector", vector, "for the injected vector")
    r.expect_eq("guest.done", 0, "the guest runs to its end")


def sched_iterations(nonce):
    return C["SCHED_ITERATIONS_BASE"] + (nonce >> 20) % C["SCHED_ITERATIONS_RANGE"]


TOLERANCE = 0.1     # the share of B's work while A's loop runs, relative (handout: 10 %)


def scheduled(r, weight, guests):
    """A, B (weight x A's slice) and, with three guests, C (A's slice), added in that order."""
    s = slice_of(r.nonce, C["SCHED_SLICE_BASE"], C["SCHED_SLICE_RANGE"])
    iterations = sched_iterations(r.nonce)
    names = "ABC"[:guests]
    vmcs = [r.int_fact(f"sched.vmcs_{n.lower()}") for n in names]
    slice_of_vmcs = dict(zip(vmcs, [s, weight * s, s]))
    r.expect_eq("guest.done", 0, "guest A (the harness's guest) runs to its end")
    r.expect_eq("sched.a_iterations", iterations, "guest A's loop")
    for n in names[1:]:
        r.expect_eq(f"sched.{n.lower()}_iterations", (weight + 1) * iterations + C["SCHED_ITERATIONS_RANGE"],
                    f"guest {n}'s loop, after A's end without A")
    timer_exits = r.bochs.count(TIMER_REASON)
    cause = ("no VMX-preemption timer exit (52) in Bochs's record: the timer never fired" if not timer_exits
             else f"{timer_exits} timer exits in Bochs's record, but not a slice for each guest in turn: "
             "see the slice lengths and the order of entries below (did a VMWRITE meant for one guest's "
             "VMCS go into the current one? Was the field written again before an entry? Was a guest "
             "skipped in the round?)")
    for n, w in zip(names[1:], [weight, 1]):
        done = r.int_fact(f"sched.{n.lower()}_during_a")
        if done == 0:
            r.lines.append(("BAD", f"sched.{n.lower()}_during_a = 0: guest {n} made no progress while A ran: {cause}"))
        else:
            r.expect(f"sched.{n.lower()}_during_a",
                     lambda v, w=w: abs(as_int(v) / iterations - w) <= w * TOLERANCE,
                     f"{w} x {iterations} (+-{TOLERANCE:.0%})",
                     f"{n}'s slice is {w} x A's ({w * s} and {s} ticks): while A's loop runs, {n} "
                     f"must do {w} times A's work, within {TOLERANCE:.0%}")
    seen = runs(r)
    mine = [x for x in seen if x[0] in vmcs]
    launches = [(hex(x[0]), i) for i, x in enumerate(mine) if x[4]]
    first = {}
    for i, x in enumerate(mine):
        first.setdefault(x[0], i)
    r.expect_that("Bochs's record: VMLAUNCHes (VMCS, entry number)", launches == sorted(
                  (hex(v), i) for v, i in first.items()) and len(launches) == guests, launches,
                  "one VMLAUNCH per VMCS, at its first entry",
                  "the launch state belongs to each VMCS: VMLAUNCH once, VMRESUME after (SDM 25.11.3)")
    last_a = max((i for i, x in enumerate(mine) if x[0] == vmcs[0]), default=-1)

    def after(v):
        return vmcs[(vmcs.index(v) + 1) % guests]
    wrong = [i for i in range(last_a) if mine[i][3] == TIMER_REASON and mine[i + 1][0] != after(mine[i][0])]
    wrong += [i for i in range(last_a) if mine[i][3] != TIMER_REASON and mine[i + 1][0] != mine[i][0]]
    order = " -> ".join(names + "A")
    r.expect_that("Bochs's record: entries after each exit while all guests run", not wrong and last_a > 0,
                  f"{len(wrong)} out of turn" + (f" (entry {min(wrong) + 1})" if wrong else "") if last_a > 0
                  else f"{len(mine)} entries of the guests' VMCSs, none of A's after another guest's",
                  f"after a timer exit the next guest in the order they were added ({order}), after any "
                  "other exit the same guest",
                  "round robin: a slice ends only at a timer exit, and every guest that has not stopped "
                  "gets its turn before the preempted one runs again")
    expect_slices(r, lambda v: slice_of_vmcs.get(v, s), -2, 2,
                  f"A's slices last {s} ticks, B's {weight * s}" + (f", C's {s}" if guests == 3 else "") +
                  ": each VMCS holds its own guest's value")


@check(LAB, "sched-round-robin", 16, ["05-6", "05-7", "05-8", "05-9"],
       "three guests that exit only for a CPUID now and then share the processor 1:1:1, in turn")
def sched_round_robin(r):
    scheduled(r, 1, 3)


@check(LAB, "sched-weighted", 10, ["05-6", "05-7", "05-8", "05-9"],
       "two guests with slices 1:3 share the processor 1:3")
def sched_weighted(r):
    scheduled(r, C["SCHED_WEIGHT"], 2)
