/* Memory-mapped devices of the guest-physical space, and the decoder of the MOV forms that
 * reach them (SDM Vol. 2: 2.1 instruction format, 2.2.1 REX, MOV). */
#include "kernel.h"
#include "mmio.h"

#define MMIO_DEVICES 8
#define REX_W BIT(3)
#define REX_R BIT(2)

static const struct mmio_device *devices[MMIO_DEVICES];

void mmio_device_register(const struct mmio_device *d)
{
	for (unsigned i = 0; i < MMIO_DEVICES; i++) {
		if (!devices[i] || devices[i] == d) {
			devices[i] = d;
			return;
		}
	}
	panic("mmio_device_register: more than %d devices", MMIO_DEVICES);
}

const struct mmio_device *mmio_device_at(u64 gpa)
{
	for (unsigned i = 0; i < MMIO_DEVICES && devices[i]; i++)
		if (gpa >= devices[i]->gpa && gpa - devices[i]->gpa < devices[i]->size)
			return devices[i];
	return NULL;
}

/* Bytes of ModRM, SIB and displacement (SDM Vol. 2, Tables 2-2 and 2-3, 64-bit mode). */
static unsigned modrm_length(const u8 *p, unsigned available)
{
	unsigned mod = p[0] >> 6, rm = p[0] & 7, n = 1;
	if (mod == 3)
		return 0; /* a register operand: not a memory access */
	if (rm == 4) {    /* a SIB byte follows */
		if (available < 2)
			return 0;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4; /* no base: disp32 */
		n++;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* RIP-relative disp32 */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= available ? n : 0;
}

bool mmio_decode(const u8 *bytes, unsigned available, struct mmio_instruction *out)
{
	unsigned i = 0, rex = 0;
	if (available > MMIO_INSTRUCTION_MAX)
		available = MMIO_INSTRUCTION_MAX;
	if (i < available && (bytes[i] & 0xf0) == 0x40)
		rex = bytes[i++];
	if (i + 1 >= available)
		return false;
	u8 opcode = bytes[i++];
	unsigned modrm = modrm_length(bytes + i, available - i);
	if (!modrm || (opcode != 0x89 && opcode != 0x8b && opcode != 0xc7))
		return false;
	out->size = rex & REX_W ? 8 : 4;
	out->reg = (enum gpr)(((bytes[i] >> 3) & 7) | (rex & REX_R ? 8 : 0));
	out->store = opcode != 0x8b;
	out->immediate = opcode == 0xc7;
	out->value = 0;
	i += modrm;
	if (out->immediate) {
		if (out->reg != 0 || i + 4 > available)
			return false; /* C7 /0 only */
		s32 imm = (s32)(bytes[i] | bytes[i + 1] << 8 | bytes[i + 2] << 16 | (u32)bytes[i + 3] << 24);
		out->value = out->size == 8 ? (u64)(s64)imm : (u32)imm;
		i += 4;
	}
	out->length = i;
	return true;
}
