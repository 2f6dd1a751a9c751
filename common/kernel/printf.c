/* A small printf: %d %i %u %x %X %p %s %c %%, with l/ll/z/h length, 0/- flags and width. */
#include "kernel.h"

struct sink {
	char *buf; /* NULL: write to the console */
	size_t size;
	size_t len;
};

static void put(struct sink *s, char c)
{
	if (!s->buf)
		console_putc(c);
	else if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void put_padded(struct sink *s, const char *str, size_t n, int width, bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;
	if (!left)
		while (fill-- > 0)
			put(s, pad);
	while (n--)
		put(s, *str++);
	if (left)
		while (fill-- > 0)
			put(s, ' ');
}

static size_t format_number(char *out, u64 v, unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	size_t n = 0, i;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(s, *fmt);
			continue;
		}
		bool left = false, is_long = false;
		char pad = ' ';
		int width = 0;
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++)
			*fmt == '-' ? (left = true) : (pad = '0');
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z' || *fmt == 'h'; fmt++)
			is_long |= *fmt != 'h';
		char num[24];
		size_t n;
		switch (*fmt) {
		case 'd':
		case 'i': {
			s64 v = is_long ? va_arg(ap, s64) : va_arg(ap, int);
			char *p = num;
			if (v < 0)
				*p++ = '-';
			n = (size_t)(p - num) + format_number(p, v < 0 ? -(u64)v : (u64)v, 10, false);
			put_padded(s, num, n, width, left, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			u64 v = is_long ? va_arg(ap, u64) : va_arg(ap, unsigned);
			n = format_number(num, v, *fmt == 'u' ? 10 : 16, *fmt == 'X');
			put_padded(s, num, n, width, left, pad);
			break;
		}
		case 'p':
			num[0] = '0', num[1] = 'x';
			n = 2 + format_number(num + 2, (u64)va_arg(ap, void *), 16, false);
			put_padded(s, num, n, width, left, pad);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			put_padded(s, str, strlen(str), width, left, ' ');
			break;
		}
		case 'c':
			num[0] = (char)va_arg(ap, int);
			put_padded(s, num, 1, width, left, ' ');
			break;
		case '%':
			put(s, '%');
			break;
		default:
			put(s, '%');
			if (*fmt)
				put(s, *fmt);
			else
				fmt--;
		}
	}
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink s = { NULL, 0, 0 };
	format(&s, fmt, ap);
	return (int)s.len;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { buf, size, 0 };
	format(&s, fmt, ap);
	if (size)
		buf[s.len < size ? s.len : size - 1] = '\0';
	return (int)s.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
