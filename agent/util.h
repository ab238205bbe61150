/*
 * util: small helpers shared by the daemon, the CLI and the tests.
 *
 * Clocks (wall clock in ms for event timestamps, monotonic ms for timers),
 * RFC 3339 UTC formatting/parsing with milliseconds, a bounded string copy,
 * strict integer parsing, and a bounded growable byte buffer (dynbuf) in the
 * style of curl's: every buffer has a mandatory maximum and refuses to grow
 * past it with -EMSGSIZE.
 */
#ifndef SHELF_UTIL_H
#define SHELF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t now_wall_ms(void);
/* Milliseconds from an arbitrary origin (CLOCK_MONOTONIC), for timers. */
int64_t now_mono_ms(void);

/* Length of an RFC 3339 timestamp "2026-11-23T02:00:00.120Z" plus NUL. */
#define TS_BUFSZ 32
/* Format @ms (Unix epoch ms) as RFC 3339 UTC with milliseconds into @buf. */
void ts_format(int64_t ms, char buf[TS_BUFSZ]);
/*
 * Parse an RFC 3339 timestamp (Z or +hh:mm offset, optional fraction) into
 * Unix epoch ms. Returns 0 or -EINVAL.
 */
int ts_parse(const char *s, int64_t *ms);

/*
 * Store days: the local calendar day (the gateway's TZ, DST included) that
 * contains @t_ms starts at local_day_start_ms(t_ms); the next one at
 * local_day_next_ms(t_ms). Opening hours and daily key rotation use them.
 */
int64_t local_day_start_ms(int64_t t_ms);
int64_t local_day_next_ms(int64_t t_ms);
/* The local time @minutes after the midnight @day_ms (24:00 = the next midnight; DST-aware). */
int64_t local_day_at_ms(int64_t day_ms, unsigned minutes);

/*
 * Copy @src into @dst of size @dstsz, always NUL-terminating. Returns 0 or
 * -ENAMETOOLONG when @src did not fit (the copy is truncated).
 */
int str_copy(char *dst, size_t dstsz, const char *src);

/*
 * Parse a whole base-10 signed integer in [min, max]. Returns 0, -EINVAL
 * (not a number, trailing garbage) or -ERANGE.
 */
int parse_ll(const char *s, long long min, long long max, long long *out);

/* A bounded byte buffer. Always NUL-terminated when len > 0. */
struct dynbuf {
	char *buf;
	size_t len;
	size_t cap;
	size_t max; /* never grows past this many bytes (excluding the NUL) */
};

/* Initialise an empty buffer that may hold at most @max bytes. */
void dynbuf_init(struct dynbuf *d, size_t max);
/* Free the storage; @d may be reused after dynbuf_init. NULL-safe. */
void dynbuf_free(struct dynbuf *d);
/* Drop the contents, keep the storage. */
void dynbuf_reset(struct dynbuf *d);
/* Append bytes. Returns 0, -EMSGSIZE past max (nothing appended), -ENOMEM. */
int dynbuf_add(struct dynbuf *d, const void *p, size_t n);
int dynbuf_adds(struct dynbuf *d, const char *s);
/* printf-style append, same errors. */
int dynbuf_addf(struct dynbuf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Append @s as a JSON string literal (with quotes), escaping control
 * characters, quotes and backslashes. Same errors as dynbuf_add.
 */
int dynbuf_add_json_str(struct dynbuf *d, const char *s);

/* True if @buf[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *buf, size_t len);
/* Control characters in UTF-8 text @s[0..n): C0, DEL, and C1 (U+0080..U+009F). */
bool text_has_control(const char *s, size_t n);

#endif
