"""Hidden lab 01 check (an example, see docs/instructors.md): expectations of
grader/hidden/checks/lab01_hidden.c."""
from gradelib import check


@check("01", "hidden-cpuid-count", 5, ["01-10", "01-11"],
       "hidden: every guest CPUID exits once and the guest goes on after it")
def hidden_cpuid_count(r):
    rounds = 2 + (r.nonce >> 16) % 7
    r.expect_eq("hidden.cpuid_rounds", rounds, "the guest finished its nonce-derived number of CPUIDs")
    r.expect_eq("exits.CPUID", rounds, "Bochs recorded one CPUID exit per guest CPUID (SDM 26.1.2)")
