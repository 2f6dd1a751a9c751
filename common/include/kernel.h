/* Console output, panic and shutdown for code running in VMX root operation. */
#pragma once
#include "types.h"
#include <stdarg.h>

void console_init(void);
void console_putc(char c);
void console_drain(void);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* Prints "PANIC: <message>" and ends the run. */
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2))) __noreturn;
/* Bochs powers off when the bytes of "Shutdown" are written to this port. */
#define SHUTDOWN_PORT 0x8900
/* Drains the UART and asks Bochs to power off (SHUTDOWN_PORT). */
void shutdown(void) __noreturn;

/* Set up by the boot code and kmain(). */
void gdt_init(void);
void idt_init(void);
extern u8 kernel_tss[];

#define assert(cond) ((cond) ? (void)0 : panic("%s:%d: assertion failed: %s", __FILE__, __LINE__, #cond))
