/*
 * pos: the POS "jsonl" line parser (DESIGN §5.2). A pure function: one line
 * in, one normalized sale record or one precise error out. No I/O.
 *
 * Input line (without its newline):
 *   {"type":"sale"|"refund"|"void","receipt":"R-1","till"?:"T1","ts"?:"<RFC 3339>",
 *    "lines":[{"sku":"690..","qty":1,"unit_price":1290,"amount"?:1290}, ...],
 *    "total":1290,"member"?:"M-77"}
 *
 * Rules: the line must be valid UTF-8 without NUL bytes and at most
 * POS_LINE_MAX bytes; the value a JSON object; money (unit_price, amount,
 * total) and qty are integers (a JSON number with a fraction or an exponent
 * that is not an exact integer is rejected) within +-POS_MONEY_MAX; qty != 0;
 * strings non-empty, at most 64 bytes (sku, receipt, till, member); 1..1000
 * lines; "amount" defaults to qty * unit_price; "ts" when present must parse
 * as RFC 3339. Unknown keys are ignored (POS vendors add their own).
 *
 * Details:
 * - byte offsets in messages are 0-based from the start of the line;
 * - a leading UTF-8 byte order mark is skipped; JSON whitespace around the
 *   object (a stray "\r" too) is allowed; anything else after it is an error,
 *   and so is a line that is empty or only whitespace;
 * - numbers are judged as the double they parse to: 1290.0 and 1.29e3 are
 *   accepted as 1290, 12.9 is not; qty is bounded like money;
 * - refunds and voids have the same shape as sales; qty, amounts and total
 *   may be positive or negative for any type (POS systems differ). Signs are
 *   not checked against the type, nor the total against the lines;
 * - "till", "ts", "member" and "amount" given as JSON null count as absent;
 * - errors too: a known key given twice ("duplicate key"), an escaped NUL
 *   (\u0000) anywhere in the line, control characters in a string field;
 * - @sum and @err may be NULL.
 */
#ifndef SHELF_POS_H
#define SHELF_POS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define POS_LINE_MAX (64 * 1024)
#define POS_MONEY_MAX 1000000000000LL /* 10^12 minor units */
#define POS_STR_MAX 64
#define POS_LINES_MAX 1000

struct pos_err {
	char at[64]; /* the field in error, JSON-path style: "lines[2].unit_price", or "" for the line */
	char msg[160]; /* what is wrong, e.g. "must be an integer (minor units), got 12.9" */
};

/* One sale line as the till charged it (for price integrity). */
struct pos_item {
	char sku[POS_STR_MAX + 1];
	int64_t unit_price;
	int64_t qty; /* may be negative on refunds */
};

/* What the daemon keeps about a sale for `shelfctl events` and integrity. */
struct pos_summary {
	const char *kind; /* "sale", "refund" or "void" (static) */
	char receipt[POS_STR_MAX + 1];
	int64_t total;
	int64_t ts_ms; /* the POS timestamp, 0 when the line has none */
	/* Caller-provided: filled with the first items_cap lines (NULL: not wanted). */
	struct pos_item *items;
	size_t items_cap;
	size_t n_items;
};

/*
 * Parse one line. On success appends the normalized record's members, as
 * JSON text without the enclosing braces, to @out:
 *   "kind":"sale"|"refund"|"void","receipt":..,"till"?:..,
 *   "lines":[{"sku","qty","unit_price","amount"}],"total":..,"member"?:..
 * (numbers as exact integers), fills @sum and returns 0. On error returns
 * -EINVAL with @err filled and @out as it was; -EMSGSIZE / -ENOMEM when @out
 * cannot grow (err says so). No allocation besides @out's growth.
 */
int pos_parse_line(const char *line, size_t len, struct dynbuf *out, struct pos_summary *sum,
		   struct pos_err *err);

#endif
