/* Lab 08 checks: the guest-physical layout of the grader's unrestricted guest and the constants
 * its program (lab08_guest.S), its host side (lab08.c) and the expectations (grader/spec/lab08.py)
 * share. Plain numbers only: the assembly includes it too. */
#pragma once

/* ---- the guest's RAM: 2 MiB at guest-physical 0, 4-KiB EPT leaves, read/write/execute ---- */
#define UG_RAM_SIZE 0x200000
#define UG_IVT 0x0             /* the machine's page 0 (IVT, BIOS data area), passed through */
#define UG_EBDA_PAGE 0x9f000   /* the machine's page of the extended BIOS data area, too */
#define UG_LOW_RAM_END 0xa0000 /* VGA memory, option ROMs and the BIOS ROM: passed through */
#define UG_HIGH_RAM 0x100000
#define UG_PARAMS 0xe000 /* what the check tells the guest */
#define P_NONCE 0
#define P_PHASES 8
#define UG_SEEN 0xe080 /* what the guest's IVT handlers saw: IP, FLAGS, count (words) */
#define UG_GDT 0xe100  /* null, 32-bit code, data, 64-bit code */
#define UG_GDT_LIMIT 0x1f
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18
#define UG_PAE_PDPT 0x1000 /* PAE paging: 4 PDPTEs, each onto a page directory */
#define PAE_PDPT_SIZE 32   /* ug-pae-pdptes: a copy at UG_PAE_PDPT + 32 * (1 + nonce % 127) */
#define PAE_PDPT_SLOTS 127
#define PAE_PDPTE_CACHE_BITS(nonce, i) ((((nonce) >> (4 + 2 * (i))) & 3) << 3) /* PWT, PCD */
#define UG_PD 0x2000   /* UG_PD + i * 0x1000: the directory of PDPTE i */
#define UG_PT 0x14000  /* UG_PT + i * 0x1000: a table with one page, UG_DATA + i */
#define UG_PML4 0xa000 /* IA-32e paging: PML4 -> PDPT -> UG_PD (directory 0) */
#define UG_PDPT64 0xb000
#define UG_DATA 0x10000         /* UG_DATA + i * 0x1000: the page PDPTE i leads to */
#define UG_DATA_LINEAR 0x200000 /* linear i GiB + this: through PDPTE i to UG_DATA + i */
#define UG_STACK_TOP 0x7000
#define UG_ENTRY 0x7c00 /* CS:IP 0000:7C00, where a BIOS starts a boot sector */
#define UG_CODE_MAX 0x2000
#define UG_E820_BUF 0x20000 /* where the guest collects the memory map (24 bytes a call) */
#define UG_E820_MAX 16
#define UG_DISK_BUF 0x21000      /* where the guest reads sector 1 of the disk */
#define UG_MACHINE_RAM 0x8000000 /* Bochs's 128 MiB: beyond the guest's RAM, the hypervisor's */
#define UG_INT15_STUB 0x22000    /* where the hypervisor puts its INT 15h hook */

/* ---- what the guest runs: bits of P_PHASES ---- */
#define PHASE_WALK 1   /* real mode -> protected mode -> PAE paging -> IA-32e mode */
#define PHASE_EVENTS 2 /* injected events through the IVT, in real mode */
#define PHASE_BIOS 4   /* the machine's BIOS services: INT 10h, 13h, 15h; its ports */

/* ---- the guest's hypercalls (EAX), besides HC_DONE (2) ---- */
#define HC_UG_REPORT 0x80    /* EDI = a REPORT_* key, ESI = value */
#define HC_UG_INTERRUPT 0x81 /* the check injects external interrupt EBX */
#define HC_UG_EXCEPTION 0x82 /* the check injects #GP */
#define HC_UG_STRAY 0x83     /* an IVT entry the guest did not expect was taken */

#define REPORT_REAL 0                     /* in real mode */
#define REPORT_PROTECTED 1                /* 32-bit protected mode, no paging */
#define REPORT_PAE 2                      /* PAE paging (the digest of the 4 data pages) */
#define REPORT_IA32E 3                    /* IA-32e mode */
#define REPORT_INTERRUPT 4                /* what the IVT handler of the interrupt saw */
#define REPORT_EXCEPTION 5                /* what the #GP handler saw */
#define REPORT_DISK 6                     /* nonce and magic of sector 1, read with INT 13h AH = 42h */
#define REPORT_E820_COUNT 7               /* the entries INT 15h E820h gave, | E820_ENDED_BY_ERROR */
#define E820_ENDED_BY_ERROR 0x100         /* the last call failed (CF, no "SMAP", ECX) or UG_E820_MAX */
#define E820_BAD_SIGNATURE_ANSWERED 0x200 /* a call with EDX != "SMAP" returned CF = 0 */
#define E820_SHORT_BUFFER_ANSWERED 0x400  /* a call with ECX < 20 returned CF = 0 */
#define E820_EDI_HIGH 0x5a5a0000          /* EDI's high half in the guest's E820h calls */
#define E820_ENTRY_BYTES 20
#define REPORT_E801 8 /* INT 15h AX = E801h: AX | BX << 16 (chained to the BIOS) */
#define REPORT_KEYS 9

#define BIOS_ROW 12                 /* the text row the guest prints on with INT 10h */
#define SMAP 0x534d4150             /* "SMAP", the E820h signature */
#define PARAMS_MAGIC_LOW 0x50584d56 /* "VMXP", the first 4 bytes of the parameter sector */

#define INTERRUPT_BASE 0x40        /* the injected vector: INTERRUPT_BASE + (nonce & 0x3f) */
#define DATA_MULTIPLIER 0x9e3779b1 /* data page i holds (nonce32 ^ i) * this at DATA_OFFSET */
#define DATA_OFFSET 0x40
#define REAL_XOR 0x0c0ffee0 /* REPORT_REAL: nonce32 ^ this, computed in real mode */
#define PROTECTED_XOR 0x32b17000
#define IA32E_XOR 0x64b17000
#define DONE_XOR 0x7e57ab1e /* HC_DONE: nonce32 ^ this */
