/*
 * test_loop: the event loop. Timers fire once, in deadline order, not early;
 * a cancelled timer never fires; fd callbacks see readable pipes; an fd
 * deleted by an earlier callback in the same turn is not delivered; the
 * before-sleep hook runs once per turn; loop_stop ends loop_run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"

struct rec {
	struct loop *l;
	int order[16];
	int64_t at[16];
	size_t n;
	int64_t t0;
	int stop_after;
	int hooks;
	int fds_seen;
	int fd_a;
	int fd_b;
};

struct tcb {
	struct rec *r;
	int id;
};

static void on_timer(struct loop *l, void *arg)
{
	struct tcb *t = arg;
	struct rec *r = t->r;

	r->order[r->n] = t->id;
	r->at[r->n] = now_mono_ms() - r->t0;
	r->n++;
	if ((int)r->n == r->stop_after)
		loop_stop(l);
}

static void test_timers_order_and_cancel(void **state)
{
	struct loop *l = loop_new();
	struct rec r = {.l = l};
	struct tcb a = {&r, 1}, b = {&r, 2}, c = {&r, 3}, x = {&r, 99};
	int idx;

	assert_non_null(l);
	r.t0 = now_mono_ms();
	r.stop_after = 3;
	assert_true(loop_timer_add(l, 60, on_timer, &c) > 0);
	assert_true(loop_timer_add(l, 0, on_timer, &a) > 0);
	idx = loop_timer_add(l, 30, on_timer, &x);
	assert_true(idx > 0);
	assert_true(loop_timer_add(l, 20, on_timer, &b) > 0);
	loop_timer_del(l, idx);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.order[0], 1);
	assert_int_equal(r.order[1], 2);
	assert_int_equal(r.order[2], 3);
	/* Never early. */
	assert_true(r.at[1] >= 20);
	assert_true(r.at[2] >= 60);
	loop_timer_del(l, idx); /* already gone: harmless */
	loop_free(l);
}

static void test_timer_slots_bounded(void **state)
{
	struct loop *l = loop_new();
	struct rec r = {.l = l};
	struct tcb t = {&r, 1};

	for (int i = 0; i < LOOP_MAX_TIMERS; i++)
		assert_true(loop_timer_add(l, 100000, on_timer, &t) > 0);
	assert_int_equal(loop_timer_add(l, 1, on_timer, &t), -ENOSPC);
	loop_free(l);
}

static void on_fd_delete_other(struct loop *l, int fd, uint32_t ev, void *arg)
{
	struct rec *r = arg;
	char buf[16];

	r->fds_seen++;
	if (read(fd, buf, sizeof(buf)) < 0)
		fail();
	/* Whichever runs first removes the other: it must not be delivered. */
	loop_del_fd(l, fd == r->fd_a ? r->fd_b : r->fd_a);
	loop_del_fd(l, fd);
	loop_stop(l);
}

static void hook(struct loop *l, void *arg)
{
	struct rec *r = arg;

	r->hooks++;
}

static void test_fd_deleted_in_same_turn(void **state)
{
	struct loop *l = loop_new();
	struct rec r = {.l = l};
	int p1[2], p2[2];

	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	assert_int_equal(loop_add_fd(l, p1[0], EPOLLIN, on_fd_delete_other, &r), 0);
	assert_int_equal(loop_add_fd(l, p1[0], EPOLLIN, on_fd_delete_other, &r), -EEXIST);
	assert_int_equal(loop_add_fd(l, p2[0], EPOLLIN, on_fd_delete_other, &r), 0);
	loop_set_before_sleep(l, hook, &r);
	/* Both readable before the first epoll_wait: one turn delivers both. */
	assert_int_equal(write(p1[1], "x", 1), 1);
	assert_int_equal(write(p2[1], "y", 1), 1);
	r.fd_a = p1[0];
	r.fd_b = p2[0];
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(r.fds_seen, 1);
	assert_int_equal(r.hooks, 1);
	assert_int_equal(loop_mod_fd(l, p1[0], EPOLLIN), -ENOENT);
	loop_free(l);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
}

static void stop_timer(struct loop *l, void *arg)
{
	loop_stop(l);
}

/* Idle: a loop with one far timer wakes once for it, not in between. */
static void test_no_busy_wakeups(void **state)
{
	struct loop *l = loop_new();

	assert_true(loop_timer_add(l, 300, stop_timer, NULL) > 0);
	assert_int_equal(loop_run(l), 0);
	assert_true(loop_wakeups(l) <= 2);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_order_and_cancel),
		cmocka_unit_test(test_timer_slots_bounded),
		cmocka_unit_test(test_fd_deleted_in_same_turn),
		cmocka_unit_test(test_no_busy_wakeups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
