/*
 * hqlink: the MQTT link to HQ, libmosquitto driven from our loop (no library
 * thread: mosquitto_socket / want_write / loop_read / loop_write / loop_misc).
 *
 * Connects with exponential backoff and jitter; publishes a retained
 * `status` (online) with a will (offline); drains the outbox in batches
 * (batch.c) to {prefix}/{store}/events/{type} at QoS 1 with up to
 * max_inflight messages awaiting PUBACK; deletes a batch's rows only on its
 * PUBACK. On any disconnect the client instance is destroyed and the unacked
 * batches are simply sent again after the reconnect (at-least-once; HQ
 * dedupes by (store, seq)).
 *
 * Events of type "ack" (answers to HQ's messages, appended by inbox.c) are
 * not batched: each row's body is published alone to {prefix}/{store}/acks.
 *
 * Down: the session is persistent (clean_session off, client id
 * shelfd-{store}) and subscribes at QoS 1 to prices and cmd, for the store
 * and the fleet; messages go to the hook set by hqlink_set_message_cb.
 */
#ifndef SHELF_HQLINK_H
#define SHELF_HQLINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "store.h"

struct hqlink;

/*
 * connecting: first attempt in progress; connected; error: not connected and
 * retrying with backoff (last_error says why; since = when it went wrong);
 * disconnected: shut down.
 */
enum hq_state { HQ_DISCONNECTED = 0, HQ_CONNECTING, HQ_CONNECTED, HQ_ERROR };

const char *hq_state_name(enum hq_state s);

struct hqlink_stats {
	enum hq_state state;
	int64_t since_ms; /* wall clock of the last state change */
	char last_error[256]; /* empty if none since the last successful connect */
	uint64_t published; /* events handed to the broker (all attempts) */
	uint64_t acked; /* events acknowledged (PUBACK) and deleted */
	uint64_t messages_acked;
	unsigned inflight; /* window slots: messages awaiting PUBACK or its commit */
	uint64_t connects; /* successful connections */
	uint64_t received; /* messages from HQ (prices, cmd) */
};

/*
 * A message from HQ on a subscribed topic ({prefix}/{store}/prices|cmd,
 * {prefix}/fleet/prices|cmd). @payload is valid during the call only. Runs
 * inside libmosquitto's read: it may use the store, not free the link.
 */
typedef void (*hqlink_message_cb)(void *arg, const char *topic, const void *payload, size_t len);

/*
 * Create the link (does not connect until hqlink_start). @conf, @loop and
 * @store must outlive it. Returns 0, -ENOMEM or -EINVAL.
 */
int hqlink_new(const struct config *conf, struct loop *loop, struct store *store,
	       int64_t started_ms, struct hqlink **out);
/* Where messages from HQ go (set before hqlink_start). */
void hqlink_set_message_cb(struct hqlink *h, hqlink_message_cb cb, void *arg);
/* Begin connecting. */
void hqlink_start(struct hqlink *h);
/* Note that events of @type were committed (so the batcher looks at them). */
void hqlink_note_type(struct hqlink *h, const char *type);
/* Publish what is pending (call before the loop sleeps, after the commit). */
void hqlink_flush(struct hqlink *h);
/*
 * The store committed (or rolled back): free the window slots of messages
 * whose PUBACK delete was part of that transaction.
 */
void hqlink_committed(struct hqlink *h);
/*
 * Publish status offline and disconnect, waiting at most @timeout_ms for the
 * bytes to leave. Used at shutdown.
 */
void hqlink_shutdown(struct hqlink *h, int timeout_ms);
/* Free. NULL-safe. */
void hqlink_free(struct hqlink *h);

void hqlink_get_stats(const struct hqlink *h, struct hqlink_stats *st);

/* Global libmosquitto init/cleanup (once per process). */
void hqlink_lib_init(void);
void hqlink_lib_cleanup(void);

#endif
