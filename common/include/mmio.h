/* Memory-mapped devices at guest-physical pages with no memory behind them (lab 07): the device
 * table, and a decoder for the instruction forms a guest uses to reach them. */
#pragma once
#include "types.h"
#include "vmx_exit.h"

struct mmio_device {
	const char *name;
	u64 gpa, size;                          /* guest-physical gpa .. gpa + size - 1 */
	u64 (*read)(u64 offset, unsigned size); /* size: 4 or 8 bytes */
	void (*write)(u64 offset, unsigned size, u64 value);
};

void mmio_device_register(const struct mmio_device *d);
/* The device at guest-physical `gpa`, or NULL. */
const struct mmio_device *mmio_device_at(u64 gpa);

/* One decoded MOV between a general register (or an immediate) and memory (SDM Vol. 2, MOV):
 * 89 /r store, 8B /r load, C7 /0 id store of an immediate; an optional REX prefix (W: 8 bytes,
 * else 4; R extends the register), any ModRM/SIB addressing form. */
struct mmio_instruction {
	unsigned length; /* bytes, prefixes included */
	bool store;      /* to memory (89, C7) or from it (8B) */
	unsigned size;   /* 4 or 8 */
	bool immediate;  /* C7: the stored value is `value`, not a register */
	enum gpr reg;    /* the register stored or loaded (89, 8B) */
	u64 value;       /* C7: the immediate, sign-extended to `size` */
};

#define MMIO_INSTRUCTION_MAX 15 /* SDM Vol. 2, 2.3.11: an instruction is at most 15 bytes */

/* Decodes the instruction in bytes[0..available-1]; false for any other form. */
bool mmio_decode(const u8 *bytes, unsigned available, struct mmio_instruction *out);
