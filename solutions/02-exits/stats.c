/* Lab 02: exit statistics, printed when the guest is done. */
#include "lab.h"
#include "lab02.h"

/* One line per exit reason that happened, then the total. */
void exit_stats_print(struct vcpu *v)
{
	/* BEGIN 02-15 unused: v
	 * A hypervisor's first profiling tool: how often each exit happens (SDM Appendix C
	 * names the basic exit reasons).
	 * Do: print "exit statistics:", then for every reason with a non-zero count a line
	 * "  <NAME> <count>" (NAME as exit_reason_name() gives it, one space before the count),
	 * in reason order, then "  total <sum>".
	 * Hint: exit_dispatch() counts in v->exit_count[reason].
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
