/* kmain: bring up the base runtime, then hand over to the check harness. */
#include "apic.h"
#include "kernel.h"
#include "mm.h"
#include "params.h"
#include "x86.h"

void harness_main(void);
void harness_witness(void);

/* The BIOS leaves the 8259 PICs programmed; mask every line so no legacy IRQ reaches us. */
static void pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void kmain(void)
{
	boot_params_take();
	console_init();
	pic_mask_all();
	apic_init();
	gdt_init();
	idt_init();
	mm_init();
	printf("vmx-labs: lab %02u image, check '%s', nonce 0x%lx\n", boot_params.lab,
	       boot_params.check[0] ? boot_params.check : "(demo)", boot_params.nonce);
	harness_main();
	harness_witness();
	shutdown();
}
