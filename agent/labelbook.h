/*
 * labelbook: the shelf labels in SQLite (store.c schema v4): which SKU each
 * label shows, what the label last reported (type, battery, signal, the
 * content hash it shows), and its delivery job (labeljob.h), so that after
 * any restart the reconciler resumes exactly where it was.
 *
 * labels(id, sku, type, battery_mv, temp_c, rssi, lqi, shown_hash,
 *        shown_price, shown_nfs, last_seen_ms, checkin_ms, bound_ms,
 *        job_hash, job_state, job_attempts, job_next_ms, job_sent_ms,
 *        job_reason, job_superseded, job_price, job_nfs)
 *
 * shown_price is the price in the content the label acked (NULL: unknown or
 * not for sale): what price integrity compares the till against. A small
 * in-memory set of the SKUs that have labels lets the sale path skip the
 * lookup for the (many) SKUs without one.
 *
 * Writes go into the store's current transaction (store_begin); the caller
 * commits. Label ids are 8 hex digits, upper case ("E1000001").
 */
#ifndef SHELF_LABELBOOK_H
#define SHELF_LABELBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "labeljob.h"
#include "prices.h"
#include "store.h"

#define LABEL_ID_LEN 8
#define LABEL_LOW_BATTERY_MV 2400 /* a CR2450 cell under this is near its end */

struct labelbook;

struct label_row {
	char id[LABEL_ID_LEN + 1];
	char sku[PRICE_SKU_MAX + 1]; /* "" = not bound */
	int type; /* esl_label_type reported by the label; 0 = not seen yet */
	int battery_mv;
	int temp_c;
	int rssi;
	int lqi;
	char shown_hash[LABELJOB_HASH_LEN + 1]; /* "" = unknown */
	bool shown_known; /* shown_price / shown_nfs are known */
	int64_t shown_price;
	bool shown_nfs; /* it shows "not for sale" */
	int64_t last_seen_ms; /* 0 = never */
	int64_t checkin_ms; /* its check-in interval, 0 = unknown */
	int64_t bound_ms;
	struct labeljob job;
	int64_t job_price; /* the price in the job's content (for shown_price on delivery) */
	bool job_nfs;
};

/* A check-in report from the base station. */
struct label_checkin {
	const char *id;
	int type;
	int battery_mv;
	int temp_c;
	int rssi;
	int lqi;
	const char *shown_hash; /* 16 hex digits, or NULL */
	int64_t checkin_ms; /* the label's interval, 0 = unknown */
	int64_t now_ms;
};

/* Prepare statements and load the SKU set. Returns 0, -ENOMEM, -EIO. */
int labelbook_open(struct store *st, struct labelbook **out);
void labelbook_close(struct labelbook *lb);

/* True if @id is 8 hex digits (either case); writes the canonical form to @out. */
bool label_id_parse(const char *id, char out[LABEL_ID_LEN + 1]);

/* The label @id. Returns 0, -ENOENT, -EIO. */
int labelbook_get(struct labelbook *lb, const char *id, struct label_row *out);

/* Bind @id to @sku (creating the label if new). Returns 0 or -EIO. */
int labelbook_bind(struct labelbook *lb, const char *id, const char *sku, int64_t now_ms);
/* Unbind @id. Returns 0, -ENOENT, -EIO. */
int labelbook_unbind(struct labelbook *lb, const char *id);

/* Record a check-in (creating the label, unbound, if new). Returns 0 or -EIO. */
int labelbook_checkin(struct labelbook *lb, const struct label_checkin *c);

/* Store @r's job fields (job, job_price, job_nfs). Returns 0 or -EIO. */
int labelbook_save_job(struct labelbook *lb, const struct label_row *r);

/* The label acked content @hash with @price / @nfs: record what it shows. */
int labelbook_set_shown(struct labelbook *lb, const char *id, const char *hash, int64_t price,
			bool nfs);

typedef void (*labelbook_cb)(void *arg, const struct label_row *r);

/* Labels in id order, all or those whose job is in @state (LABELJOB_NONE = all). */
int labelbook_foreach(struct labelbook *lb, enum labeljob_state state, labelbook_cb cb, void *arg);
/* Labels bound to @sku. Returns the count or -EIO. */
int labelbook_foreach_sku(struct labelbook *lb, const char *sku, labelbook_cb cb, void *arg);
/*
 * Up to @max labels whose job is QUEUED and due (next_try <= @now_ms),
 * oldest first. Returns the count or -EIO.
 */
int labelbook_due(struct labelbook *lb, int64_t now_ms, size_t max, labelbook_cb cb, void *arg);
/* Earliest next_try of a QUEUED job in *@when. Returns 1, 0 (none) or -EIO. */
int labelbook_next_due(struct labelbook *lb, int64_t *when);

/* True if some label is bound to @sku (in memory, no SQL). */
bool labelbook_sku_has_labels(const struct labelbook *lb, const char *sku);

struct labelbook_counts {
	uint64_t total, bound, unseen;
	uint64_t queued, sent, delivered, failed;
	uint64_t low_battery;
	uint64_t not_seen; /* bound labels silent for more than 3 check-in intervals */
	uint64_t superseded;
};

int labelbook_counts(struct labelbook *lb, int64_t now_ms, struct labelbook_counts *c);

#endif
