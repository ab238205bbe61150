/*
 * jpath: what the strict HQ-payload validators (prices.c, recs.c) share on
 * top of the pull scanner (jscan.h): JSON paths for error messages
 * ("items[3].price"), built as a chain of stack segments while walking, and
 * the per-object key set behind the duplicate-key rule.
 */
#ifndef SHELF_JPATH_H
#define SHELF_JPATH_H

#include <stddef.h>
#include <stdint.h>

#include "jscan.h"

#define JKEYS_INLINE 16 /* keys of one object compared linearly */

/*
 * One segment of a JSON path: a member (by its key token, or by name when
 * there is no token, for "missing field") or an array index. @up == NULL is
 * the payload's top level.
 */
struct jpath {
	const struct jpath *up;
	const struct jscan_tok *key;
	const char *name;
	size_t idx;
};

/*
 * Format @p as "items[3].price" into @buf (size @sz, always NUL-terminated,
 * cut when too long); NULL gives "". Control characters in keys become '?'.
 */
void jpath_format(const struct jpath *p, char *buf, size_t sz);

/* Bytes of a bad value echoed back in an error message (then "..."). */
#define JPATH_QUOTE_MAX 40

/*
 * For messages about a bad value: the decoded string @t, or the literal of
 * the number @t, in @buf cut to JPATH_QUOTE_MAX bytes with "..." when longer.
 * Return @buf.
 */
const char *jpath_quote(char buf[JPATH_QUOTE_MAX + 4], const struct jscan_tok *t);
const char *jpath_quote_num(char buf[JPATH_QUOTE_MAX + 4], const struct jscan_tok *t);

/* A key of one object, for the duplicate-key rule. */
struct jkey {
	const char *p;
	uint32_t len;
	uint32_t dlen;
	uint32_t flags;
	uint32_t hash;
};

/* The keys of one object: compared linearly up to JKEYS_INLINE, hashed beyond. */
struct jkeys {
	size_t n;
	struct jkey inl[JKEYS_INLINE];
	struct jkey *tab; /* past JKEYS_INLINE keys: open addressing, p == NULL is empty */
	size_t mask;
};

/* Start an empty set (the inline array is not zeroed: it is only read below n). */
void jkeys_init(struct jkeys *ks);
/*
 * Add key @t (its bytes must outlive the set). Returns 1 if the object
 * already had it, 0 if not, -ENOMEM.
 */
int jkeys_add(struct jkeys *ks, const struct jscan_tok *t);
void jkeys_free(struct jkeys *ks);

#endif
