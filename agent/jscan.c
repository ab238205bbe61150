/*
 * jscan: the strict pull scanner for JSON. See jscan.h for the grammar it
 * accepts and the token model.
 *
 * The scanner is a small state machine (what may come next) over a stack of
 * container kinds kept as bits in one uint64_t. Strings are validated in one
 * pass (escapes, surrogate pairs, UTF-8, control characters) with a tight
 * loop over plain ASCII bytes; their decoded length is computed at the
 * same time so callers can size copies and check limits before decoding.
 */
#include <errno.h>
#include <string.h>

#include "jscan.h"

enum {
	ST_VALUE, /* a value must come */
	ST_VALUE_OR_END, /* after '[': a value or ']' */
	ST_KEY_OR_END, /* after '{': a member name or '}' */
	ST_COMMA_OR_END, /* after a value inside a container */
	ST_DONE, /* after the top-level value: only whitespace */
	ST_EOF, /* JSCAN_EOF was returned */
	ST_ERROR,
};

/* Bytes that may appear in a string as themselves without more checks. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static enum jscan_type fail(struct jscan *s, struct jscan_tok *t, size_t off, const char *msg)
{
	s->state = ST_ERROR;
	s->err = msg;
	s->err_off = off;
	if (t) {
		memset(t, 0, sizeof(*t));
		t->type = JSCAN_ERROR;
		t->off = off;
	}
	return JSCAN_ERROR;
}

void jscan_init(struct jscan *s, const char *buf, size_t len, unsigned max_depth)
{
	memset(s, 0, sizeof(*s));
	s->buf = buf;
	s->len = buf ? len : 0;
	s->max_depth = max_depth == 0 || max_depth > JSCAN_MAX_DEPTH ? JSCAN_MAX_DEPTH : max_depth;
	s->state = ST_VALUE;
}

const char *jscan_error(const struct jscan *s, size_t *off)
{
	if (off)
		*off = s->err ? s->err_off : 0;
	return s->err;
}

/*
 * Length (2..4) of the strict UTF-8 sequence at @p (a byte >= 0x80), or 0 if
 * it is not one (see utf8_valid() in util.c for the same rules).
 */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++) {
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	}
	return n;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The 4 hex digits at @p (the caller checked they are there), or -1. */
static long hex4(const unsigned char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hex_val(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8_len(unsigned long cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Scan the string whose opening quote is at s->pos; fills @t, moves past it. */
static enum jscan_type scan_string(struct jscan *s, struct jscan_tok *t, enum jscan_type type)
{
	const unsigned char *base = (const unsigned char *)s->buf;
	const unsigned char *start = base + s->pos + 1, *p = start, *end = base + s->len;
	size_t saved = 0;
	unsigned flags = 0;

	for (;;) {
		unsigned char c;

		while (p < end && plain(*p))
			p++;
		if (p == end)
			return fail(s, t, s->pos, "unterminated string");
		c = *p;
		if (c == '"')
			break;
		if (c == '\\') {
			long cp;

			flags |= JSCAN_F_ESCAPED;
			if (end - p < 2)
				return fail(s, t, (size_t)(p - base), "unterminated string");
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				saved++;
				continue;
			case 'u':
				break;
			default:
				return fail(s, t, (size_t)(p - base), "invalid escape in string");
			}
			if (end - p < 6 || (cp = hex4(p + 2)) < 0)
				return fail(s, t, (size_t)(p - base),
					    "invalid \\u escape (4 hex digits expected)");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(s, t, (size_t)(p - base),
					    "lone low surrogate in \\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				long lo;

				if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
				    (lo = hex4(p + 8)) < 0xdc00 || lo > 0xdfff)
					return fail(s, t, (size_t)(p - base),
						    "high surrogate in \\u escape not followed by "
						    "a low one");
				p += 12;
				saved += 12 - 4;
				continue;
			}
			if (cp == 0)
				flags |= JSCAN_F_NUL;
			p += 6;
			saved += 6 - utf8_len((unsigned long)cp);
			continue;
		}
		if (c < 0x20)
			return fail(s, t, (size_t)(p - base),
				    c == 0 ? "NUL byte in string" : "control character in string");
		/* c >= 0x80 */
		{
			size_t n = utf8_seq(p, end);

			if (n == 0)
				return fail(s, t, (size_t)(p - base), "invalid UTF-8");
			p += n;
		}
	}
	t->type = type;
	t->flags = flags;
	t->depth = s->depth;
	t->off = s->pos;
	t->p = (const char *)start;
	t->len = (size_t)(p - start);
	t->dlen = t->len - saved;
	s->pos = (size_t)(p - base) + 1;
	return type;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static enum jscan_type scan_number(struct jscan *s, struct jscan_tok *t)
{
	const unsigned char *base = (const unsigned char *)s->buf;
	const unsigned char *start = base + s->pos, *p = start, *end = base + s->len;
	unsigned flags = 0;

	if (*p == '-') {
		flags |= JSCAN_F_NEG;
		p++;
	}
	if (p == end || !is_digit(*p))
		return fail(s, t, (size_t)(p - base), "expected a digit");
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return fail(s, t, (size_t)(p - base), "leading zero in a number");
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && *p == '.') {
		flags |= JSCAN_F_FRAC;
		p++;
		if (p == end || !is_digit(*p))
			return fail(s, t, (size_t)(p - base), "expected a digit after '.'");
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		flags |= JSCAN_F_EXP;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return fail(s, t, (size_t)(p - base), "expected a digit in the exponent");
		while (p < end && is_digit(*p))
			p++;
	}
	t->type = JSCAN_NUMBER;
	t->flags = flags;
	t->depth = s->depth;
	t->off = s->pos;
	t->p = (const char *)start;
	t->len = (size_t)(p - start);
	t->dlen = 0;
	s->pos = (size_t)(p - base);
	return JSCAN_NUMBER;
}

static enum jscan_type simple(struct jscan *s, struct jscan_tok *t, enum jscan_type type, size_t n)
{
	t->type = type;
	t->flags = 0;
	t->depth = s->depth;
	t->off = s->pos;
	t->p = s->buf + s->pos;
	t->len = n;
	t->dlen = 0;
	s->pos += n;
	return type;
}

static void after_value(struct jscan *s)
{
	s->state = s->depth == 0 ? ST_DONE : ST_COMMA_OR_END;
}

static enum jscan_type scan_value(struct jscan *s, struct jscan_tok *t)
{
	const char *p = s->buf + s->pos;
	size_t left = s->len - s->pos;
	enum jscan_type type;

	switch (*p) {
	case '{':
	case '[':
		if (s->depth >= s->max_depth)
			return fail(s, t, s->pos, "nesting too deep");
		type = simple(s, t, *p == '{' ? JSCAN_OBJECT : JSCAN_ARRAY, 1);
		if (type == JSCAN_OBJECT)
			s->obj_bits |= (uint64_t)1 << s->depth;
		else
			s->obj_bits &= ~((uint64_t)1 << s->depth);
		s->depth++;
		s->state = type == JSCAN_OBJECT ? ST_KEY_OR_END : ST_VALUE_OR_END;
		return type;
	case '"':
		type = scan_string(s, t, JSCAN_STRING);
		break;
	case 't':
		if (left < 4 || memcmp(p, "true", 4) != 0)
			return fail(s, t, s->pos, "expected a value");
		type = simple(s, t, JSCAN_TRUE, 4);
		break;
	case 'f':
		if (left < 5 || memcmp(p, "false", 5) != 0)
			return fail(s, t, s->pos, "expected a value");
		type = simple(s, t, JSCAN_FALSE, 5);
		break;
	case 'n':
		if (left < 4 || memcmp(p, "null", 4) != 0)
			return fail(s, t, s->pos, "expected a value");
		type = simple(s, t, JSCAN_NULL, 4);
		break;
	default:
		if (*p == '-' || is_digit((unsigned char)*p)) {
			type = scan_number(s, t);
			break;
		}
		return fail(s, t, s->pos, "expected a value");
	}
	if (type != JSCAN_ERROR)
		after_value(s);
	return type;
}

static enum jscan_type close_container(struct jscan *s, struct jscan_tok *t)
{
	bool obj = s->obj_bits >> (s->depth - 1) & 1;

	s->depth--;
	simple(s, t, obj ? JSCAN_OBJECT_END : JSCAN_ARRAY_END, 1);
	after_value(s);
	return t->type;
}

static enum jscan_type scan_key(struct jscan *s, struct jscan_tok *t)
{
	if (s->buf[s->pos] != '"')
		return fail(s, t, s->pos, "expected a member name (a string)");
	if (scan_string(s, t, JSCAN_KEY) == JSCAN_ERROR)
		return JSCAN_ERROR;
	while (s->pos < s->len && is_space((unsigned char)s->buf[s->pos]))
		s->pos++;
	if (s->pos == s->len)
		return fail(s, t, s->pos, "unexpected end of input, expected ':'");
	if (s->buf[s->pos] != ':')
		return fail(s, t, s->pos, "expected ':'");
	s->pos++;
	s->state = ST_VALUE;
	return JSCAN_KEY;
}

enum jscan_type jscan_next(struct jscan *s, struct jscan_tok *t)
{
	char c;

	if (s->state == ST_ERROR)
		return fail(s, t, s->err_off, s->err);
	while (s->pos < s->len && is_space((unsigned char)s->buf[s->pos]))
		s->pos++;
	if (s->pos == s->len) {
		if (s->state == ST_DONE || s->state == ST_EOF) {
			s->state = ST_EOF;
			memset(t, 0, sizeof(*t));
			t->type = JSCAN_EOF;
			t->off = s->len;
			return JSCAN_EOF;
		}
		return fail(s, t, s->len,
			    s->state == ST_VALUE && s->depth == 0 ? "empty input (no JSON value)"
								  : "unexpected end of input");
	}
	c = s->buf[s->pos];
	switch (s->state) {
	case ST_DONE:
	case ST_EOF:
		return fail(s, t, s->pos, "unexpected data after the JSON value");
	case ST_COMMA_OR_END: {
		bool obj = s->obj_bits >> (s->depth - 1) & 1;

		if (c == (obj ? '}' : ']'))
			return close_container(s, t);
		if (c != ',')
			return fail(s, t, s->pos,
				    obj ? "expected ',' or '}'" : "expected ',' or ']'");
		s->pos++;
		while (s->pos < s->len && is_space((unsigned char)s->buf[s->pos]))
			s->pos++;
		if (s->pos == s->len)
			return fail(s, t, s->pos, "unexpected end of input");
		if (obj)
			return scan_key(s, t);
		return scan_value(s, t);
	}
	case ST_KEY_OR_END:
		if (c == '}')
			return close_container(s, t);
		if (c != '"')
			return fail(s, t, s->pos, "expected a member name (a string) or '}'");
		return scan_key(s, t);
	case ST_VALUE_OR_END:
		if (c == ']')
			return close_container(s, t);
		return scan_value(s, t);
	case ST_VALUE:
	default:
		return scan_value(s, t);
	}
}

int jscan_skip(struct jscan *s, const struct jscan_tok *t)
{
	struct jscan_tok x;
	unsigned depth = t->depth;

	if (t->type != JSCAN_OBJECT && t->type != JSCAN_ARRAY)
		return t->type == JSCAN_ERROR ? -EINVAL : 0;
	for (;;) {
		switch (jscan_next(s, &x)) {
		case JSCAN_ERROR:
		case JSCAN_EOF:
			return -EINVAL;
		case JSCAN_OBJECT_END:
		case JSCAN_ARRAY_END:
			if (x.depth == depth)
				return 0;
			break;
		default:
			break;
		}
	}
}

/*
 * Decode the character (one raw UTF-8 sequence or one escape, a surrogate
 * pair counting as one) at *@pp into @out; advances *@pp. Returns the number
 * of bytes written (1..4). The token was validated by the scanner.
 */
static size_t decode_one(const unsigned char **pp, unsigned char out[4])
{
	const unsigned char *p = *pp;
	unsigned long cp;
	size_t n;

	if (p[0] != '\\') {
		n = p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
		memcpy(out, p, n);
		*pp = p + n;
		return n;
	}
	switch (p[1]) {
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		cp = (unsigned long)hex4(p + 2);
		*pp = p + 6;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) +
			     ((unsigned long)hex4(p + 8) - 0xdc00);
			*pp = p + 12;
		}
		n = utf8_len(cp);
		switch (n) {
		case 1:
			out[0] = (unsigned char)cp;
			break;
		case 2:
			out[0] = (unsigned char)(0xc0 | cp >> 6);
			out[1] = (unsigned char)(0x80 | (cp & 0x3f));
			break;
		case 3:
			out[0] = (unsigned char)(0xe0 | cp >> 12);
			out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			out[2] = (unsigned char)(0x80 | (cp & 0x3f));
			break;
		default:
			out[0] = (unsigned char)(0xf0 | cp >> 18);
			out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
			out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			out[3] = (unsigned char)(0x80 | (cp & 0x3f));
			break;
		}
		return n;
	default: /* '"', '\\', '/' */
		out[0] = p[1];
		break;
	}
	*pp = p + 2;
	return 1;
}

size_t jscan_str_decode(const struct jscan_tok *t, char *dst, size_t dstsz)
{
	const unsigned char *p = (const unsigned char *)t->p, *end = p + t->len;
	size_t o = 0;

	if (dstsz == 0)
		return t->dlen;
	if (!(t->flags & JSCAN_F_ESCAPED) && t->len < dstsz) {
		memcpy(dst, t->p, t->len);
		dst[t->len] = '\0';
		return t->dlen;
	}
	while (p < end) {
		unsigned char ch[4];
		size_t n = decode_one(&p, ch);

		if (n > dstsz - 1 - o)
			break;
		memcpy(dst + o, ch, n);
		o += n;
	}
	dst[o] = '\0';
	return t->dlen;
}

bool jscan_str_eq(const struct jscan_tok *t, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)t->p, *end = p + t->len;
	size_t o = 0;

	if (t->dlen != n)
		return false;
	if (!(t->flags & JSCAN_F_ESCAPED))
		return memcmp(t->p, s, n) == 0;
	while (p < end) {
		unsigned char ch[4];
		size_t k = decode_one(&p, ch);

		if (memcmp(s + o, ch, k) != 0)
			return false;
		o += k;
	}
	return true;
}

bool jscan_tok_eq(const struct jscan_tok *a, const struct jscan_tok *b)
{
	const unsigned char *pa, *ea, *pb, *eb;
	unsigned char ca[4], cb[4];
	size_t na = 0, nb = 0, ia = 0, ib = 0;

	if (a->dlen != b->dlen)
		return false;
	if (!((a->flags | b->flags) & JSCAN_F_ESCAPED))
		return memcmp(a->p, b->p, a->len) == 0;
	pa = (const unsigned char *)a->p;
	ea = pa + a->len;
	pb = (const unsigned char *)b->p;
	eb = pb + b->len;
	/* Compare the two decoded byte streams, one byte at a time. */
	for (;;) {
		if (ia == na) {
			if (pa == ea)
				break;
			na = decode_one(&pa, ca);
			ia = 0;
		}
		if (ib == nb) {
			if (pb == eb)
				return false;
			nb = decode_one(&pb, cb);
			ib = 0;
		}
		if (ca[ia++] != cb[ib++])
			return false;
	}
	return ib == nb && pb == eb;
}

uint32_t jscan_str_hash(const struct jscan_tok *t)
{
	const unsigned char *p = (const unsigned char *)t->p, *end = p + t->len;
	uint32_t h = 2166136261u;

	if (!(t->flags & JSCAN_F_ESCAPED)) {
		for (; p < end; p++)
			h = (h ^ *p) * 16777619u;
		return h;
	}
	while (p < end) {
		unsigned char ch[4];
		size_t n = decode_one(&p, ch);

		for (size_t i = 0; i < n; i++)
			h = (h ^ ch[i]) * 16777619u;
	}
	return h;
}

int jscan_int64(const struct jscan_tok *t, int64_t *out)
{
	const char *p = t->p, *end = t->p + t->len;
	bool neg = false;
	uint64_t v = 0, lim;

	if (t->type != JSCAN_NUMBER || (t->flags & (JSCAN_F_FRAC | JSCAN_F_EXP)))
		return -EINVAL;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (lim - d) / 10) {
			*out = neg ? INT64_MIN : INT64_MAX;
			return -ERANGE;
		}
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

const char *jscan_type_name(enum jscan_type type)
{
	switch (type) {
	case JSCAN_OBJECT:
	case JSCAN_OBJECT_END:
		return "an object";
	case JSCAN_ARRAY:
	case JSCAN_ARRAY_END:
		return "an array";
	case JSCAN_KEY:
		return "a member name";
	case JSCAN_STRING:
		return "a string";
	case JSCAN_NUMBER:
		return "a number";
	case JSCAN_TRUE:
		return "true";
	case JSCAN_FALSE:
		return "false";
	case JSCAN_NULL:
		return "null";
	case JSCAN_EOF:
		return "the end of input";
	case JSCAN_ERROR:
	default:
		return "a syntax error";
	}
}
