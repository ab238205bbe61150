/*
 * batch: one MQTT message from consecutive outbox rows of one type. See batch.h.
 *
 * Each row body is a JSON object without its seq; the payload splices the
 * seq in front of the body's members: `{"seq":N,` + body[1..]. Bodies were
 * checked to be "{...}" by store_append(), so no JSON is parsed here.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "log.h"

/* Payload room beyond max_bytes: one event that goes alone (bodies are <= 1 MiB). */
#define BATCH_SLACK (2u * 1024 * 1024)

struct build_ctx {
	struct batch *b;
	size_t max_events;
	size_t max_bytes;
	int err;
};

/* True if @body (starting with '{') is an empty object, allowing whitespace inside. */
static bool body_empty(const char *body, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		char c = body[i];

		if (c == '}')
			return true;
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return false;
	}
	return false;
}

/*
 * Add one row if it fits; return non-zero to stop the scan. The first event
 * always goes in (even past max_bytes, growing the buffer's bound for it) so
 * an oversize event is sent alone instead of blocking its type forever.
 */
static int add_row(void *arg, int64_t seq, const char *body, size_t len)
{
	struct build_ctx *c = arg;
	struct batch *b = c->b;
	struct dynbuf *d = &b->payload;
	char head[40];
	bool empty;
	size_t need;
	int n, rc;

	if (len < 2 || body[0] != '{' || body[len - 1] != '}') {
		/* NEVER: store_append() only accepts objects. */
		log_err("batch: outbox row %" PRId64 " of type %s is not a JSON object", seq,
			b->type);
		c->err = -EIO;
		return 1;
	}
	empty = body_empty(body, len);
	n = snprintf(head, sizeof(head), "%s{\"seq\":%" PRId64 "%s", b->count ? "," : "", seq,
		     empty ? "}" : ",");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		c->err = -EIO;
		return 1;
	}
	/* This event, plus the closing "]}" of the envelope. */
	need = (size_t)n + (empty ? 0 : len - 1) + 2;
	if (b->count > 0 && d->len + need > c->max_bytes)
		return 1;
	if (b->count == 0 && d->len + need > d->max)
		d->max = d->len + need;

	rc = dynbuf_add(d, head, (size_t)n);
	if (rc == 0 && !empty)
		rc = dynbuf_add(d, body + 1, len - 1);
	if (rc < 0) {
		c->err = rc;
		return 1;
	}
	if (b->count == 0)
		b->first_seq = seq;
	b->last_seq = seq;
	b->count++;
	if (b->count >= c->max_events || d->len + 2 >= c->max_bytes)
		return 1;
	return 0;
}

void batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	dynbuf_init(&b->payload, BATCH_SLACK);
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	dynbuf_free(&b->payload);
	b->count = 0;
}

int batch_build(struct store *s, const char *store_id, const char *type, int64_t after_seq,
		size_t max_events, size_t max_bytes, struct batch *b)
{
	struct build_ctx c = {.b = b, .max_events = max_events, .max_bytes = max_bytes};
	struct dynbuf *d;
	int rc;

	if (!s || !store_id || !type || !b || max_events == 0 || max_bytes == 0)
		return -EINVAL;
	if (str_copy(b->type, sizeof(b->type), type) < 0)
		return -EINVAL;
	b->first_seq = 0;
	b->last_seq = 0;
	b->count = 0;
	d = &b->payload;
	dynbuf_reset(d);
	d->max = max_bytes > SIZE_MAX - BATCH_SLACK ? SIZE_MAX - 1 : max_bytes + BATCH_SLACK;

	rc = dynbuf_adds(d, "{\"store\":");
	if (rc == 0)
		rc = dynbuf_add_json_str(d, store_id);
	if (rc == 0)
		rc = dynbuf_adds(d, ",\"events\":[");
	if (rc < 0)
		goto err_reset;

	rc = store_scan(s, type, after_seq, max_events, add_row, &c);
	if (rc < 0)
		goto err_reset;
	if (c.err < 0) {
		rc = c.err;
		goto err_reset;
	}
	if (b->count == 0) {
		dynbuf_reset(d);
		return 0;
	}
	rc = dynbuf_add(d, "]}", 2);
	if (rc < 0)
		goto err_reset;
	return b->count > INT_MAX ? INT_MAX : (int)b->count;

err_reset:
	dynbuf_reset(d);
	b->count = 0;
	b->first_seq = 0;
	b->last_seq = 0;
	return rc;
}

/* store_scan callback of batch_build_single: copy the one row. */
static int copy_row(void *arg, int64_t seq, const char *body, size_t len)
{
	struct batch *b = arg;
	int rc = dynbuf_add(&b->payload, body, len);

	if (rc == 0) {
		b->first_seq = seq;
		b->last_seq = seq;
		b->count = 1;
	}
	return 1;
}

int batch_build_single(struct store *s, const char *type, int64_t after_seq, struct batch *b)
{
	int rc;

	if (!s || !type || !b)
		return -EINVAL;
	if (str_copy(b->type, sizeof(b->type), type) < 0)
		return -EINVAL;
	b->first_seq = 0;
	b->last_seq = 0;
	b->count = 0;
	dynbuf_reset(&b->payload);
	b->payload.max = SIZE_MAX - 1;
	rc = store_scan(s, type, after_seq, 1, copy_row, b);
	if (rc < 0)
		return rc;
	if (rc > 0 && b->count == 0)
		return -ENOMEM; /* the row was there but could not be copied */
	return (int)b->count;
}
