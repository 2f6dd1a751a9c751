/* Task-state segment: VM entry requires a usable host TR (SDM 27.2.3), and IST stacks live here. */
#include "kernel.h"
#include "segment.h"

#define TSS_SIZE 104
#define TSS_RSP0 4
#define TSS_IST1 36
#define TSS_IOMAP_BASE 102
#define TSS_TYPE_AVAILABLE_64 0x9
#define DESC_PRESENT BIT(47)

extern u64 gdt[GDT_ENTRIES];
u8 kernel_tss[TSS_SIZE] __aligned(16);
static u8 fault_stack[8192] __aligned(16);
static u8 ring0_stack[8192] __aligned(16);

static void tss_set(unsigned offset, u64 value) { memcpy(kernel_tss + offset, &value, sizeof(value)); }

/* Writes the 16-byte TSS descriptor (SDM 8.2.3) and loads TR. */
void gdt_init(void)
{
	u64 base = (u64)kernel_tss, limit = TSS_SIZE - 1;
	tss_set(TSS_RSP0, (u64)(ring0_stack + sizeof(ring0_stack)));
	tss_set(TSS_IST1, (u64)(fault_stack + sizeof(fault_stack)));
	kernel_tss[TSS_IOMAP_BASE] = TSS_SIZE; /* no I/O permission bitmap: CPL 3 gets no port */
	gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | ((u64)TSS_TYPE_AVAILABLE_64 << 40) |
			   DESC_PRESENT | (((base >> 24) & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}
