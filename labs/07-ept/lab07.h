/* Lab 07 (EPT): its per-vCPU state and the functions its files provide.
 * Provided, not edited: the grader builds every submission with its own copy of this file. */
#pragma once
#include "ept.h"
#include "mm.h"
#include "mmio.h"
#include "vcpu.h"

#define WRITE_LOG_MAX 64 /* pages a write-protection phase can record */
#define PML_ENTRIES 512  /* SDM 29.3.6: the log is one 4-KiB page of 8-byte addresses */

struct lab07_vcpu {
	u64 *pml4;                      /* the EPT PML4 table (host pointer = host-physical address) */
	u64 eptp;                       /* the EPT pointer written to the VMCS */
	u64 demand_start, demand_end;   /* guest-physical [start, end): mapped on first touch */
	u64 demand_pages;               /* pages mapped on demand so far */
	u64 protect_start, protect_end; /* guest-physical [start, end): writes are recorded */
	u64 written[WRITE_LOG_MAX];     /* guest-physical pages written while protected */
	unsigned written_count;
	u64 *pml_log;              /* the page-modification log (PML_ADDRESS), one page */
	u64 *pml_logged;           /* guest-physical pages drained from it (one page), until ... */
	unsigned pml_logged_count; /* ... their consumer takes them and sets this to 0 */
};

/* This lab's state in `v` (one zeroed page, allocated on first use). */
static inline struct lab07_vcpu *lab07(struct vcpu *v)
{
	_Static_assert(sizeof(struct lab07_vcpu) <= PAGE_SIZE, "lab state fits a page");
	if (!v->lab_state[7])
		v->lab_state[7] = page_alloc();
	return v->lab_state[7];
}

/* SDM 29.3.3.1: why an EPT paging-structure entry is misconfigured. */
enum ept_misconfig {
	EPT_ENTRY_OK = 0,
	EPT_MISCONFIG_WRITE_WITHOUT_READ, /* bit 1 set, bit 0 clear */
	EPT_MISCONFIG_EXECUTE_ONLY,       /* bit 2 alone, without execute-only support */
	EPT_MISCONFIG_MEMORY_TYPE,        /* a leaf with memory type 2, 3 or 7 */
	EPT_MISCONFIG_RESERVED_BIT,       /* a reserved bit set (layout, MAXPHYADDR, alignment) */
};

static inline const char *ept_misconfig_name(enum ept_misconfig m)
{
	static const char *const names[] = {
		[EPT_ENTRY_OK] = "no misconfiguration",
		[EPT_MISCONFIG_WRITE_WITHOUT_READ] = "write access without read access",
		[EPT_MISCONFIG_EXECUTE_ONLY] = "execute-only, which this processor does not support",
		[EPT_MISCONFIG_MEMORY_TYPE] = "a reserved memory type (2, 3 or 7)",
		[EPT_MISCONFIG_RESERVED_BIT] = "a reserved bit set",
	};
	return (unsigned)m < ARRAY_SIZE(names) ? names[m] : "unknown";
}

/* The steps of lab 07, implemented by the student (labs/07-ept). */
/* ept.c: the EPT pointer, the paging structures, INVEPT, dirty logging */
u64 ept_make_eptp(u64 pml4_pa, bool accessed_dirty);
void ept_enable(struct vcpu *v, bool accessed_dirty);
void ept_map(struct vcpu *v, u64 gpa, u64 hpa, u64 size, u64 permissions);
u64 *ept_lookup(struct vcpu *v, u64 gpa, unsigned *level);
void *ept_gpa_to_host(struct vcpu *v, u64 gpa);
void ept_invalidate(struct vcpu *v);
void ept_write_protect(struct vcpu *v, u64 gpa, u64 size);
void ept_dirty_log_start(struct vcpu *v, u64 gpa, u64 pages);
u64 ept_dirty_log_collect(struct vcpu *v, u64 gpa, u64 pages);
void ept_pml_enable(struct vcpu *v);
void ept_pml_drain(struct vcpu *v);
/* violation.c: EPT-violation and EPT-misconfiguration exits */
enum ept_misconfig ept_entry_misconfig(u64 entry, unsigned level);
/* guest_walk.c: the guest's own page walk, and MMIO emulation */
bool guest_virt_to_phys(struct vcpu *v, u64 gva, u64 *gpa);
enum exit_verdict mmio_emulate(struct vcpu *v, const struct mmio_device *d, u64 gpa);
