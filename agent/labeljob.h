/*
 * labeljob: the per-label delivery job state machine (issue 3, item 4), as a
 * pure function: a job and an input in, the new job and what to report out.
 * No I/O, no clock (the caller passes now). labelbook.c stores the result.
 *
 * One job per label: the newest content (by content hash) the label should
 * show. States:
 *   QUEUED     to be sent when the link has room and next_try_ms has passed
 *   SENT       handed to the base station, waiting for its delivery result
 *   DELIVERED  the label acked showing this content
 *   FAILED     gave up after LABELJOB_MAX_ATTEMPTS or a permanent error; a
 *              new content, a check-in of the label or a refresh re-queues it
 * A job replaced by newer content before it was delivered is counted as
 * superseded (the label only ever gets the newest content).
 *
 * Transitions (anything not listed changes nothing):
 *   CONTENT(h)    same h as the job and state QUEUED/SENT/DELIVERED: nothing;
 *                 label already shows h (in->shown_hash): DELIVERED, no send
 *                 (and if the job was QUEUED/SENT with another hash, that one
 *                 is superseded); else: a QUEUED/SENT job of another hash is
 *                 superseded; job = h, QUEUED, attempts 0, next_try now
 *   SEND          QUEUED -> SENT, attempts + 1, sent_ms = now
 *   DELIVERED(h)  h == job hash, state QUEUED/SENT/FAILED -> DELIVERED (report);
 *                 another hash: nothing (old content landed; the job stays)
 *   FAILED(r)     SENT -> retryable and attempts < MAX: QUEUED with
 *                 next_try = now + backoff; else FAILED(r) (report)
 *   LINK_RESET    SENT -> QUEUED, next_try now (the base station lost it)
 *   REFRESH       any state with a hash -> QUEUED, attempts 0, next_try now
 *                 (even when DELIVERED: the technician asked for a resend)
 *   CHECKIN       FAILED -> QUEUED, attempts 0 (the label is back)
 *
 * Backoff: tied to the label's check-in interval (a label that sleeps for
 * 60 s cannot take an image sooner): base = max(checkin_ms, 5000), doubled per
 * attempt, at most LABELJOB_BACKOFF_MAX_MS.
 */
#ifndef SHELF_LABELJOB_H
#define SHELF_LABELJOB_H

#include <stdbool.h>
#include <stdint.h>

#define LABELJOB_MAX_ATTEMPTS 8
#define LABELJOB_BACKOFF_MIN_MS 5000
#define LABELJOB_BACKOFF_MAX_MS (60 * 60 * 1000)
#define LABELJOB_HASH_LEN 16 /* hex digits of the 64-bit content hash */
#define LABELJOB_REASON_MAX 64

enum labeljob_state {
	LABELJOB_NONE = 0, /* no job yet */
	LABELJOB_QUEUED,
	LABELJOB_SENT,
	LABELJOB_DELIVERED,
	LABELJOB_FAILED,
};

enum labeljob_event {
	LABELJOB_EV_CONTENT,
	LABELJOB_EV_SEND,
	LABELJOB_EV_DELIVERED,
	LABELJOB_EV_FAILED,
	LABELJOB_EV_LINK_RESET,
	LABELJOB_EV_REFRESH,
	LABELJOB_EV_CHECKIN,
};

struct labeljob {
	char hash[LABELJOB_HASH_LEN + 1]; /* "" when state is NONE */
	enum labeljob_state state;
	int attempts;
	int64_t next_try_ms;
	int64_t sent_ms;
	char reason[LABELJOB_REASON_MAX]; /* why the last attempt failed; "" if none */
	uint32_t superseded; /* contents replaced before delivery, all time */
};

struct labeljob_input {
	enum labeljob_event ev;
	const char *hash; /* CONTENT, DELIVERED: the content hash */
	const char *shown_hash; /* CONTENT: what the label reports it shows (NULL if unknown) */
	const char *reason; /* FAILED */
	bool retryable; /* FAILED */
	int64_t now_ms;
	int64_t checkin_ms; /* the label's check-in interval (0 = unknown) */
};

/* What the caller should report after a step (bit flags). */
#define LABELJOB_R_CHANGED 0x1u /* the job changed: store it */
#define LABELJOB_R_DELIVERED 0x2u /* report a `label` event: delivered */
#define LABELJOB_R_FAILED 0x4u /* report a `label` event: failed (job.reason) */
#define LABELJOB_R_SUPERSEDED 0x8u /* an undelivered content was replaced */

/* Apply @in to @j (in place). Returns LABELJOB_R_* flags. */
unsigned labeljob_step(struct labeljob *j, const struct labeljob_input *in);

/* "queued", "sent", "delivered", "failed", "none". */
const char *labeljob_state_name(enum labeljob_state s);
/* The inverse; returns LABELJOB_NONE for an unknown name. */
enum labeljob_state labeljob_state_parse(const char *name);

/* The delay before retry number @attempts (1-based) for a label checking in every @checkin_ms. */
int64_t labeljob_backoff_ms(int attempts, int64_t checkin_ms);

#endif
