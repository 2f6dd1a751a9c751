/* Physical pages. The host maps the first 4 GiB 1:1, so a page's address is also its pointer. */
#pragma once
#include "types.h"

void mm_init(void);
/* Returns a zeroed, 4-KiB-aligned page; panics when memory runs out. */
void *page_alloc(void);
void page_free(void *page);

static inline u64 virt_to_phys(const void *p) { return (u64)p; }
static inline void *phys_to_virt(u64 pa) { return (void *)pa; }
