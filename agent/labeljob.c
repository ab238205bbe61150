/*
 * labeljob: the label job state machine. See labeljob.h for the table.
 */
#include <string.h>

#include "labeljob.h"
#include "util.h"

static const char *const names[] = {
	[LABELJOB_NONE] = "none",	    [LABELJOB_QUEUED] = "queued", [LABELJOB_SENT] = "sent",
	[LABELJOB_DELIVERED] = "delivered", [LABELJOB_FAILED] = "failed",
};

const char *labeljob_state_name(enum labeljob_state s)
{
	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "none";
}

enum labeljob_state labeljob_state_parse(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(names); i++) {
		if (!strcmp(name, names[i]))
			return (enum labeljob_state)i;
	}
	return LABELJOB_NONE;
}

int64_t labeljob_backoff_ms(int attempts, int64_t checkin_ms)
{
	int64_t d = checkin_ms > LABELJOB_BACKOFF_MIN_MS ? checkin_ms : LABELJOB_BACKOFF_MIN_MS;

	for (int i = 1; i < attempts && d < LABELJOB_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < LABELJOB_BACKOFF_MAX_MS ? d : LABELJOB_BACKOFF_MAX_MS;
}

static bool pending(const struct labeljob *j)
{
	return j->state == LABELJOB_QUEUED || j->state == LABELJOB_SENT;
}

static void queue_now(struct labeljob *j, int64_t now)
{
	j->state = LABELJOB_QUEUED;
	j->attempts = 0;
	j->next_try_ms = now;
	j->reason[0] = '\0';
}

static unsigned on_content(struct labeljob *j, const struct labeljob_input *in)
{
	unsigned r = LABELJOB_R_CHANGED;
	bool same = j->state != LABELJOB_NONE && !strcmp(j->hash, in->hash);

	if (same && (pending(j) || j->state == LABELJOB_DELIVERED))
		return 0;
	if (pending(j) && !same) {
		j->superseded++;
		r |= LABELJOB_R_SUPERSEDED;
	}
	str_copy(j->hash, sizeof(j->hash), in->hash);
	if (in->shown_hash && !strcmp(in->shown_hash, in->hash)) {
		/* The label shows it already (e.g. a price set back): nothing to send. */
		j->state = LABELJOB_DELIVERED;
		j->attempts = 0;
		j->reason[0] = '\0';
		return r;
	}
	queue_now(j, in->now_ms);
	return r;
}

unsigned labeljob_step(struct labeljob *j, const struct labeljob_input *in)
{
	switch (in->ev) {
	case LABELJOB_EV_CONTENT:
		return in->hash ? on_content(j, in) : 0;
	case LABELJOB_EV_SEND:
		if (j->state != LABELJOB_QUEUED)
			return 0;
		j->state = LABELJOB_SENT;
		j->attempts++;
		j->sent_ms = in->now_ms;
		return LABELJOB_R_CHANGED;
	case LABELJOB_EV_DELIVERED:
		if (!in->hash || strcmp(in->hash, j->hash) ||
		    (!pending(j) && j->state != LABELJOB_FAILED))
			return 0;
		j->state = LABELJOB_DELIVERED;
		j->reason[0] = '\0';
		return LABELJOB_R_CHANGED | LABELJOB_R_DELIVERED;
	case LABELJOB_EV_FAILED:
		if (j->state != LABELJOB_SENT)
			return 0;
		str_copy(j->reason, sizeof(j->reason), in->reason ? in->reason : "failed");
		if (in->retryable && j->attempts < LABELJOB_MAX_ATTEMPTS) {
			j->state = LABELJOB_QUEUED;
			j->next_try_ms =
				in->now_ms + labeljob_backoff_ms(j->attempts, in->checkin_ms);
			return LABELJOB_R_CHANGED;
		}
		j->state = LABELJOB_FAILED;
		return LABELJOB_R_CHANGED | LABELJOB_R_FAILED;
	case LABELJOB_EV_LINK_RESET:
		if (j->state != LABELJOB_SENT)
			return 0;
		j->state = LABELJOB_QUEUED;
		j->next_try_ms = in->now_ms;
		return LABELJOB_R_CHANGED;
	case LABELJOB_EV_REFRESH:
		if (j->state == LABELJOB_NONE)
			return 0;
		queue_now(j, in->now_ms);
		return LABELJOB_R_CHANGED;
	case LABELJOB_EV_CHECKIN:
		if (j->state != LABELJOB_FAILED)
			return 0;
		queue_now(j, in->now_ms);
		return LABELJOB_R_CHANGED;
	}
	return 0;
}
