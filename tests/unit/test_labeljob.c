/*
 * test_labeljob: the label job state machine, transition by transition
 * (labeljob.h's table): new content, coalescing (superseded), already shown,
 * send, delivered (right and wrong hash), retry with backoff tied to the
 * check-in interval, giving up, link reset, refresh, check-in after failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "labeljob.h"

#define H1 "00000000000000a1"
#define H2 "00000000000000b2"

static unsigned step(struct labeljob *j, enum labeljob_event ev, const char *hash, int64_t now)
{
	struct labeljob_input in = {.ev = ev, .hash = hash, .now_ms = now, .checkin_ms = 30000};

	return labeljob_step(j, &in);
}

static unsigned report_failure(struct labeljob *j, bool retryable, int64_t now)
{
	struct labeljob_input in = {.ev = LABELJOB_EV_FAILED,
				    .reason = "label not responding",
				    .retryable = retryable,
				    .now_ms = now,
				    .checkin_ms = 30000};

	return labeljob_step(j, &in);
}

static void test_content_send_deliver(void **state)
{
	struct labeljob j = {0};

	assert_int_equal(step(&j, LABELJOB_EV_CONTENT, H1, 100), LABELJOB_R_CHANGED);
	assert_int_equal(j.state, LABELJOB_QUEUED);
	assert_string_equal(j.hash, H1);
	assert_int_equal(j.next_try_ms, 100);
	assert_int_equal(step(&j, LABELJOB_EV_SEND, NULL, 200), LABELJOB_R_CHANGED);
	assert_int_equal(j.state, LABELJOB_SENT);
	assert_int_equal(j.attempts, 1);
	assert_int_equal(j.sent_ms, 200);
	/* A second send of a SENT job is not a transition. */
	assert_int_equal(step(&j, LABELJOB_EV_SEND, NULL, 300), 0);
	assert_int_equal(j.attempts, 1);
	/* The same content again while in flight: nothing. */
	assert_int_equal(step(&j, LABELJOB_EV_CONTENT, H1, 300), 0);
	assert_int_equal(step(&j, LABELJOB_EV_DELIVERED, H1, 400),
			 LABELJOB_R_CHANGED | LABELJOB_R_DELIVERED);
	assert_int_equal(j.state, LABELJOB_DELIVERED);
	/* Delivered twice (a duplicate report): reported once. */
	assert_int_equal(step(&j, LABELJOB_EV_DELIVERED, H1, 500), 0);
	/* The same content once delivered: nothing to do. */
	assert_int_equal(step(&j, LABELJOB_EV_CONTENT, H1, 600), 0);
	assert_string_equal(labeljob_state_name(j.state), "delivered");
	assert_int_equal(labeljob_state_parse("delivered"), LABELJOB_DELIVERED);
	assert_int_equal(labeljob_state_parse("bogus"), LABELJOB_NONE);
}

static void test_newest_content_wins(void **state)
{
	struct labeljob j = {0};

	step(&j, LABELJOB_EV_CONTENT, H1, 100);
	step(&j, LABELJOB_EV_SEND, NULL, 110);
	/* New content while H1 is in flight: H1 is superseded, H2 queued fresh. */
	assert_int_equal(step(&j, LABELJOB_EV_CONTENT, H2, 120),
			 LABELJOB_R_CHANGED | LABELJOB_R_SUPERSEDED);
	assert_int_equal(j.state, LABELJOB_QUEUED);
	assert_string_equal(j.hash, H2);
	assert_int_equal(j.attempts, 0);
	assert_int_equal(j.superseded, 1);
	/* The late report of H1's delivery does not complete the H2 job. */
	assert_int_equal(step(&j, LABELJOB_EV_DELIVERED, H1, 130), 0);
	assert_int_equal(j.state, LABELJOB_QUEUED);
	/* Queued, never sent, replaced again: still counted. */
	step(&j, LABELJOB_EV_CONTENT, H1, 140);
	assert_int_equal(j.superseded, 2);
	/* Replacing delivered content is not a supersede. */
	step(&j, LABELJOB_EV_SEND, NULL, 150);
	step(&j, LABELJOB_EV_DELIVERED, H1, 160);
	assert_int_equal(step(&j, LABELJOB_EV_CONTENT, H2, 170), LABELJOB_R_CHANGED);
	assert_int_equal(j.superseded, 2);
}

static void test_already_shown(void **state)
{
	struct labeljob j = {0};
	struct labeljob_input in = {
		.ev = LABELJOB_EV_CONTENT, .hash = H1, .shown_hash = H1, .now_ms = 5};

	assert_int_equal(labeljob_step(&j, &in), LABELJOB_R_CHANGED);
	assert_int_equal(j.state, LABELJOB_DELIVERED);
	assert_int_equal(j.attempts, 0);
	/* Set back to what the label shows while another content is queued. */
	step(&j, LABELJOB_EV_CONTENT, H2, 10);
	assert_int_equal(j.state, LABELJOB_QUEUED);
	in.now_ms = 20;
	assert_int_equal(labeljob_step(&j, &in), LABELJOB_R_CHANGED | LABELJOB_R_SUPERSEDED);
	assert_int_equal(j.state, LABELJOB_DELIVERED);
	assert_string_equal(j.hash, H1);
}

static void test_retry_backoff_then_give_up(void **state)
{
	struct labeljob j = {0};
	int64_t now = 1000;

	step(&j, LABELJOB_EV_CONTENT, H1, now);
	for (int a = 1; a <= LABELJOB_MAX_ATTEMPTS; a++) {
		unsigned r;

		assert_int_equal(step(&j, LABELJOB_EV_SEND, NULL, now), LABELJOB_R_CHANGED);
		assert_int_equal(j.attempts, a);
		r = report_failure(&j, true, now);
		if (a < LABELJOB_MAX_ATTEMPTS) {
			assert_int_equal(r, LABELJOB_R_CHANGED);
			assert_int_equal(j.state, LABELJOB_QUEUED);
			assert_int_equal(j.next_try_ms, now + labeljob_backoff_ms(a, 30000));
			now = j.next_try_ms;
		} else {
			assert_int_equal(r, LABELJOB_R_CHANGED | LABELJOB_R_FAILED);
			assert_int_equal(j.state, LABELJOB_FAILED);
		}
		assert_string_equal(j.reason, "label not responding");
	}
	/* The label checks in again: a fresh start. */
	assert_int_equal(step(&j, LABELJOB_EV_CHECKIN, NULL, now), LABELJOB_R_CHANGED);
	assert_int_equal(j.state, LABELJOB_QUEUED);
	assert_int_equal(j.attempts, 0);
	assert_string_equal(j.reason, "");
	/* A check-in of a healthy job changes nothing. */
	assert_int_equal(step(&j, LABELJOB_EV_CHECKIN, NULL, now), 0);
	/* A late delivery of a failed job still counts. */
	step(&j, LABELJOB_EV_SEND, NULL, now);
	report_failure(&j, false, now);
	assert_int_equal(j.state, LABELJOB_FAILED);
	assert_int_equal(step(&j, LABELJOB_EV_DELIVERED, H1, now),
			 LABELJOB_R_CHANGED | LABELJOB_R_DELIVERED);
}

static void test_permanent_failure(void **state)
{
	struct labeljob j = {0};

	step(&j, LABELJOB_EV_CONTENT, H1, 0);
	step(&j, LABELJOB_EV_SEND, NULL, 0);
	assert_int_equal(report_failure(&j, false, 0), LABELJOB_R_CHANGED | LABELJOB_R_FAILED);
	assert_int_equal(j.state, LABELJOB_FAILED);
	assert_int_equal(j.attempts, 1);
	/* A failure report for a job that is not in flight is ignored. */
	assert_int_equal(report_failure(&j, true, 0), 0);
}

static void test_backoff_tied_to_checkin(void **state)
{
	assert_int_equal(labeljob_backoff_ms(1, 0), LABELJOB_BACKOFF_MIN_MS);
	assert_int_equal(labeljob_backoff_ms(1, 60000), 60000);
	assert_int_equal(labeljob_backoff_ms(2, 60000), 120000);
	assert_int_equal(labeljob_backoff_ms(3, 60000), 240000);
	assert_int_equal(labeljob_backoff_ms(30, 60000), LABELJOB_BACKOFF_MAX_MS);
}

static void test_link_reset_and_refresh(void **state)
{
	struct labeljob j = {0};

	/* Nothing to refresh without content. */
	assert_int_equal(step(&j, LABELJOB_EV_REFRESH, NULL, 0), 0);
	step(&j, LABELJOB_EV_CONTENT, H1, 0);
	step(&j, LABELJOB_EV_SEND, NULL, 10);
	assert_int_equal(step(&j, LABELJOB_EV_LINK_RESET, NULL, 20), LABELJOB_R_CHANGED);
	assert_int_equal(j.state, LABELJOB_QUEUED);
	assert_int_equal(j.next_try_ms, 20);
	assert_int_equal(j.attempts, 1); /* the attempt counts */
	assert_int_equal(step(&j, LABELJOB_EV_LINK_RESET, NULL, 30), 0);
	step(&j, LABELJOB_EV_SEND, NULL, 40);
	step(&j, LABELJOB_EV_DELIVERED, H1, 50);
	/* Refresh resends even delivered content. */
	assert_int_equal(step(&j, LABELJOB_EV_REFRESH, NULL, 60), LABELJOB_R_CHANGED);
	assert_int_equal(j.state, LABELJOB_QUEUED);
	assert_int_equal(j.attempts, 0);
	assert_string_equal(j.hash, H1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_send_deliver),
		cmocka_unit_test(test_newest_content_wins),
		cmocka_unit_test(test_already_shown),
		cmocka_unit_test(test_retry_backoff_then_give_up),
		cmocka_unit_test(test_permanent_failure),
		cmocka_unit_test(test_backoff_tied_to_checkin),
		cmocka_unit_test(test_link_reset_and_refresh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
