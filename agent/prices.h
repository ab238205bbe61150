/*
 * prices: the HQ price-batch parser and validator (DESIGN §5.1, issue 3).
 * A pure function: payload bytes in, a validated batch or EVERY error (each
 * with the JSON path of the offending value) out. No I/O, no clock.
 *
 * Batch (topics shelf/v1/{store}/prices and shelf/v1/fleet/prices):
 *   {"id":"b-1","issued_at":"<RFC 3339>","currency":"CNY","effective_at"?:"<RFC 3339>",
 *    "items"?:[{"sku":"690..","price":1290,"regular"?:1590,"name"?:"..","unit"?:"..",
 *              "promo_until"?:"<RFC 3339>"}, ...],
 *    "remove"?:["sku", ...], "stores"?:["S042", ...],
 *    "snapshot"?:{"url":"https://..","sha256":"<64 hex>","size":123456}}
 * Snapshot file (what "snapshot.url" points at): {"items":[...]} with the
 * same item rules.
 *
 * Rules (error paths in brackets):
 * - the payload is valid UTF-8 and one JSON object; a syntax error, invalid
 *   UTF-8 or nesting deeper than PRICE_MAX_DEPTH is ONE error at "" giving
 *   the byte offset (0-based) and what was expected; nothing else is checked;
 * - a key given twice in any object, known or not, at any depth: error at the
 *   later key's path ("items[3].price"), and that value is ignored (values
 *   already in error, like an object where a string belongs, are not looked
 *   into);
 * - unknown keys are ignored anywhere (HQ adds fields); null for an optional
 *   field means absent, for a required one it is a type error;
 * - id [id]: string, 1..128 bytes of printable ASCII; issued_at: RFC 3339;
 *   currency: 3 uppercase ASCII letters; effective_at: optional RFC 3339;
 * - items [items]: array of at most PRICE_MAX_ITEMS objects (more: one error
 *   "too many items: N > 200000", the items are not examined); per item
 *   [items[i].sku, ...]: sku required, 1..64 bytes of [A-Za-z0-9._-];
 *   price required, a JSON integer 0..PRICE_MONEY_MAX (a literal with a
 *   fraction or exponent, even 12.0 or 1e3, is refused: money is integer
 *   minor units); regular optional, same rules, and >= price (error at
 *   regular); name optional, <= 128 bytes; unit optional, <= 16 bytes (no
 *   control characters, C0, DEL or C1, in either); promo_until optional
 *   RFC 3339;
 * - a SKU appears at most once in items and remove taken together: the
 *   later occurrence in document order is the error ("duplicate sku X, also
 *   at items[3]", "sku X is also in remove[0]");
 * - remove [remove[j]]: array of at most PRICE_MAX_ITEMS SKUs, same SKU
 *   rules;
 * - stores [stores[k]]: non-empty array of at most PRICE_MAX_STORES store
 *   ids ([A-Za-z0-9_-]{1,64}, not "fleet");
 * - snapshot [snapshot.url, ...]: object with url (http:// or https://
 *   followed by a host, <= 1024 bytes of printable ASCII without spaces),
 *   sha256 (64 hex digits, any case, stored lowercase) and size (integer
 *   1..PRICE_SNAPSHOT_MAX); a batch with a snapshot must not have items or
 *   remove (error at "items" / "remove"), even empty ones;
 * - a batch with no item, no SKU to remove and no snapshot: "empty batch"
 *   at "".
 * Errors come in document order, except those only known at the end of an
 * object, which follow the errors found inside it: a missing field,
 * "regular" below "price", and at the end of the batch items/remove beside a
 * snapshot and "empty batch".
 * \u0000 is refused in every string (as a control character, or as a
 * character outside the field's set); name and unit may hold any other
 * Unicode text.
 */
#ifndef SHELF_PRICES_H
#define SHELF_PRICES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define PRICE_MAX_ITEMS 200000
#define PRICE_MONEY_MAX 1000000000LL /* 10^9 minor units */
#define PRICE_MAX_ERRORS 100 /* listed; the rest only counted */
#define PRICE_MAX_STORES 10000
#define PRICE_MAX_DEPTH 32
#define PRICE_BATCH_MAX (64u * 1024 * 1024) /* bytes of a batch payload */
#define PRICE_SNAPSHOT_MAX (256u * 1024 * 1024) /* bytes of a snapshot file */
#define PRICE_SKU_MAX 64
#define PRICE_ID_MAX 128
#define PRICE_NAME_MAX 128
#define PRICE_UNIT_MAX 16
#define PRICE_URL_MAX 1024

struct price_item {
	const char *sku;
	int64_t price; /* minor units, 0..PRICE_MONEY_MAX */
	int64_t regular; /* -1: none */
	const char *name; /* NULL: none */
	const char *unit; /* NULL: none */
	int64_t promo_until_ms; /* 0: none */
};

struct price_error {
	char at[96]; /* JSON path of the offending value: "items[3].price"; "" = the payload */
	char error
		[160]; /* what is wrong, e.g. "must be an integer number of minor units, got 12.9" */
};

struct price_errors {
	size_t n; /* listed in e[] */
	size_t total; /* found (>= n) */
	struct price_error e[PRICE_MAX_ERRORS];
};

/*
 * A parsed batch. Every pointer points into one block owned by the batch,
 * valid until price_batch_free().
 */
struct price_batch {
	char id[PRICE_ID_MAX + 1];
	int64_t issued_at_ms;
	char currency[4];
	int64_t effective_at_ms; /* 0: now */

	struct price_item *items;
	size_t n_items;
	const char **remove;
	size_t n_remove;
	const char **stores;
	size_t n_stores;
	bool has_stores;

	bool has_snapshot;
	const char *snapshot_url;
	char snapshot_sha256[65]; /* lowercase hex */
	int64_t snapshot_size;

	/* private */
	void *mem; /* the one block: items, remove, stores, then the strings */
};

/*
 * Parse and validate the batch in @buf[0..len) (need not be NUL-terminated;
 * @buf may be NULL if @len is 0) into *@out, collecting errors in *@errs
 * (reset first). Returns:
 *   0          valid: *@out is filled, @errs->total == 0;
 *   -EINVAL    invalid: @errs holds the errors (total >= 1); *@out is empty
 *              except @out->id, which holds the batch id when the "id" field
 *              itself was valid (for the "rejected" ack's "ref"), else "";
 *              also returned, with nothing filled, when @out or @errs is NULL;
 *   -EMSGSIZE  @len > PRICE_BATCH_MAX: one error at "", *@out empty;
 *   -ENOMEM    out of memory: one error at "" ("out of memory"), *@out empty.
 * The caller calls price_batch_free(@out) afterwards in every case.
 * Memory: one block of about sizeof(struct price_item) per item plus the
 * decoded strings kept (never more than @len), and for the time of the call
 * a SKU hash table of 4 bytes per slot (2-4 slots per SKU).
 */
int price_batch_parse(const char *buf, size_t len, struct price_batch *out,
		      struct price_errors *errs);

/*
 * Parse a snapshot file {"items":[...]} (other keys ignored) into *@out: only
 * @out->items and @out->n_items are set. Same item rules, same returns as
 * price_batch_parse() with PRICE_SNAPSHOT_MAX as the size limit; "items" is
 * required and may be empty (a snapshot that clears the price table).
 */
int price_snapshot_parse(const char *buf, size_t len, struct price_batch *out,
			 struct price_errors *errs);

/*
 * Validate like price_batch_parse() / price_snapshot_parse() (same rules,
 * same errors in the same order with the same paths, same returns), but keep
 * only what the checks need: the header fields, remove, stores and snapshot
 * are filled as by the parse; @out->items is NULL and @out->n_items is the
 * number of items. Then price_foreach_item() hands the items out one by one.
 * The caller calls price_batch_free(@out) afterwards in every case.
 * Memory: one block with, per item, its SKU (bytes + 1, for the duplicate
 * check) and a 4-byte offset, plus what remove and stores take; and for the
 * time of the call the SKU hash table (2-4 slots of 4 bytes per SKU). Names
 * and units are checked in a stack buffer and not kept.
 */
int price_batch_validate(const char *buf, size_t len, struct price_batch *out,
			 struct price_errors *errs);
int price_snapshot_validate(const char *buf, size_t len, struct price_batch *out,
			    struct price_errors *errs);

/*
 * Called by price_foreach_item() for each item. @it and its strings are valid
 * during the call only. Return 0 to go on; anything else stops the walk.
 */
typedef int (*price_item_cb)(void *arg, const struct price_item *it);

/*
 * Call @cb for each item of the batch (or of the snapshot file when
 * @snapshot) in @buf[0..len), in document order, with its fields decoded as
 * price_batch_parse() would store them. @buf must be the very buffer that
 * price_batch_validate() (or price_snapshot_validate()) accepted: duplicate
 * keys and SKUs are not looked for again, and nothing past the items array
 * is read. Returns 0 after the last item (at once when there is none), @cb's
 * value as soon as it is non-zero, or -EINVAL: @cb is NULL, @len is over the
 * size limit, or the buffer is not one validate accepted (a bug in the
 * caller; the items before the bad one have been given to @cb).
 * Allocates nothing: the strings are decoded into a buffer on the stack
 * sized for the longest sku, name and unit allowed.
 */
int price_foreach_item(const char *buf, size_t len, bool snapshot, price_item_cb cb, void *arg);

/* Free what a parse stored in @b and empty it. NULL-safe, idempotent. */
void price_batch_free(struct price_batch *b);

/* True if @s is a SKU by the batch rules: 1..64 bytes of [A-Za-z0-9._-]. */
bool price_sku_valid(const char *s);

/* Empty @e (n = total = 0). */
void price_errors_init(struct price_errors *e);

/*
 * Count one error and, while fewer than PRICE_MAX_ERRORS are listed, list it:
 * @at is copied (cut to fit at a UTF-8 character boundary), the message is
 * formatted from @fmt (cut the same way). For the lead's other validators.
 */
void price_errors_add(struct price_errors *e, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void price_errors_addv(struct price_errors *e, const char *at, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * Append @e as the "errors" array of a DESIGN §5.1 ack to @d:
 *   [{"at":"items[3].price","error":"..."},...]
 * and, when @e->total > @e->n, a last {"at":"","error":"and N more errors"}.
 * "[]" when there is none. Returns 0, -EMSGSIZE (past @d's max) or -ENOMEM;
 * on error @d is left as it was.
 */
int price_errors_json(const struct price_errors *e, struct dynbuf *d);

#endif
