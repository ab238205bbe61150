/*
 * jscan: a strict, non-allocating pull scanner for JSON (RFC 8259).
 *
 * The caller owns the input buffer and a small struct jscan; jscan_next()
 * returns one token at a time (object/array begin and end, member names,
 * strings, numbers, true/false/null), checking the grammar as it goes. No
 * tree is built and nothing is allocated: a token points into the input, so
 * large documents (100,000-item price batches) are walked in one pass with
 * constant memory. Module parsers (agent/prices.c) use it recursively: read
 * a token, dispatch on it, skip what they do not know with jscan_skip().
 *
 * Strictness: exactly one JSON value surrounded by optional whitespace
 * (space, tab, CR, LF); no comments, no byte order mark, no trailing commas,
 * no leading zeros, no NaN/Infinity; strings are valid UTF-8 (shortest form,
 * no surrogates, at most U+10FFFF) without raw control characters (< 0x20),
 * escapes are the eight of RFC 8259 plus \uXXXX, and a \u escape of a
 * surrogate must be a high+low pair (decoded to one 4-byte UTF-8 character).
 * \u0000 is valid JSON: it is accepted, and flagged with JSCAN_F_NUL so that
 * callers who want C strings can refuse it. Nesting is limited to the depth
 * given to jscan_init() (at most JSCAN_MAX_DEPTH).
 *
 * Numbers are kept as their literal text so that integers are exact at any
 * size; jscan_int64() converts one, and the flags say whether the literal had
 * a sign, a fraction or an exponent.
 *
 * Errors: the first syntax error stops the scan for good (every later call
 * returns JSCAN_ERROR again); jscan_error() gives a static message saying what
 * was expected ("expected ',' or '}'", "invalid UTF-8", ...) and the 0-based
 * byte offset in the input where the problem is.
 *
 * Lifetime: tokens point into the input buffer, which must outlive them and
 * stay unchanged while the scanner is used. struct jscan holds no resources:
 * there is nothing to free.
 */
#ifndef SHELF_JSCAN_H
#define SHELF_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSCAN_MAX_DEPTH 64

enum jscan_type {
	JSCAN_ERROR = 0, /* syntax error: see jscan_error() */
	JSCAN_EOF, /* the document is complete (after its value and trailing space) */
	JSCAN_OBJECT, /* '{' */
	JSCAN_OBJECT_END, /* '}' */
	JSCAN_ARRAY, /* '[' */
	JSCAN_ARRAY_END, /* ']' */
	JSCAN_KEY, /* a member name; its ':' is consumed, the value comes next */
	JSCAN_STRING,
	JSCAN_NUMBER,
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL,
};

/* Token flags. */
#define JSCAN_F_ESCAPED 0x01u /* string/key: contains at least one escape */
#define JSCAN_F_NUL 0x02u /* string/key: decodes to text containing U+0000 */
#define JSCAN_F_NEG 0x04u /* number: starts with '-' */
#define JSCAN_F_FRAC 0x08u /* number: has a fraction part ("12.0") */
#define JSCAN_F_EXP 0x10u /* number: has an exponent ("1e3") */

struct jscan_tok {
	enum jscan_type type;
	unsigned flags; /* JSCAN_F_* */
	/*
	 * Nesting level: the number of containers around the token. The
	 * top-level value is at 0, its members (keys and values) at 1; an
	 * object or array's begin and end tokens have the level of the
	 * container itself.
	 */
	unsigned depth;
	size_t off; /* byte offset of the token's first byte (a string's opening quote) */
	/*
	 * String/key: the raw bytes between the quotes (escapes not decoded).
	 * Number: the literal. Other types: the token's bytes.
	 */
	const char *p;
	size_t len;
	size_t dlen; /* string/key: length in bytes once decoded (<= len) */
};

struct jscan {
	const char *buf;
	size_t len;
	size_t pos;
	unsigned depth;
	unsigned max_depth;
	uint64_t obj_bits; /* bit d set: the container at level d + 1 is an object */
	int state;
	const char *err;
	size_t err_off;
};

/*
 * Start scanning @buf[0..len). @max_depth limits nesting (1..JSCAN_MAX_DEPTH;
 * 0 or larger values mean JSCAN_MAX_DEPTH). @buf may be NULL when @len is 0
 * (the first token is then an error: the input is empty).
 */
void jscan_init(struct jscan *s, const char *buf, size_t len, unsigned max_depth);

/*
 * The next token into *@t. Returns its type (also in @t->type): JSCAN_EOF
 * once the document is complete, JSCAN_ERROR on a syntax error (and from then
 * on; @t->off is then the error's offset).
 */
enum jscan_type jscan_next(struct jscan *s, struct jscan_tok *t);

/*
 * Skip the rest of the value that @t (the token just returned) starts: for
 * JSCAN_OBJECT / JSCAN_ARRAY everything up to and including the matching
 * end token, for any other value nothing. Returns 0, or -EINVAL on a syntax
 * error inside it.
 */
int jscan_skip(struct jscan *s, const struct jscan_tok *t);

/*
 * The syntax error, or NULL if none: a static message, and in *@off (may be
 * NULL) the 0-based byte offset where it was found.
 */
const char *jscan_error(const struct jscan *s, size_t *off);

/*
 * Decode string/key @t into @dst of size @dstsz: as many whole characters as
 * fit in @dstsz - 1 bytes, always NUL-terminated when @dstsz > 0 (never a
 * partial UTF-8 sequence). Returns the full decoded length (@t->dlen), so the
 * copy is complete when the result is < @dstsz. A decoded U+0000 is copied
 * as a NUL byte (see JSCAN_F_NUL).
 */
size_t jscan_str_decode(const struct jscan_tok *t, char *dst, size_t dstsz);

/* True if string/key @t decodes to exactly the @n bytes at @s. */
bool jscan_str_eq(const struct jscan_tok *t, const char *s, size_t n);

/* True if strings/keys @a and @b decode to the same text. */
bool jscan_tok_eq(const struct jscan_tok *a, const struct jscan_tok *b);

/* A 32-bit hash (FNV-1a) of the decoded text of string/key @t. */
uint32_t jscan_str_hash(const struct jscan_tok *t);

/*
 * The integer value of number @t. Returns 0; -EINVAL if the literal has a
 * fraction or an exponent (even "12.0" or "1e3": not an integer literal);
 * -ERANGE if it does not fit in int64_t (*@out is then INT64_MAX or
 * INT64_MIN, by sign). "-0" is 0.
 */
int jscan_int64(const struct jscan_tok *t, int64_t *out);

/*
 * "an object", "a string", "a number", "true", "null", ...: for messages like
 * "must be a string, got a number". Any type, never NULL.
 */
const char *jscan_type_name(enum jscan_type type);

#endif
