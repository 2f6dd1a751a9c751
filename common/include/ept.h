/* EPT paging-structure entries and the EPT pointer (SDM Vol. 3C 29.3.2, Tables 29-1 to 29-6;
 * 25.6.11, Table 25-9). Architectural constants only: lab 07 builds the structures. */
#pragma once
#include "types.h"

#define EPT_ENTRIES 512 /* 8-byte entries in a 4-KiB table */
#define EPT_LEVELS 4    /* PML4, PDPT, PD, PT */

/* Tables 29-1..29-6: every entry */
#define EPT_READ BIT(0)
#define EPT_WRITE BIT(1)
#define EPT_EXECUTE BIT(2)
#define EPT_RWX (EPT_READ | EPT_WRITE | EPT_EXECUTE)
/* A leaf (a PTE, or a PDE/PDPTE with bit 7): memory type 5:3, ignore PAT 6, page size 7 */
#define EPT_MEMORY_TYPE_SHIFT 3
#define EPT_MEMORY_TYPE_MASK (7UL << EPT_MEMORY_TYPE_SHIFT) /* 5:3 */
#define EPT_IGNORE_PAT BIT(6)
#define EPT_LARGE_PAGE BIT(7) /* PDE: 2-MiB leaf; PDPTE: 1-GiB leaf */
#define EPT_ACCESSED BIT(8)   /* with EPTP bit 6 (29.3.5) */
#define EPT_DIRTY BIT(9)      /* leaves only */
#define EPT_SUPPRESS_VE BIT(63)
#define EPT_ADDRESS_MASK 0x000ffffffffff000UL /* 51:12 */

/* 11.11 memory types (the values of EPT memory-type fields and of EPTP bits 2:0) */
enum memory_type {
	MEMORY_TYPE_UC = 0,
	MEMORY_TYPE_WC = 1,
	MEMORY_TYPE_WT = 4,
	MEMORY_TYPE_WP = 5,
	MEMORY_TYPE_WB = 6,
};

/* Table 25-9: the EPT pointer */
#define EPTP_MEMORY_TYPE_MASK 7UL /* 2:0: UC (0) or WB (6) */
#define EPTP_WALK_LENGTH_SHIFT 3  /* 5:3: page-walk length - 1 */
#define EPTP_WALK_LENGTH_MASK (7UL << EPTP_WALK_LENGTH_SHIFT)
#define EPTP_ACCESSED_DIRTY BIT(6) /* enables the A/D flags (29.3.5) */
#define EPTP_RESERVED_MASK 0xf80UL /* 11:7 (7: shadow-stack access rights) */

/* Page sizes an EPT leaf can map */
#define SIZE_4K 0x1000UL
#define SIZE_2M 0x200000UL
#define SIZE_1G 0x40000000UL

/* The index of `gpa` in the table of `level` (4 = PML4 ... 1 = PT): bits 47:39, 38:30, 29:21,
 * 20:12. */
static inline unsigned ept_index(u64 gpa, unsigned level) { return (gpa >> (12 + 9 * (level - 1))) & 511; }
/* The size a leaf at `level` maps: 4 KiB at 1, 2 MiB at 2, 1 GiB at 3. */
static inline u64 ept_level_size(unsigned level) { return 1UL << (12 + 9 * (level - 1)); }
