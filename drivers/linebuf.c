/*
 * linebuf: bounded line splitter. See linebuf.h.
 *
 * The buffer has max + 1 bytes. The extra byte holds either the NUL handed
 * to the callback or, for a line of exactly max bytes ended by "\r\n", the
 * '\r' until its '\n' arrives (the terminator does not count against max).
 * While an over-long line is being discarded, buf[0] remembers its last byte
 * so that a "\r\n" terminator is not counted in the reported length.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

int linebuf_init(struct linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	if (max == SIZE_MAX)
		return -ENOMEM; /* max + 1 would wrap */
	lb->buf = malloc(max + 1);
	if (!lb->buf)
		return -ENOMEM;
	lb->buf[0] = '\0';
	lb->max = max;
	return 0;
}

void linebuf_free(struct linebuf *lb)
{
	if (!lb)
		return;
	if (lb->buf)
		explicit_bzero(lb->buf, lb->max + 1);
	free(lb->buf);
	lb->buf = NULL;
	lb->len = 0;
	lb->skipped = 0;
	lb->overflow = false;
}

void linebuf_reset(struct linebuf *lb)
{
	/* A partial line may hold what a probe saw (a MAC): never leave it behind. */
	if (lb->buf)
		explicit_bzero(lb->buf, lb->len < lb->max + 1 ? lb->len : lb->max + 1);
	lb->len = 0;
	lb->skipped = 0;
	lb->overflow = false;
}

/* Add @n (> 0) bytes that contain no '\n' to the current line. */
static void linebuf_append(struct linebuf *lb, const char *p, size_t n)
{
	if (!lb->overflow) {
		/* len == max + 1 only while a '\r' waits for its '\n'. */
		size_t room = lb->len <= lb->max ? lb->max - lb->len : 0;

		if (lb->len <= lb->max && (n <= room || (n == room + 1 && p[n - 1] == '\r'))) {
			memcpy(lb->buf + lb->len, p, n);
			lb->len += n;
			return;
		}
		lb->overflow = true;
		lb->skipped = lb->len;
		explicit_bzero(lb->buf, lb->len); /* the part kept so far (see reset) */
		lb->len = 0;
	}
	lb->skipped += n;
	lb->buf[0] = p[n - 1];
}

/* The '\n' ending the current line arrived: hand the line over. */
static void linebuf_complete(struct linebuf *lb, linebuf_cb cb, void *arg)
{
	size_t len;

	lb->line_no++;
	if (lb->overflow) {
		len = lb->skipped;
		if (len > 0 && lb->buf[0] == '\r')
			len--;
		lb->overflow = false;
		lb->skipped = 0;
		lb->len = 0;
		cb(arg, NULL, len, lb->line_no, true);
		return;
	}
	len = lb->len;
	if (len > 0 && lb->buf[len - 1] == '\r')
		len--;
	lb->buf[len] = '\0';
	/* Reset first: the callback may call linebuf_reset() harmlessly. */
	lb->len = 0;
	cb(arg, lb->buf, len, lb->line_no, false);
}

void linebuf_feed(struct linebuf *lb, const void *data, size_t n, linebuf_cb cb, void *arg)
{
	const char *p = data;
	const char *end = p + n;

	if (!lb->buf || !data)
		return;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;

		if (stop > p)
			linebuf_append(lb, p, (size_t)(stop - p));
		if (!nl)
			break;
		linebuf_complete(lb, cb, arg);
		if (!lb->buf)
			break; /* the callback freed us */
		p = nl + 1;
	}
}
