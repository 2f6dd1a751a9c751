/* Lab 07 checks: the guest-physical layout of the grader's EPT guest and the constants its
 * program (lab07_guest.S), its host side (lab07.c) and the expectations (grader/spec/lab07.py)
 * share. Plain numbers only: the assembly includes it too. */
#pragma once

/* ---- the guest's RAM: 2 MiB at guest-physical 0, 4-KiB EPT leaves, read/write/execute ---- */
#define GUEST_RAM_SIZE 0x200000
#define G_PML4 0x1000 /* the guest's own page tables (guest-physical) */
#define G_PDPT 0x2000
#define G_PD_LOW 0x3000   /* linear 0 .. 1 GiB: 2-MiB pages, linear = physical */
#define G_PD_ALIAS 0x4000 /* linear 2 GiB ..: the code again, through ... */
#define G_PT_ALIAS 0x5000 /* ... 4-KiB pages */
#define G_GDT 0x6000
#define G_IDT 0x7000 /* zeroed: an exception in the guest is a triple fault */
#define G_TSS 0x8000
#define G_STACK_TOP 0xf000
#define G_CODE 0x10000 /* lab07_guest.S is copied here (at most G_CODE_MAX bytes) */
#define G_CODE_MAX 0x8000
#define G_PARAMS 0x20000 /* what the check tells the guest */
#define P_NONCE 0
#define P_PHASES 8
#define P_SWEEP_TAG 16    /* ept-two-guests: this guest's tag (bits 63:28) */
#define P_SWEEP_REACH 24  /* ... how many pages of the list it can reach (demand) */
#define P_SWEEP_PROBES 32 /* ... how many after those it cannot (beyond its space) */
#define P_SWEEP_LIST 64   /* ... the guest-physical pages, u64 each */
#define SWEEP_LIST_MAX 128
#define ALIAS_LINEAR 0x80000000 /* linear address of G_CODE through G_PT_ALIAS */
#define WINDOW_LINEAR \
	0x20000000 /* linear WINDOW_LINEAR + x is physical x (x < 512 MiB): the
					 * guest reaches everything beyond its code and tables through
					 * it, so no linear address equals its physical one */

/* ---- beyond the RAM ---- */
#define BIG_GPA 0x200000    /* one 2-MiB EPT leaf, read-only, filled by the check */
#define DEMAND_GPA 0x400000 /* 2 MiB mapped on first touch by the hypervisor */
#define DEMAND_SIZE 0x200000
#define DEMAND_TOUCHES 6 /* pages the guest touches there: DEMAND_STRIDE * k + (nonce & 31) */
#define DEMAND_STRIDE 37
#define MMIO_GPA 0x600000         /* the device page: no memory behind it */
#define EXECUTE_ONLY_GPA 0x800000 /* mapped execute-only after ept-write-protect's run */
#define HUGE_GPA 0x40000000       /* one 1-GiB EPT leaf, read-only, onto host-physical ... */
#define HUGE_HPA 0x40000000       /* ... 1 GiB: beyond Bochs's 128 MiB of RAM, reads all-ones */
#define HUGE_PROBE 0x12345678     /* offset the guest reads in the 1-GiB page */

/* ---- pages inside the RAM that the phases use ---- */
#define PROTECT_GPA 0x100000 /* write protection: 64 pages */
#define DIRTY_GPA 0x140000   /* dirty logging: 64 pages */
#define TRACKED_PAGES 64
#define MISCONFIG_GPA 0x1ff000 /* the check makes its leaf write-only */

/* ---- the device at MMIO_GPA: registers (byte offsets) ---- */
#define MMIO_LATCH 0x10                /* 4-byte store: latched */
#define MMIO_MIX 0x08                  /* 8-byte load: a mix of the latch */
#define MMIO_WIDE 0x18                 /* 8-byte store of an immediate */
#define MMIO_ID 0x00                   /* 4-byte load: the device returns 8 bytes, high half set */
#define MMIO_LATCH_XOR 0x5a5a5a5a      /* the guest stores (u32)nonce ^ this */
#define MMIO_ID_XOR 0x13579bdf         /* MMIO_ID reads latch ^ this (low half) */
#define MMIO_WIDE_IMMEDIATE 0x87654321 /* the guest's C7 imm32: sign-extends to 0xffffffff87654321 */
#define MMIO_MIX_MULTIPLIER 0x9e3779b97f4a7c15

/* ---- what the guest runs: bits of P_PHASES ---- */
#define PHASE_RAM 1 /* digest of the 2-MiB leaf, a read of the 1-GiB leaf */
#define PHASE_DEMAND 2
#define PHASE_MMIO 4
#define PHASE_PROTECT 8
#define PHASE_DIRTY 16
#define PHASE_MISCONFIG 32
#define PHASE_PML 64           /* a write to every page of RAM, at PML_WRITE_OFFSET */
#define PML_WRITE_OFFSET 0xc00 /* free in every page of RAM (code, tables, stack) */
#define PHASE_SWEEP \
	128 /* ept-two-guests: the pattern tag | gpa written to every
					 * page it reaches, at SWEEP_OFFSET; never returns */
#define SWEEP_OFFSET PML_WRITE_OFFSET
#define SWEEP_TAG_MASK 0xfffffffff0000000 /* the tag's bits; below them the gpa (< 256 MiB) */
#define SWEEP_SLICE_BASE 500              /* ept-two-guests: each guest's slice, TSC ticks: base ... */
#define SWEEP_SLICE_RANGE 256             /* ... + nonce % range */

/* ---- the guest's hypercalls (RAX), besides HC_DONE (2) ---- */
#define HC_EPT_REPORT 0x70      /* RDI = a REPORT_* key, RSI = value */
#define HC_EPT_PROTECT 0x71     /* the check write-protects PROTECT_GPA (ept_write_protect) */
#define HC_EPT_PROTECT_END 0x72 /* the check reports what was recorded */
#define HC_EPT_DIRTY_START 0x73 /* the check starts dirty logging of DIRTY_GPA */
#define HC_EPT_DIRTY_END 0x74   /* the check collects it */
#define HC_EPT_PML_END 0x75     /* the check drains the page-modification log */
#define HC_EPT_SWEEP_END \
	0x76 /* RDI = pages that lost the pattern, RSI = probes that did
					 * not exit, RDX = nonce ^ DONE_XOR; the guest is done */

#define REPORT_BIG_DIGEST 0
#define REPORT_HUGE_READ 1
#define REPORT_DEMAND_FIRST_READS 2
#define REPORT_DEMAND_DIGEST 3
#define REPORT_MMIO_MIX 4
#define REPORT_MMIO_ID 5
#define REPORT_MISCONFIG_SURVIVED 6
#define REPORT_KEYS 7

/* The pages a phase writes: bit i = page i. */
#define PROTECT_MASK_ROTATE 23            /* protect: nonce ^ rotl(nonce, 23) */
#define DIRTY_MASK_ROTATE 41              /* dirty: nonce ^ rotl(nonce, 41) ... */
#define DIRTY_MASK_XOR 0x0f0f0f0f0f0f0f0f /* ... ^ this */
#define DONE_XOR 0x7e57ab1e               /* HC_DONE's value: nonce ^ this */
