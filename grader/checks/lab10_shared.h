/* Lab 10 checks: the pages of the grader's guest (lab10_guest.S, in lab 07's guest-physical
 * space: lab07_shared.h) and the constants it, its host side (lab10.c) and the expectations
 * (grader/spec/lab10.py) share. Plain numbers only: the assembly includes it too. */
#pragma once
#include "lab07_shared.h"

/* ---- guest-physical pages inside the guest's RAM (lab 07's layout keeps them free) ---- */
#define VF_DATA_GPA 0x21000         /* the guest's own variables (VF_* offsets below) */
#define VF_VIEW_GPA 0x30000         /* vmfunc-*: another host page in each view */
#define VF_HOOK_GPA 0x31000         /* vmfunc-hook: the hooked code page */
#define VF_INFO_GPA 0x32000         /* the #VE information area, mapped into every view */
#define VF_SUPPRESS_GPA 0x33000     /* ve-*: read-only, "suppress #VE" set */
#define VF_PLAIN_GPA 0x34000        /* ve-*: read-only, "suppress #VE" clear */
#define VF_PROBE_GPA 0x800000       /* ve-*: three pages nothing maps */
#define VF_WINDOW_LINEAR 0x20000000 /* lab 07's WINDOW_LINEAR, for the expectations */

/* ---- offsets in VF_DATA_GPA ---- */
#define VF_PHASES 0        /* what the guest runs: VF_PHASE_* */
#define VF_SKIP 8          /* #VE outside the hook page: bytes to skip at the faulting RIP */
#define VF_CLEAR_BUSY 16   /* ... and whether the handler clears the busy dword */
#define VF_VE_COUNT 24     /* #VEs delivered */
#define VF_UD_COUNT 32     /* #UDs delivered */
#define VF_HOOKED 40       /* calls of the hooked code */
#define VF_INDEXES 48      /* bit i: a #VE reported EPTP index i (i < 64) */
#define VF_UD_AT_VMFUNC 56 /* #UDs whose RIP pointed at a VMFUNC (0F 01 D4) */
#define VF_LAST 64         /* the last #VE's information area, 40 bytes copied */

/* ---- what the guest runs ---- */
#define VF_PHASE_SWITCH 1  /* read VF_VIEW_GPA in view 0, 1, 0 */
#define VF_PHASE_INVALID 2 /* three VMFUNCs the processor refuses */
#define VF_PHASE_VE 4      /* #VE, a second violation while busy, suppress #VE */
#define VF_PHASE_HOOK 8    /* the guest-resident agent: a hooked call and clean reads */

#define VF_VIEW_OFFSET_MASK 0xff8          /* VF_VIEW_GPA: the qword at nonce & this */
#define VF_VIEW0_MUL 0x9e3779b97f4a7c15    /* view 0 holds nonce * this, view 1 ... */
#define VF_VIEW1_MUL 0xc2b2ae3d27d4eb4f    /* ... nonce * this */
#define VF_BAD_INDEX_BASE 512              /* vmfunc-invalid: ECX = this + (nonce & 0xff) */
#define VF_EMPTY_INDEX 7                   /* ... an entry of the list that holds no EPTP */
#define VF_HOOK_CALLS_BASE 3               /* vmfunc-hook: this + (nonce & 3) calls */
#define VF_HOOK_MUL 0x2545f4914f6cdd1d     /* the hook returns (argument * this) ^ ... */
#define VF_ORIGINAL_XOR 0x0123456789abcdef /* the original returns argument ^ this */
#define VF_PROBE_FILL 0x5bd1e9955bd1e995   /* ve-*: the third probe page holds nonce ^ this */

/* ---- the guest's hypercalls (RAX), besides HC_DONE (2) ---- */
#define HC_VF_REPORT 0xa0 /* RDI = a VF_REPORT_* key, RSI = value */
#define HC_VF_STEP 0xa1   /* RDI = the step that starts (make run narrates) */

#define VF_REPORT_VIEW_FIRST 0
#define VF_REPORT_VIEW_SWITCHED 1
#define VF_REPORT_VIEW_BACK 2
#define VF_REPORT_UD_COUNT 3
#define VF_REPORT_VIEW_AFTER 4
#define VF_REPORT_VE_COUNT 5
#define VF_REPORT_VE_REASON 6
#define VF_REPORT_VE_BUSY 7
#define VF_REPORT_VE_QUAL 8
#define VF_REPORT_VE_GLA 9
#define VF_REPORT_VE_GPA 10
#define VF_REPORT_PROBE_READ 11
#define VF_REPORT_SUPPRESS_READ 12
#define VF_REPORT_HOOK_RESULT 13
#define VF_REPORT_HOOK_READ_LOW 14
#define VF_REPORT_HOOK_READ_HIGH 15
#define VF_REPORT_HOOKED 16
#define VF_REPORT_INDEXES 17
#define VF_REPORT_UD_AT_VMFUNC 18
#define VF_REPORT_KEYS 19
