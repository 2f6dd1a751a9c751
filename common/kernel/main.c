/* kmain: bring up the base runtime, then hand over to the check harness. */
#include "kernel.h"
#include "mm.h"
#include "params.h"

void harness_main(void);

void kmain(void)
{
	console_init();
	gdt_init();
	idt_init();
	mm_init();
	printf("vmx-labs: lab %02u image, check '%s', nonce 0x%lx\n", boot_params.lab,
	       boot_params.check[0] ? boot_params.check : "(demo)", boot_params.nonce);
	harness_main();
	shutdown();
}
