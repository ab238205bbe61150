/*
 * batch: builds one MQTT message from outbox rows of one event type (the
 * "batcher" of DESIGN §4). The payload is
 *   {"store":"S042","events":[{"seq":41,<body members>}, ...]}
 * with seqs ascending, at most max_events events and max_bytes bytes; an
 * event that alone exceeds max_bytes is sent alone (so nothing is ever stuck).
 * The message carries every row of its type in (after_seq, last_seq], which
 * is what lets the PUBACK delete exactly that range.
 */
#ifndef SHELF_BATCH_H
#define SHELF_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

#define BATCH_TYPE_MAX 32

struct batch {
	char type[BATCH_TYPE_MAX];
	int64_t first_seq;
	int64_t last_seq;
	size_t count;
	struct dynbuf payload;
};

void batch_init(struct batch *b);
void batch_free(struct batch *b);

/*
 * Build the next message of @type from rows with seq > @after_seq. Returns
 * the number of events (0: nothing pending), or -EIO (store error), -ENOMEM.
 */
int batch_build(struct store *s, const char *store_id, const char *type, int64_t after_seq,
		size_t max_events, size_t max_bytes, struct batch *b);

/*
 * Build a message from the ONE next row of @type after @after_seq: the
 * payload is the row's body as stored (acks: {"store","ref","status",...}).
 * Same returns as batch_build().
 */
int batch_build_single(struct store *s, const char *type, int64_t after_seq, struct batch *b);

#endif
