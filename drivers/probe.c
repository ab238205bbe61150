/*
 * probe: the Wi-Fi probe sniffer line parser. See probe.h for the accepted
 * lines.
 *
 * One pass finds the four fields (t, mac, rssi, ch) as spans of the line:
 * a small strict scanner for the flat JSON object, or the first four commas
 * of a CSV line. Then the fields are checked in a fixed order (t, mac, rssi,
 * ch) and the first bad one is reported, so a line has one reason whatever
 * its member order. Nothing is allocated and nothing of the line is copied
 * except the six MAC bytes and the three integers.
 *
 * The JSON scanner accepts exactly one object of scalar members (string,
 * number, true, false, null): nested objects and arrays are syntax errors,
 * the sniffer format has none. Strings are skipped byte by byte (escapes
 * are checked, UTF-8 is not: an SSID of arbitrary bytes is fine). Keys are
 * compared as written, so a key spelled with escapes is an unknown member.
 * A required key given twice is a syntax error (which value would count?).
 *
 * Messages are built from fixed text and byte offsets only; no byte of the
 * line is ever echoed (the MAC and the SSID are personal data).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "probe.h"
#include "util.h"

#define PROBE_CH_MIN 1
#define PROBE_CH_MAX 233

/* How a field's value was written. */
enum vkind {
	V_NONE = 0, /* absent */
	V_RAW, /* CSV field: the text between commas */
	V_STR, /* JSON string: the bytes between the quotes */
	V_NUM, /* JSON number (grammar already checked) */
	V_LIT, /* JSON true, false or null */
};

struct span {
	const char *p;
	size_t n;
	enum vkind kind;
};

enum { F_T, F_MAC, F_RSSI, F_CH, F_N };

static const char *const reject_names[PROBE_R_N] = {
	[PROBE_OK] = "ok",
	[PROBE_R_SYNTAX] = "syntax",
	[PROBE_R_MAC] = "mac",
	[PROBE_R_MULTICAST] = "multicast",
	[PROBE_R_RSSI] = "rssi",
	[PROBE_R_TIME] = "time",
	[PROBE_R_CHANNEL] = "channel",
	[PROBE_R_TOO_LONG] = "too_long",
};

const char *probe_reject_name(enum probe_reject r)
{
	if ((unsigned)r >= PROBE_R_N)
		return "unknown";
	return reject_names[r];
}

static enum probe_reject fail(char *msg, size_t msgsz, enum probe_reject r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum probe_reject fail(char *msg, size_t msgsz, enum probe_reject r, const char *fmt, ...)
{
	va_list ap;

	if (msg && msgsz) {
		va_start(ap, fmt);
		vsnprintf(msg, msgsz, fmt, ap);
		va_end(ap);
	}
	return r;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Two hex digits at @p into *@b. */
static bool hex_pair(const char *p, uint8_t *b)
{
	int hi = hex_val(p[0]), lo = hex_val(p[1]);

	if (hi < 0 || lo < 0)
		return false;
	*b = (uint8_t)(hi << 4 | lo);
	return true;
}

/* aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff (one separator style) or aabbccddeeff. */
static bool parse_mac(const char *p, size_t n, uint8_t mac[6])
{
	if (n == 17) {
		char sep = p[2];

		if (sep != ':' && sep != '-')
			return false;
		for (int i = 0; i < 6; i++) {
			if (!hex_pair(p + 3 * i, &mac[i]))
				return false;
			if (i < 5 && p[3 * i + 2] != sep)
				return false;
		}
		return true;
	}
	if (n == 12) {
		for (int i = 0; i < 6; i++) {
			if (!hex_pair(p + 2 * i, &mac[i]))
				return false;
		}
		return true;
	}
	return false;
}

/*
 * A whole base-10 integer: optional '-', then digits only. Returns 0,
 * -1 (not an integer: empty, sign only, fraction, exponent, any other byte)
 * or -2 (outside [min, max]). Overlong digit strings are out of range, not
 * an overflow.
 */
static int parse_int(const char *p, size_t n, long long min, long long max, long long *out)
{
	unsigned long long v = 0;
	bool neg = false, big = false;
	size_t i = 0;

	if (n && p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		if (v > 100000000000000000ULL) /* 1e17: far past every range here */
			big = true;
		else
			v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (big)
		return -2;
	*out = neg ? -(long long)v : (long long)v;
	return *out < min || *out > max ? -2 : 0;
}

/* One integer field: t, rssi or ch. */
static enum probe_reject check_int(const struct span *s, const char *name, enum probe_reject r,
				   long long min, long long max, long long *v, char *msg,
				   size_t msgsz)
{
	int rc;

	if (s->kind == V_NONE)
		return fail(msg, msgsz, r, "%s: missing", name);
	if (s->kind != V_NUM && s->kind != V_RAW)
		return fail(msg, msgsz, r, "%s: not a number", name);
	rc = parse_int(s->p, s->n, min, max, v);
	if (rc == -1)
		return fail(msg, msgsz, r, "%s: not an integer", name);
	if (rc == -2)
		return fail(msg, msgsz, r, "%s: out of range", name);
	return PROBE_OK;
}

/* The four fields, in a fixed order; fills @out only when all are good. */
static enum probe_reject check_fields_mac(const struct span f[F_N], struct probe_sighting *out,
					  char *msg, size_t msgsz, uint8_t mac[6])
{
	enum probe_reject r;
	long long t, rssi, ch;

	r = check_int(&f[F_T], "t", PROBE_R_TIME, PROBE_T_MIN, PROBE_T_MAX, &t, msg, msgsz);
	if (r)
		return r;
	if (f[F_MAC].kind == V_NONE)
		return fail(msg, msgsz, PROBE_R_MAC, "mac: missing");
	if (f[F_MAC].kind != V_STR && f[F_MAC].kind != V_RAW)
		return fail(msg, msgsz, PROBE_R_MAC, "mac: not a string");
	if (!parse_mac(f[F_MAC].p, f[F_MAC].n, mac))
		return fail(msg, msgsz, PROBE_R_MAC, "mac: malformed");
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return fail(msg, msgsz, PROBE_R_MAC, "mac: all zeros");
	if (mac[0] & 0x01)
		return fail(msg, msgsz, PROBE_R_MULTICAST,
			    "mac: group bit set (multicast or broadcast source)");
	r = check_int(&f[F_RSSI], "rssi", PROBE_R_RSSI, PROBE_RSSI_MIN, PROBE_RSSI_MAX, &rssi, msg,
		      msgsz);
	if (r)
		return r;
	r = check_int(&f[F_CH], "ch", PROBE_R_CHANNEL, PROBE_CH_MIN, PROBE_CH_MAX, &ch, msg, msgsz);
	if (r)
		return r;
	out->t_ms = t;
	memcpy(out->mac, mac, sizeof(out->mac));
	out->rssi = (int)rssi;
	out->ch = (int)ch;
	out->randomized = (mac[0] & 0x02) != 0;
	return PROBE_OK;
}

/* check_fields_mac with its MAC scratch wiped (privacy: see probe.h). */
static enum probe_reject check_fields(const struct span f[F_N], struct probe_sighting *out,
				      char *msg, size_t msgsz)
{
	uint8_t mac[6];
	enum probe_reject r = check_fields_mac(f, out, msg, msgsz, mac);

	explicit_bzero(mac, sizeof(mac));
	return r;
}

/* <t>,<mac>,<rssi>,<ch>[,<ssid: the rest of the line, never read>] */
static enum probe_reject split_csv(const char *line, size_t len, struct span f[F_N], char *msg,
				   size_t msgsz)
{
	const char *p = line, *end = line + len;

	for (int i = 0; i < F_N; i++) {
		const char *c = memchr(p, ',', (size_t)(end - p));

		if (!c && i < F_N - 1)
			return fail(msg, msgsz, PROBE_R_SYNTAX, "csv: fewer than 4 fields");
		if (!c)
			c = end;
		f[i].p = p;
		f[i].n = (size_t)(c - p);
		f[i].kind = V_RAW;
		p = c < end ? c + 1 : end;
	}
	return PROBE_OK;
}

/* The JSON scanner's state: a cursor over [start, end). */
struct jscan_state {
	const char *start, *p, *end;
	char *msg;
	size_t msgsz;
};

static enum probe_reject jfail(struct jscan_state *js, const char *what)
{
	return fail(js->msg, js->msgsz, PROBE_R_SYNTAX, "json: %s at byte %zu", what,
		    (size_t)(js->p - js->start));
}

static void jskip_ws(struct jscan_state *js)
{
	while (js->p < js->end &&
	       (*js->p == ' ' || *js->p == '\t' || *js->p == '\r' || *js->p == '\n'))
		js->p++;
}

/* A string at the cursor (on its '"'); @s gets the bytes between the quotes. */
static enum probe_reject jstring(struct jscan_state *js, struct span *s)
{
	const char *q = ++js->p;

	while (js->p < js->end) {
		char c = *js->p;

		if (c == '"') {
			s->p = q;
			s->n = (size_t)(js->p - q);
			s->kind = V_STR;
			js->p++;
			return PROBE_OK;
		}
		if (c != '\\') {
			js->p++;
			continue;
		}
		if (js->end - js->p < 2)
			break;
		c = js->p[1];
		if (c == 'u') {
			if (js->end - js->p < 6)
				break;
			for (int i = 2; i < 6; i++) {
				if (hex_val(js->p[i]) < 0)
					return jfail(js, "bad \\u escape");
			}
			js->p += 6;
		} else if (c && strchr("\"\\/bfnrt", c)) {
			js->p += 2;
		} else {
			return jfail(js, "bad escape");
		}
	}
	return jfail(js, "unterminated string");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at the cursor. */
static enum probe_reject jnumber(struct jscan_state *js, struct span *s)
{
	const char *q = js->p;

	if (js->p < js->end && *js->p == '-')
		js->p++;
	if (js->p < js->end && *js->p == '0') {
		js->p++;
	} else if (js->p < js->end && is_digit(*js->p)) {
		while (js->p < js->end && is_digit(*js->p))
			js->p++;
	} else {
		return jfail(js, "bad number");
	}
	if (js->p < js->end && *js->p == '.') {
		js->p++;
		if (js->p == js->end || !is_digit(*js->p))
			return jfail(js, "bad number");
		while (js->p < js->end && is_digit(*js->p))
			js->p++;
	}
	if (js->p < js->end && (*js->p == 'e' || *js->p == 'E')) {
		js->p++;
		if (js->p < js->end && (*js->p == '+' || *js->p == '-'))
			js->p++;
		if (js->p == js->end || !is_digit(*js->p))
			return jfail(js, "bad number");
		while (js->p < js->end && is_digit(*js->p))
			js->p++;
	}
	s->p = q;
	s->n = (size_t)(js->p - q);
	s->kind = V_NUM;
	return PROBE_OK;
}

static enum probe_reject jvalue(struct jscan_state *js, struct span *s)
{
	static const char *const lits[] = {"true", "false", "null"};
	char c;

	if (js->p == js->end)
		return jfail(js, "value expected");
	c = *js->p;
	if (c == '"')
		return jstring(js, s);
	if (c == '-' || is_digit(c))
		return jnumber(js, s);
	if (c == '{' || c == '[')
		return jfail(js, "nested value");
	for (size_t i = 0; i < ARRAY_SIZE(lits); i++) {
		size_t n = strlen(lits[i]);

		if ((size_t)(js->end - js->p) >= n && memcmp(js->p, lits[i], n) == 0) {
			s->p = js->p;
			s->n = n;
			s->kind = V_LIT;
			js->p += n;
			return PROBE_OK;
		}
	}
	return jfail(js, "value expected");
}

/* Which required field a key names, or -1. */
static int field_of(const struct span *key)
{
	static const char *const names[F_N] = {
		[F_T] = "t", [F_MAC] = "mac", [F_RSSI] = "rssi", [F_CH] = "ch"};

	for (int i = 0; i < F_N; i++) {
		if (key->n == strlen(names[i]) && memcmp(key->p, names[i], key->n) == 0)
			return i;
	}
	return -1;
}

/* {"key":scalar,...} with optional whitespace, nothing after the '}'. */
static enum probe_reject split_json(const char *line, size_t len, struct span f[F_N], char *msg,
				    size_t msgsz)
{
	struct jscan_state js = {line, line, line + len, msg, msgsz};
	enum probe_reject r;

	jskip_ws(&js);
	if (js.p == js.end || *js.p != '{')
		return jfail(&js, "'{' expected");
	js.p++;
	jskip_ws(&js);
	if (js.p < js.end && *js.p == '}') {
		js.p++;
		goto tail;
	}
	for (;;) {
		struct span key, val = {0};
		int i;

		if (js.p == js.end || *js.p != '"')
			return jfail(&js, "member name expected");
		r = jstring(&js, &key);
		if (r)
			return r;
		jskip_ws(&js);
		if (js.p == js.end || *js.p != ':')
			return jfail(&js, "':' expected");
		js.p++;
		jskip_ws(&js);
		r = jvalue(&js, &val);
		if (r)
			return r;
		i = field_of(&key);
		if (i >= 0) {
			if (f[i].kind != V_NONE)
				return jfail(&js, "duplicate member");
			f[i] = val;
		}
		jskip_ws(&js);
		if (js.p < js.end && *js.p == ',') {
			js.p++;
			jskip_ws(&js);
			continue;
		}
		if (js.p < js.end && *js.p == '}') {
			js.p++;
			break;
		}
		return jfail(&js, "',' or '}' expected");
	}
tail:
	jskip_ws(&js);
	if (js.p != js.end)
		return jfail(&js, "text after the object");
	return PROBE_OK;
}

enum probe_reject probe_parse_line(const char *line, size_t len, struct probe_sighting *out,
				   char *msg, size_t msgsz)
{
	struct span f[F_N] = {{0}};
	enum probe_reject r;

	if (msg && msgsz)
		msg[0] = '\0';
	if (!out)
		return fail(msg, msgsz, PROBE_R_SYNTAX, "no output");
	memset(out, 0, sizeof(*out));
	if (len > PROBE_LINE_MAX)
		return fail(msg, msgsz, PROBE_R_TOO_LONG, "line: over %d bytes", PROBE_LINE_MAX);
	if (!line)
		len = 0;
	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return fail(msg, msgsz, PROBE_R_SYNTAX, "empty line");
	if (is_digit(line[0]))
		r = split_csv(line, len, f, msg, msgsz);
	else
		r = split_json(line, len, f, msg, msgsz);
	if (!r)
		r = check_fields(f, out, msg, msgsz);
	if (r)
		memset(out, 0, sizeof(*out));
	return r;
}
