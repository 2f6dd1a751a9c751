/* Lab 02: exit statistics, printed when the guest is done. */
#include "lab.h"
#include "lab02.h"

/* One line per exit reason that happened, then the total. */
void exit_stats_print(struct vcpu *v)
{
	/* BEGIN 02-15 unused: v
	 * Achieve: print "exit statistics:", then "  <NAME> <count>" for every exit reason that
	 * happened, in reason order (NAME as exit_reason_name() gives it), then "  total <sum>";
	 * the grader compares these lines with the exits Bochs recorded.
	 * SDM Appendix C: "The low 16 bits of the exit-reason field form the basic exit reason
	 * which provides basic information about the cause of the VM exit or VM-entry failure."
	 * Hints: docs/labs/02-exits.md, step 02-15.
	 */
	u64 total = 0;
	printf("exit statistics:\n");
	for (unsigned r = 0; r < EXIT_REASON_TABLE_SIZE; r++) {
		if (!v->exit_count[r])
			continue;
		const char *name = exit_reason_name(r);
		printf("  %s %lu\n", name ? name : "UNKNOWN", v->exit_count[r]);
		total += v->exit_count[r];
	}
	printf("  total %lu\n", total);
	/* END 02-15 */
}
LAB_FINISH(02, exit_stats_print);
