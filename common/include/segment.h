/* The one GDT shared by the boot code, the host and (in early labs) the guest. */
#pragma once

#define SEL_KERNEL_CS32 0x08 /* flat 32-bit code, DPL 0 */
#define SEL_KERNEL_DS 0x10   /* flat data, DPL 0 */
#define SEL_KERNEL_CS64 0x18 /* 64-bit code, DPL 0 */
#define SEL_USER_DS 0x23     /* flat data, DPL 3 (index 4, RPL 3) */
#define SEL_USER_CS64 0x2b   /* 64-bit code, DPL 3 (index 5, RPL 3) */
#define SEL_TSS 0x30         /* 64-bit TSS, 16 bytes (indexes 6 and 7) */
#define SEL_USER_CS32 0x43   /* flat 32-bit code, DPL 3 (index 8, RPL 3) */
#define GDT_ENTRIES 9
