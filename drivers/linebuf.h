/*
 * linebuf: splits a byte stream into lines, with a hard bound on line length.
 *
 * Bytes are fed in arbitrary chunks; each complete line (terminated by "\n",
 * a trailing "\r" removed) is passed to the callback without its terminator.
 * A line longer than the maximum is not stored: the callback gets it once,
 * flagged too_long with line == NULL and len = its full length, when its "\n"
 * arrives; the stream resyncs at that newline. Memory is fixed at init.
 * Lines are numbered from 1 since init; linebuf_reset keeps the count.
 */
#ifndef SHELF_LINEBUF_H
#define SHELF_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct linebuf {
	char *buf; /* max + 1 bytes; lines are NUL-terminated for the callback */
	size_t len; /* bytes of the current partial line held */
	size_t max; /* longest line accepted, in bytes without terminator */
	size_t skipped; /* bytes of the current over-long line seen so far */
	bool overflow; /* the current line is over-long, being discarded */
	uint64_t line_no; /* number of the last line completed */
};

/*
 * @line: NUL-terminated line (NUL bytes inside are possible: use @len), or
 * NULL when @too_long. @line_no: 1-based line number.
 */
typedef void (*linebuf_cb)(void *arg, const char *line, size_t len, uint64_t line_no,
			   bool too_long);

/* Allocate the buffer for lines of at most @max bytes. Returns 0 or -ENOMEM. */
int linebuf_init(struct linebuf *lb, size_t max);
/* Free the buffer. NULL-safe, idempotent. */
void linebuf_free(struct linebuf *lb);
/* Forget any partial line (e.g. after the device reconnected); keeps line_no. */
void linebuf_reset(struct linebuf *lb);
/* Feed @n bytes; calls @cb for every line completed by them. */
void linebuf_feed(struct linebuf *lb, const void *data, size_t n, linebuf_cb cb, void *arg);

#endif
