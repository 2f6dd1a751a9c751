/* Lab 02: exit statistics, printed when the guest is done. */
#include "lab.h"
#include "lab02.h"

/* One line per exit reason that happened, then the total. */
void exit_stats_print(struct vcpu *v)
{
	/* TODO 02-15
	 * Achieve: print "exit statistics:", then "  <NAME> <count>" for every exit reason that
	 * happened, in reason order (NAME as exit_reason_name() gives it), then "  total <sum>";
	 * the grader compares these lines with the exits Bochs recorded.
	 * SDM Appendix C: "The low 16 bits of the exit-reason field form the basic exit reason
	 * which provides basic information about the cause of the VM exit or VM-entry failure."
	 * Hints: docs/labs/02-exits.md, step 02-15.
	 */
	(void)v;
	TODO("02-15");
}
LAB_FINISH(02, exit_stats_print);
