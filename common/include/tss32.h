/* The 32-bit task-state segment (SDM Vol. 3A, 8.2.1, Figure 8-2) and GDT descriptors (3.4.5). */
#pragma once
#include "types.h"

struct tss32 {
	u16 back_link, reserved0; /* previous task link */
	u32 esp0;
	u16 ss0, reserved1;
	u32 esp1;
	u16 ss1, reserved2;
	u32 esp2;
	u16 ss2, reserved3;
	u32 cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u16 es, reserved4, cs, reserved5, ss, reserved6, ds, reserved7, fs, reserved8, gs, reserved9;
	u16 ldt, reserved10;
	u16 trap; /* bit 0: T (debug trap) */
	u16 io_map_base;
} __packed;

#define TSS32_MIN_LIMIT 0x67 /* a 32-bit TSS is at least 104 bytes */

/* Segment descriptor fields (SDM 3.4.5) */
#define DESC_TYPE(d) (((d) >> 40) & 0xf)
#define DESC_S(d) (((d) >> 44) & 1)
#define DESC_PRESENT(d) (((d) >> 47) & 1)
#define DESC_BASE(d) ((((d) >> 16) & 0xffffff) | ((((d) >> 56) & 0xff) << 24))
#define DESC_RAW_LIMIT(d) (((d)&0xffff) | (((d) >> 32) & 0xf0000))
#define DESC_G(d) (((d) >> 55) & 1)
#define DESC_BUSY_BIT (1UL << 41) /* type bit 1 of a TSS descriptor */

enum system_descriptor_type {
	SYS_TYPE_TSS32_AVAILABLE = 0x9,
	SYS_TYPE_TSS32_BUSY = 0xb,
	SYS_TYPE_TASK_GATE = 0x5,
};

/* A descriptor's limit in bytes, with the granularity applied. */
static inline u32 desc_limit(u64 d)
{
	u32 raw = (u32)DESC_RAW_LIMIT(d);
	return DESC_G(d) ? (raw << 12) | 0xfff : raw;
}

/* The VMCS access-rights form of a descriptor (SDM 25.4.1): bits 55:40 shifted down. */
static inline u32 desc_access_rights(u64 d) { return (u32)(d >> 40) & 0xf0ff; }
