/*
 * labels: the label reconciler and price integrity (DESIGN §4 "Desired vs
 * reported"; issue 3 items 4 and 5).
 *
 * Desired: what each bound label should show now, derived from the price
 * table (pricebook) and rendered for the label's type (render.c); its content
 * hash is the identity of that content. Reported: the hash the label acked
 * (check-ins, delivery results). The reconciler turns every difference into
 * a job (labeljob.c, stored by labelbook.c) and the ESL driver works the
 * queue: only the newest content per label is ever sent.
 *
 * Triggers: a price change (inbox, after its commit), a bind/unbind/refresh
 * from the technician, a check-in (a label seen for the first time gets its
 * content; a failed job is retried when the label is back), a delivery
 * result, a base-station reset (every sent job is queued again).
 *
 * Events to HQ: `label` {"label","sku","result":"delivered"|"failed","reason"?,
 * "hash","price"?} per job outcome, and every summary_interval a `label`
 * {"summary":{labels, bound, updated, in_progress, failed, low_battery,
 * not_seen}}. `integrity` {"sku","till_price","label_price","labels":[..],
 * "kind":"overcharge"|"undercharge","receipt","till"} whenever a sale line's
 * unit_price differs from the price a label of that SKU acked showing.
 */
#ifndef SHELF_LABELS_H
#define SHELF_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "esl_image.h"
#include "labelbook.h"
#include "loop.h"
#include "pricebook.h"
#include "render.h"
#include "store.h"

struct labels;

/* What the reconciler needs from the daemon. */
struct labels_host {
	void *arg;
	/* Record an event (body members in @body). 0 or -errno. */
	int (*emit)(void *arg, const char *type, cJSON *body);
	/* Commit the store's transaction. 0 or -EIO. */
	int (*commit)(void *arg);
	/* The queue has due jobs: wake the ESL driver. May be NULL. */
	void (*kick)(void *arg);
};

int labels_new(struct loop *loop, struct store *store, struct pricebook *pb, struct labelbook *lb,
	       const struct labels_host *host, int64_t summary_ms, struct labels **out);
void labels_free(struct labels *l);

/*
 * The content label @r should show now (from the price table) in @c, with
 * string storage in @row (which must outlive @c). Returns 0, or -ENOENT when
 * the label is not bound.
 */
int labels_content(struct labels *l, const struct label_row *r, struct label_content *c,
		   struct price_row *row);

/*
 * Render @r's desired content into @img (buffer @buf, ESL_IMG_MAX_BYTES) and
 * its hash as 16 hex digits in @hash. Returns 0, -ENOENT (not bound), -EAGAIN
 * (type not known yet: the label has not checked in), -EINVAL.
 */
int labels_render(struct labels *l, const struct label_row *r, struct esl_image *img, uint8_t *buf,
		  char hash[LABELJOB_HASH_LEN + 1], int64_t *price, bool *nfs);

/* A content hash as the 16 lowercase hex digits stored and shown everywhere. */
void labels_hash_hex(uint64_t h, char out[LABELJOB_HASH_LEN + 1]);

/*
 * The price of @sku changed (committed). Queues jobs for its labels in the
 * open transaction (opening one if needed); the caller commits.
 */
void labels_sku_changed(struct labels *l, const char *sku);

/*
 * Re-derive every bound label's content and queue what differs (at start:
 * repairs a crash between a price commit and its label jobs). Commits.
 */
int labels_reconcile_all(struct labels *l);

/*
 * Bind / unbind inside the caller's open transaction (HQ commands): the
 * content is queued in the same transaction. 0, -ENOENT, -EIO.
 */
int labels_bind_in_txn(struct labels *l, const char *id, const char *sku);
int labels_unbind_in_txn(struct labels *l, const char *id);

/* Technician actions. Each commits. 0, -ENOENT, -EINVAL, -EIO. */
int labels_bind(struct labels *l, const char *id, const char *sku);
int labels_unbind(struct labels *l, const char *id);
int labels_refresh(struct labels *l, const char *id); /* NULL: every bound label */

/* Base-station reports (the ESL driver). Each commits. */
void labels_checkin(struct labels *l, const struct label_checkin *c);
void labels_result(struct labels *l, const char *id, const char *hash, bool delivered,
		   const char *reason, bool retryable);
void labels_link_reset(struct labels *l);

/*
 * The ESL driver takes the next due job: the label's row (job marked SENT,
 * committed) and its rendered image. Returns 1, 0 (nothing due) or -EIO.
 */
int labels_take_job(struct labels *l, struct label_row *r, struct esl_image *img, uint8_t *buf);

/*
 * Price integrity for one sale line (the sale path: cheap when the SKU has no
 * label). Appends an `integrity` event on a mismatch (in the current
 * transaction). @source is the till device, @receipt the receipt id.
 */
void labels_check_sale_line(struct labels *l, const char *source, const char *receipt,
			    const char *sku, int64_t unit_price);

/* Current mismatches: the last integrity finding per SKU, still unresolved. */
int labels_integrity_json(struct labels *l, cJSON *out);

#endif
