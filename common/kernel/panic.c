/* Ending a run: a clean shutdown or a panic. The grader reads the lines printed here. */
#include "kernel.h"
#include "x86.h"


void shutdown(void)
{
	const char *word = "Shutdown";
	printf("\nEND OF RUN\n");
	console_drain();
	while (*word)
		outb(SHUTDOWN_PORT, (u8)*word++);
	for (;;) {
		cli();
		hlt();
	}
}

void panic(const char *fmt, ...)
{
	va_list ap;
	printf("\nPANIC: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	shutdown();
}
