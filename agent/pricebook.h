/*
 * pricebook: the store's prices in SQLite (tables of store.c schema v3), and
 * the HQ inbox bookkeeping that goes with them.
 *
 * - prices: one row per SKU, the price of the newest batch (by issued_at,
 *   ties broken by the larger batch id, so every store converges on the same
 *   answer whatever order batches arrive in). A removed SKU is kept as a
 *   tombstone with the issued_at of the batch that removed it.
 * - inbox: every HQ message id with the status it was acked with, so a
 *   redelivered id is answered "duplicate" and changes nothing.
 * - scheduled: validated batches with a future effective_at, applied by the
 *   daemon on time (also after a restart, also offline).
 *
 * Every writing call works inside the store's current transaction
 * (store_begin); the caller commits with store_commit() or undoes with
 * store_rollback(). Nothing here commits.
 */
#ifndef SHELF_PRICEBOOK_H
#define SHELF_PRICEBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prices.h"
#include "store.h"
#include "util.h"

struct pricebook;

/* Prepare the statements. Returns 0, -ENOMEM, -EIO. Close with pricebook_close(). */
int pricebook_open(struct store *st, struct pricebook **out);
void pricebook_close(struct pricebook *pb);

/*
 * Has HQ message @id been seen? Returns 1 (and its recorded status in
 * @status), 0 (new) or -EIO.
 */
int pricebook_seen(struct pricebook *pb, const char *id, char *status, size_t sz);

/* Record @id with @kind ("prices", "cmd") and @status. Returns 0 or -EIO. */
int pricebook_record(struct pricebook *pb, const char *id, const char *kind, const char *status);

/* What applying one batch did. */
#define PRICEBOOK_LIST_MAX 100
struct pricebook_result {
	size_t applied; /* items written */
	size_t removed; /* SKUs removed (remove list, or missing from a snapshot) */
	size_t superseded; /* items / removals ignored: a newer batch already set that SKU */
	/* The first PRICEBOOK_LIST_MAX superseded SKUs, as a JSON array text. */
	struct dynbuf superseded_skus;
	/* The first PRICEBOOK_LIST_MAX SKUs a snapshot removed, as a JSON array text. */
	struct dynbuf removed_skus;
	size_t n_superseded_listed;
	int64_t now_ms; /* the updated time written for this batch */
};

void pricebook_result_init(struct pricebook_result *r);
void pricebook_result_free(struct pricebook_result *r);

/*
 * Called for each SKU whose shelf content changed (price set or removed):
 * the label reconciler's hook. @sku is valid during the call only.
 */
typedef void (*pricebook_changed_cb)(void *arg, const char *sku);

/*
 * Apply a validated batch @b in the open transaction: items (newest
 * issued_at wins), then the remove list. When @snapshot is true the batch
 * is a full catalogue: SKUs not in it (and older than it) are removed too.
 * Returns 0, or -EIO / -ENOMEM (the caller rolls back).
 */
int pricebook_apply(struct pricebook *pb, const struct price_batch *b, bool snapshot,
		    struct pricebook_result *r, pricebook_changed_cb changed, void *arg);

/*
 * The same in pieces, for a batch streamed item by item (prices.h
 * price_foreach_item): each item, then the remove list and (for a snapshot)
 * the SKUs it lacks. @b gives the header (id, issued_at, currency, remove).
 */
int pricebook_apply_item(struct pricebook *pb, const struct price_batch *b,
			 const struct price_item *it, struct pricebook_result *r,
			 pricebook_changed_cb changed, void *arg);
int pricebook_apply_rest(struct pricebook *pb, const struct price_batch *b, bool snapshot,
			 struct pricebook_result *r, pricebook_changed_cb changed, void *arg);

/* Keep a validated batch's payload until @effective_at_ms. Returns 0 or -EIO. */
int pricebook_schedule(struct pricebook *pb, const char *id, int64_t effective_at_ms,
		       int64_t issued_at_ms, bool fleet, const char *payload, size_t len);

/* Earliest scheduled effective_at in *@when. Returns 1, 0 (none) or -EIO. */
int pricebook_next_due(struct pricebook *pb, int64_t *when);

/*
 * The first scheduled batch due at @now_ms: its payload in @payload (reset
 * first), its id in @id. Returns 1, 0 (nothing due) or -EIO / -EMSGSIZE.
 */
int pricebook_take_due(struct pricebook *pb, int64_t now_ms, struct dynbuf *payload, char *id,
		       size_t idsz, bool *fleet);

/* The payload of scheduled batch @id into @payload. Returns 1, 0 (not there) or -EIO. */
int pricebook_get_scheduled(struct pricebook *pb, const char *id, struct dynbuf *payload);

/* Move scheduled batch @id to @when (a snapshot's download lease or retry). 0 or -EIO. */
int pricebook_reschedule(struct pricebook *pb, const char *id, int64_t when);

/* Forget scheduled batch @id (applied). Returns 0 or -EIO. */
int pricebook_unschedule(struct pricebook *pb, const char *id);

/* Number of scheduled batches, or -EIO. */
int pricebook_scheduled_count(struct pricebook *pb);

struct price_row {
	char sku[PRICE_SKU_MAX + 1];
	int64_t price;
	int64_t regular; /* -1: none */
	char name[PRICE_NAME_MAX + 1];
	char unit[PRICE_UNIT_MAX + 1];
	int64_t promo_until_ms; /* 0: none */
	char currency[4];
	int64_t issued_at_ms;
	char batch_id[PRICE_ID_MAX + 1];
	int64_t updated_ms;
	bool removed;
};

/* The row of @sku (tombstones included). Returns 0, -ENOENT or -EIO. */
int pricebook_get(struct pricebook *pb, const char *sku, struct price_row *out);

/*
 * Call @cb for live (not removed) SKUs > @after in SKU order, at most @limit.
 * Returns the number visited or -EIO.
 */
int pricebook_list(struct pricebook *pb, const char *after, size_t limit,
		   void (*cb)(void *arg, const struct price_row *row), void *arg);

/* Live SKUs, or -EIO. */
int64_t pricebook_count(struct pricebook *pb);

#endif
