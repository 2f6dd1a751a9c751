/* The table of virtual I/O devices and the one entry point that reaches them. */
#include "io_device.h"
#include "kernel.h"
#include "x86.h"

#define MAX_IO_DEVICES 8

static const struct io_device *devices[MAX_IO_DEVICES];

void io_device_register(const struct io_device *d)
{
	for (unsigned i = 0; i < MAX_IO_DEVICES; i++) {
		if (!devices[i]) {
			devices[i] = d;
			return;
		}
	}
	panic("io_device_register: no room for %s", d->name);
}

static const struct io_device *find(u16 port)
{
	for (unsigned i = 0; i < MAX_IO_DEVICES && devices[i]; i++)
		if (port >= devices[i]->base && port - devices[i]->base < devices[i]->count)
			return devices[i];
	return NULL;
}

static u32 real_in(u16 port, unsigned size)
{
	u32 v;
	if (size == 1)
		v = inb(port);
	else if (size == 2)
		__asm__ volatile("inw %1, %w0" : "=a"(v) : "Nd"(port));
	else
		__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void real_out(u16 port, unsigned size, u32 v)
{
	if (size == 1)
		outb(port, (u8)v);
	else if (size == 2)
		outw(port, (u16)v);
	else
		__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

void io_access(u16 port, unsigned size, bool is_in, u32 *value)
{
	const struct io_device *d = find(port);
	u32 mask = size == 4 ? 0xffffffffU : (1U << (8 * size)) - 1;
	if (size != 1 && size != 2 && size != 4)
		panic("io_access: bad size %u for port 0x%x", size, port);
	if (is_in)
		*value = (d ? d->in(port, size) : real_in(port, size)) & mask;
	else if (d)
		d->out(port, size, *value & mask);
	else
		real_out(port, size, *value & mask);
}
