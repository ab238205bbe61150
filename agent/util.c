/*
 * util: clocks, RFC 3339 timestamps, bounded strings, strict integers, the
 * bounded dynbuf and a UTF-8 validator. See util.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define DYNBUF_MIN_CAP 64

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/*
 * Floor division so that times before 1970 still get a fraction in 0..999.
 * Years outside 0..9999 (which RFC 3339 cannot express) are clamped to the
 * epoch rather than producing a malformed string.
 */
/* Write @v (>= 0) as exactly @n decimal digits, zero-padded. */
static void put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* The local midnight at or before @t_ms, from the C library (slow: see below). */
static int64_t day_start_raw(int64_t t_ms)
{
	time_t t = (time_t)(t_ms / 1000 - (t_ms % 1000 < 0));
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return t_ms - t_ms % 86400000;
	tm.tm_hour = 0;
	tm.tm_min = 0;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * 1000;
}

/*
 * The last day looked up. With TZ unset glibc stats /etc/localtime on every
 * localtime_r/mktime, which made each door pass cost ~40 us; the store's
 * day changes once a day. Keyed by the TZ variable, so a test (or anyone)
 * switching TZ gets fresh answers; a change of /etc/localtime while shelfd
 * runs is seen at the next restart.
 */
static struct {
	bool valid;
	int64_t start, next;
	char tz[64];
} day_cache;

static const char *tz_now(void)
{
	const char *tz = getenv("TZ");

	return tz ? tz : "";
}

int64_t local_day_start_ms(int64_t t_ms)
{
	const char *tz = tz_now();

	if (day_cache.valid && t_ms >= day_cache.start && t_ms < day_cache.next &&
	    !strcmp(day_cache.tz, tz))
		return day_cache.start;
	day_cache.start = day_start_raw(t_ms);
	/* 26 h after the start is always inside the next day, DST or not. */
	day_cache.next = day_start_raw(day_cache.start + 26 * 3600000LL);
	day_cache.valid = strlen(tz) < sizeof(day_cache.tz) && t_ms >= day_cache.start &&
			  t_ms < day_cache.next;
	if (day_cache.valid)
		str_copy(day_cache.tz, sizeof(day_cache.tz), tz);
	return day_cache.start;
}

int64_t local_day_next_ms(int64_t t_ms)
{
	int64_t start = local_day_start_ms(t_ms);

	if (day_cache.valid && day_cache.start == start)
		return day_cache.next;
	return day_start_raw(start + 26 * 3600000LL);
}

int64_t local_day_at_ms(int64_t day_ms, unsigned minutes)
{
	/* One remembered answer (the closing time, asked for every pass): see day_cache. */
	static struct {
		int64_t day, at;
		unsigned minutes;
		char tz[64];
	} c;
	const char *tz = tz_now();
	time_t t = (time_t)(day_ms / 1000);
	struct tm tm;

	if (c.day == day_ms && c.minutes == minutes && day_ms && !strcmp(c.tz, tz))
		return c.at;
	if (!localtime_r(&t, &tm))
		return day_ms + (int64_t)minutes * 60000;
	tm.tm_hour = (int)(minutes / 60);
	tm.tm_min = (int)(minutes % 60);
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	c.at = (int64_t)mktime(&tm) * 1000;
	if (strlen(tz) < sizeof(c.tz)) {
		c.day = day_ms;
		c.minutes = minutes;
		str_copy(c.tz, sizeof(c.tz), tz);
	} else {
		c.day = 0;
	}
	return c.at;
}

void ts_format(int64_t ms, char buf[TS_BUFSZ])
{
	int64_t secs = ms / 1000;
	int frac = (int)(ms % 1000);
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if ((int64_t)t != secs || !gmtime_r(&t, &tm) || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 70;
		tm.tm_mday = 1;
		frac = 0;
	}
	/* By hand, not snprintf: this runs for every event. */
	put_digits(buf, (tm.tm_year + 1900) % 10000, 4);
	buf[4] = '-';
	put_digits(buf + 5, (tm.tm_mon + 1) % 100, 2);
	buf[7] = '-';
	put_digits(buf + 8, tm.tm_mday % 100, 2);
	buf[10] = 'T';
	put_digits(buf + 11, tm.tm_hour % 100, 2);
	buf[13] = ':';
	put_digits(buf + 14, tm.tm_min % 100, 2);
	buf[16] = ':';
	put_digits(buf + 17, tm.tm_sec % 100, 2);
	buf[19] = '.';
	put_digits(buf + 20, frac % 1000, 3);
	buf[23] = 'Z';
	buf[24] = '\0';
}

/* Read exactly @n decimal digits from *@p; advances *@p. Returns -1 on a non-digit. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && is_leap(y))
		return 29;
	return days[m - 1];
}

/*
 * Accepts YYYY-MM-DDTHH:MM:SS[.f+](Z|+hh:mm|-hh:mm), 'T' and 'Z' in either
 * case. Digits past the third of the fraction are checked but truncated.
 * A leap second (:60) is accepted and lands on the next minute's :00.
 */
int ts_parse(const char *s, int64_t *ms)
{
	int year, mon, day, hour, min, sec, frac = 0, off = 0;
	const char *p = s;
	struct tm tm;
	time_t t;

	if (!s || !ms)
		return -EINVAL;
	if ((year = digits(&p, 4)) < 0 || *p++ != '-')
		return -EINVAL;
	if ((mon = digits(&p, 2)) < 0 || *p++ != '-')
		return -EINVAL;
	if ((day = digits(&p, 2)) < 0 || (*p != 'T' && *p != 't'))
		return -EINVAL;
	p++;
	if ((hour = digits(&p, 2)) < 0 || *p++ != ':')
		return -EINVAL;
	if ((min = digits(&p, 2)) < 0 || *p++ != ':')
		return -EINVAL;
	if ((sec = digits(&p, 2)) < 0)
		return -EINVAL;
	if (*p == '.') {
		int n = 0;

		p++;
		for (; *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 3)
				frac = frac * 10 + (*p - '0');
		}
		if (n == 0)
			return -EINVAL;
		for (; n < 3; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int oh, om;

		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' || (om = digits(&p, 2)) < 0)
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 60 + om);
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 ||
	    min > 59 || sec > 60)
		return -EINVAL;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	errno = 0;
	t = timegm(&tm);
	if (t == (time_t)-1 && errno != 0)
		return -EINVAL;
	*ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
	return 0;
}

int str_copy(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (!dst || dstsz == 0)
		return -ENAMETOOLONG;
	if (!src)
		src = "";
	n = strnlen(src, dstsz);
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/* Optional sign, then decimal digits only: no spaces, no base prefixes. */
int parse_ll(const char *s, long long min, long long max, long long *out)
{
	const char *p = s;
	char *end;
	long long v;

	if (!s || !out)
		return -EINVAL;
	if (*p == '-' || *p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void dynbuf_init(struct dynbuf *d, size_t max)
{
	d->buf = NULL;
	d->len = 0;
	d->cap = 0;
	d->max = max;
}

void dynbuf_free(struct dynbuf *d)
{
	if (!d)
		return;
	free(d->buf);
	d->buf = NULL;
	d->len = 0;
	d->cap = 0;
}

void dynbuf_reset(struct dynbuf *d)
{
	d->len = 0;
	if (d->buf)
		d->buf[0] = '\0';
}

/* Make room for @n more bytes plus the NUL, growing geometrically up to max + 1. */
static int dynbuf_reserve(struct dynbuf *d, size_t n)
{
	size_t need, cap;
	char *nb;

	if (n > d->max || d->len > d->max - n)
		return -EMSGSIZE;
	need = d->len + n + 1;
	if (need <= d->cap)
		return 0;
	cap = d->cap ? d->cap : DYNBUF_MIN_CAP;
	while (cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap < need || cap > d->max + 1)
		cap = d->max + 1 > need ? d->max + 1 : need;
	nb = realloc(d->buf, cap);
	if (!nb)
		return -ENOMEM;
	d->buf = nb;
	d->cap = cap;
	return 0;
}

/* @p may point into @d's own storage (appending a copy of itself). */
int dynbuf_add(struct dynbuf *d, const void *p, size_t n)
{
	uintptr_t up = (uintptr_t)p, ub = (uintptr_t)d->buf;
	bool inside = d->buf && up >= ub && up < ub + d->cap;
	int rc;

	if (n == 0)
		return 0;
	rc = dynbuf_reserve(d, n);
	if (rc < 0)
		return rc;
	if (inside)
		p = d->buf + (up - ub);
	memmove(d->buf + d->len, p, n);
	d->len += n;
	d->buf[d->len] = '\0';
	return 0;
}

int dynbuf_adds(struct dynbuf *d, const char *s)
{
	return dynbuf_add(d, s, strlen(s));
}

/* Formats straight into the spare capacity; reformats once after growing. */
int dynbuf_addf(struct dynbuf *d, const char *fmt, ...)
{
	va_list ap, ap2;
	size_t room;
	int n, rc;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	room = d->cap > d->len ? d->cap - d->len : 0;
	n = vsnprintf(room ? d->buf + d->len : NULL, room, fmt, ap);
	if (n < 0) {
		rc = -EINVAL;
		goto out_restore;
	}
	if (n == 0) {
		rc = 0;
		goto out_restore;
	}
	if ((size_t)n < room) {
		if ((size_t)n > d->max || d->len > d->max - (size_t)n) {
			rc = -EMSGSIZE;
			goto out_restore;
		}
		d->len += (size_t)n;
		rc = 0;
		goto out;
	}
	rc = dynbuf_reserve(d, (size_t)n);
	if (rc < 0)
		goto out_restore;
	vsnprintf(d->buf + d->len, d->cap - d->len, fmt, ap2);
	d->len += (size_t)n;
	rc = 0;
	goto out;
out_restore:
	/* vsnprintf may have scribbled past len: put the terminator back. */
	if (d->buf)
		d->buf[d->len] = '\0';
out:
	va_end(ap2);
	va_end(ap);
	return rc;
}

/*
 * All or nothing: on error the buffer is truncated back to where it was.
 * Control characters become \n, \t, ... or \u00XX; bytes >= 0x80 pass through.
 */
int dynbuf_add_json_str(struct dynbuf *d, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = d->len;
	int rc;

	if (!s)
		return -EINVAL;
	rc = dynbuf_add(d, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
		const unsigned char *run = p;
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};

		while (*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			rc = dynbuf_add(d, run, (size_t)(p - run));
		if (rc < 0 || !*p)
			break;
		switch (*p) {
		case '"':
			rc = dynbuf_add(d, "\\\"", 2);
			break;
		case '\\':
			rc = dynbuf_add(d, "\\\\", 2);
			break;
		case '\n':
			rc = dynbuf_add(d, "\\n", 2);
			break;
		case '\r':
			rc = dynbuf_add(d, "\\r", 2);
			break;
		case '\t':
			rc = dynbuf_add(d, "\\t", 2);
			break;
		case '\b':
			rc = dynbuf_add(d, "\\b", 2);
			break;
		case '\f':
			rc = dynbuf_add(d, "\\f", 2);
			break;
		default:
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			rc = dynbuf_add(d, esc, sizeof(esc));
			break;
		}
	}
	if (rc == 0)
		rc = dynbuf_add(d, "\"", 1);
	if (rc < 0) {
		d->len = start;
		if (d->buf)
			d->buf[start] = '\0';
	}
	return rc;
}

/*
 * Strict UTF-8 (RFC 3629): shortest form only, no UTF-16 surrogates
 * (U+D800..DFFF), nothing above U+10FFFF, no truncated sequences.
 */
bool utf8_valid(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* > U+10FFFF */
		} else {
			return false; /* continuation byte, C0/C1 overlong lead, F5..FF */
		}
		if (len - i - 1 < n)
			return false;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++) {
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				return false;
		}
		i += n + 1;
	}
	return true;
}

bool text_has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return true;
		/* C1 in UTF-8: c2 80 .. c2 9f */
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0)
			return true;
	}
	return false;
}
