/* The parameter sector (see params.h). The build leaves the check empty and the nonce fixed. */
#include "kernel.h"
#include "params.h"

/* The sector as the grader writes it into each run's copy of the image (loaded at 0x7e00). */
struct boot_params boot_sector_params __section(".params") __used = {
	.magic = BOOT_PARAMS_MAGIC,
	.check = "",
	.nonce = 0x5eed,
	.lab = 0, /* written by the grader with the check (grader/bochs.py) */
};

struct boot_params boot_params;

void boot_params_take(void)
{
	boot_params = boot_sector_params;
	memset(&boot_sector_params, 0, sizeof(boot_sector_params));
}
