/* Page allocator: a free list over the memory from 2 MiB to MEMORY_END (Bochs has 128 MiB). */
#include "kernel.h"
#include "mm.h"

#define MEMORY_START 0x200000UL
#define MEMORY_END 0x8000000UL

struct free_page {
	struct free_page *next;
};

static struct free_page *free_list;
static u64 next_fresh;

void mm_init(void)
{
	free_list = NULL;
	next_fresh = MEMORY_START;
}

void *page_alloc(void)
{
	void *page;
	if (free_list) {
		page = free_list;
		free_list = free_list->next;
	} else if (next_fresh < MEMORY_END) {
		page = phys_to_virt(next_fresh);
		next_fresh += PAGE_SIZE;
	} else {
		panic("page_alloc: out of memory");
	}
	return memset(page, 0, PAGE_SIZE);
}

void page_free(void *page)
{
	struct free_page *f = page;
	f->next = free_list;
	free_list = f;
}
