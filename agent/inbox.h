/*
 * inbox: what HQ sends down (DESIGN §4 "Inbox", §5.1): price batches on
 * {prefix}/{store}/prices and {prefix}/fleet/prices, commands on .../cmd.
 *
 * Each message is validated completely (prices.c), checked against the ids
 * already seen (a redelivered id is acked "duplicate" and changes nothing),
 * then in ONE transaction: applied (pricebook.c) or, with a future
 * effective_at, kept as scheduled; the id recorded; and the ack appended to
 * the outbox as an event of type "ack". The ack therefore leaves only after
 * the change is durable, and is never lost by a crash: hqlink publishes
 * "ack" rows to {prefix}/{store}/acks. An invalid message changes nothing
 * and is acked "rejected" with every error. A fleet batch whose "stores"
 * list does not name this store is ignored (no ack: it was not addressed to
 * us).
 *
 * Scheduled batches are applied when the gateway's clock reaches their
 * effective_at, with or without HQ, also after a restart; each is acked a
 * second time, "applied", when it takes effect. The timer is re-armed at
 * most a minute ahead so a wall-clock step (NTP after boot) is noticed.
 *
 * Recommendation sets ({prefix}/{store}/recs, {prefix}/fleet/recs) and the
 * commands "rules.set" and "markdown.set" go the same way (validated,
 * deduplicated by id, stored in one transaction with the ack), through the
 * host's content_* hooks, which own their formats and version rules.
 *
 * Commands (cmd topics): "labels.bind" {"bindings":[{"label","sku"},...]} (at
 * most CMD_BIND_MAX) and "labels.unbind" {"labels":[...]}, validated
 * completely and applied all-or-nothing like price batches; any other action
 * is acked "rejected" (unknown action).
 *
 * Caveat: libmosquitto sends the MQTT PUBACK before our handler runs (it
 * has no delayed acks), so a crash in the milliseconds between the two loses
 * that delivery. The application-level ack is what HQ (shelfhq) waits for;
 * without it HQ sends again, and the id makes that safe.
 */
#ifndef SHELF_INBOX_H
#define SHELF_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "pricebook.h"
#include "store.h"

struct inbox;

struct inbox_stats {
	uint64_t received; /* messages handled (all topics) */
	uint64_t applied;
	uint64_t scheduled;
	uint64_t rejected;
	uint64_t duplicates;
	uint64_t ignored; /* fleet batches for other stores, unknown topics */
	uint64_t failed; /* could not be stored (SQLite error): no ack, HQ retries */
	char last_id[129];
	char last_status[16];
	int64_t last_ms; /* wall clock of the last message, 0 if none */
};

/* HQ content the daemon keeps besides prices (README "HQ contract"). */
enum inbox_content {
	INBOX_RECS, /* a recommendation set ({prefix}/{store}/recs, fleet/recs) */
	INBOX_RULES, /* cmd "rules.set" */
	INBOX_MARKDOWN, /* cmd "markdown.set" */
};

/* What the inbox needs from the daemon. */
struct inbox_host {
	void *arg;
	/* Events of @type were appended: wake the publisher after the commit. */
	void (*note)(void *arg, const char *type);
	/* Commit the store's transaction (the daemon's own commit path). 0 or -EIO. */
	int (*commit)(void *arg);
	/* The shelf content of @sku changed (committed): labels to refresh. May be NULL. */
	void (*changed)(void *arg, const char *sku);
	/*
	 * cmd labels.bind / labels.unbind: change one binding inside the open
	 * transaction (no commit). 0 or -errno (-ENOENT: no such label). May be NULL.
	 */
	int (*bind)(void *arg, const char *label, const char *sku);
	int (*unbind)(void *arg, const char *label);
	/*
	 * Content of @kind (recs, rules.set, markdown.set), in three steps; all
	 * three may be NULL (the content is then rejected as not available).
	 * check: validate @payload completely. 0 (valid; the host keeps the
	 * parsed content until done), -EINVAL (every error in @errs), -ENOMEM.
	 * @ref gets the message id when that field was valid (PRICE_ID_MAX + 1
	 * bytes). @fleet: it came on a fleet topic; the host sets *@for_us
	 * false when its "stores" list does not name this store (ignored, no ack).
	 */
	int (*content_check)(void *arg, enum inbox_content kind, const char *payload, size_t len,
			     bool fleet, bool *for_us, struct price_errors *errs, char *ref);
	/*
	 * stage: store the checked content inside the open transaction (no
	 * commit), append the ack's own members to @ack (",\"version\":3").
	 * 0, -ESTALE (not newer than what the host has: one error in @errs, the
	 * message is rejected), -EIO / -ENOMEM (not stored, HQ sends it again).
	 */
	int (*content_stage)(void *arg, enum inbox_content kind, struct dynbuf *ack,
			     struct price_errors *errs);
	/* done: the transaction was committed (@ok: make it live) or not (drop it). */
	void (*content_done)(void *arg, enum inbox_content kind, bool ok);
};

/*
 * Create. @conf, @loop, @store, @pb and @host must outlive the inbox. Arms
 * the scheduled-batch timer. Returns 0, -ENOMEM.
 */
int inbox_new(const struct config *conf, struct loop *loop, struct store *store,
	      struct pricebook *pb, const struct inbox_host *host, struct inbox **out);
void inbox_free(struct inbox *ib);

/*
 * Handle one message from HQ (hqlink's message hook). @payload is valid only
 * during the call. Commits before returning.
 */
void inbox_message(struct inbox *ib, const char *topic, const void *payload, size_t len);

/* Apply the scheduled batches that are due now (also run by the timer). */
void inbox_run_due(struct inbox *ib);

void inbox_get_stats(const struct inbox *ib, struct inbox_stats *st);

#endif
