/* The parameter sector (see params.h). The build leaves the check empty and the nonce fixed. */
#include "params.h"

struct boot_params boot_params __section(".params") __used = {
	.magic = BOOT_PARAMS_MAGIC,
	.check = "",
	.nonce = 0x5eed,
	.lab = 0, /* written by the grader with the check (grader/bochs.py) */
};
