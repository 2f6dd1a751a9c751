/* Virtual I/O devices: what a trapped IN or OUT reaches (SDM 26.1.3, 25.6.4). */
#pragma once
#include "types.h"

struct io_device {
	const char *name;
	u16 base, count;                    /* ports base .. base + count - 1 */
	u32 (*in)(u16 port, unsigned size); /* size: 1, 2 or 4 bytes */
	void (*out)(u16 port, unsigned size, u32 value);
};

void io_device_register(const struct io_device *d);
/* Performs one IN (is_in) or OUT of `size` bytes: on the device that owns the port, or on the
 * real port when none does. */
void io_access(u16 port, unsigned size, bool is_in, u32 *value);
