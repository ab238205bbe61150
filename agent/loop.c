/*
 * loop: epoll + one timerfd + a before-sleep hook. See loop.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"

struct loop_fd {
	int fd; /* -1 when the slot is free */
	uint32_t events;
	loop_fd_cb cb;
	void *arg;
	uint64_t gen; /* bumped on reuse, so stale epoll events are ignored */
};

struct loop_timer {
	int id; /* 0 when the slot is free */
	int64_t due_ms; /* monotonic */
	loop_timer_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	int tfd;
	bool stop;
	int next_timer_id;
	int64_t armed_ms; /* deadline the timerfd is armed for, 0 = disarmed */
	uint64_t wakeups;
	loop_hook_cb before_sleep;
	void *before_sleep_arg;
	struct loop_fd fds[LOOP_MAX_FDS];
	struct loop_timer timers[LOOP_MAX_TIMERS];
};

/* epoll data: slot index in the low 32 bits, generation in the high. */
static uint64_t pack(size_t slot, uint64_t gen)
{
	return ((gen & 0xffffffffu) << 32) | (uint64_t)slot;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!l)
		return NULL;
	for (size_t i = 0; i < LOOP_MAX_FDS; i++)
		l->fds[i].fd = -1;
	l->next_timer_id = 1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto err_free;
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->tfd < 0)
		goto err_close_ep;
	ev.data.u64 = UINT64_MAX; /* marks the timerfd */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->tfd, &ev) < 0)
		goto err_close_tfd;
	return l;

err_close_tfd:
	close(l->tfd);
err_close_ep:
	close(l->epfd);
err_free:
	free(l);
	return NULL;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->tfd);
	close(l->epfd);
	free(l);
}

static struct loop_fd *find_fd(struct loop *l, int fd, size_t *slot)
{
	for (size_t i = 0; i < LOOP_MAX_FDS; i++) {
		if (l->fds[i].fd == fd) {
			if (slot)
				*slot = i;
			return &l->fds[i];
		}
	}
	return NULL;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = {0};
	struct loop_fd *f;
	size_t slot;

	if (fd < 0 || !cb)
		return -EINVAL;
	if (find_fd(l, fd, NULL))
		return -EEXIST;
	f = find_fd(l, -1, &slot);
	if (!f)
		return -ENOSPC;
	f->gen++;
	ev.events = events;
	ev.data.u64 = pack(slot, f->gen);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	f->fd = fd;
	f->events = events;
	f->cb = cb;
	f->arg = arg;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = {0};
	size_t slot;
	struct loop_fd *f = find_fd(l, fd, &slot);

	if (!f)
		return -ENOENT;
	if (f->events == events)
		return 0;
	ev.events = events;
	ev.data.u64 = pack(slot, f->gen);
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	f->events = events;
	return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	struct loop_fd *f = find_fd(l, fd, NULL);

	if (!f)
		return;
	/* The fd may already be closed (device gone): ignore errors. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	f->fd = -1;
	f->cb = NULL;
	f->arg = NULL;
}

/* Arm the timerfd for the earliest timer, or disarm it. */
static void rearm(struct loop *l)
{
	struct itimerspec its = {0};
	int64_t due = 0;

	for (size_t i = 0; i < LOOP_MAX_TIMERS; i++) {
		if (l->timers[i].id && (!due || l->timers[i].due_ms < due))
			due = l->timers[i].due_ms;
	}
	if (due == l->armed_ms)
		return;
	l->armed_ms = due;
	if (due) {
		/* Absolute monotonic time; at least 1 ns so 0 does not disarm. */
		its.it_value.tv_sec = due / 1000;
		its.it_value.tv_nsec = (due % 1000) * 1000000L + 1;
	}
	if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_err("timerfd_settime: %s", strerror(errno));
}

int loop_timer_add(struct loop *l, int64_t delay_ms, loop_timer_cb cb, void *arg)
{
	for (size_t i = 0; i < LOOP_MAX_TIMERS; i++) {
		struct loop_timer *t = &l->timers[i];

		if (t->id)
			continue;
		t->id = l->next_timer_id++;
		if (l->next_timer_id <= 0)
			l->next_timer_id = 1;
		t->due_ms = now_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
		t->cb = cb;
		t->arg = arg;
		rearm(l);
		return t->id;
	}
	log_err("loop: no free timer slot (%d in use)", LOOP_MAX_TIMERS);
	return -ENOSPC;
}

void loop_timer_del(struct loop *l, int id)
{
	if (id <= 0)
		return;
	for (size_t i = 0; i < LOOP_MAX_TIMERS; i++) {
		if (l->timers[i].id == id) {
			l->timers[i].id = 0;
			rearm(l);
			return;
		}
	}
}

/* Fire every timer that is due; each fires once and is freed first. */
static void run_timers(struct loop *l)
{
	uint64_t expirations;
	int64_t now = now_mono_ms();

	while (read(l->tfd, &expirations, sizeof(expirations)) > 0)
		;
	l->armed_ms = -1; /* force rearm */
	for (size_t i = 0; i < LOOP_MAX_TIMERS; i++) {
		struct loop_timer *t = &l->timers[i];
		loop_timer_cb cb;
		void *arg;

		if (!t->id || t->due_ms > now)
			continue;
		cb = t->cb;
		arg = t->arg;
		t->id = 0;
		cb(l, arg);
	}
	rearm(l);
}

void loop_set_before_sleep(struct loop *l, loop_hook_cb cb, void *arg)
{
	l->before_sleep = cb;
	l->before_sleep_arg = arg;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	l->stop = false;
	while (!l->stop) {
		int n;

		if (l->before_sleep)
			l->before_sleep(l, l->before_sleep_arg);
		if (l->stop)
			break;
		n = epoll_wait(l->epfd, evs, (int)ARRAY_SIZE(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		l->wakeups++;
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			size_t slot;
			struct loop_fd *f;

			if (d == UINT64_MAX) {
				run_timers(l);
				continue;
			}
			slot = (size_t)(d & 0xffffffffu);
			if (slot >= LOOP_MAX_FDS)
				continue;
			f = &l->fds[slot];
			/* Deleted (or slot reused) earlier in this turn: skip. */
			if (f->fd < 0 || (f->gen & 0xffffffffu) != (d >> 32))
				continue;
			f->cb(l, f->fd, evs[i].events, f->arg);
		}
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

uint64_t loop_wakeups(const struct loop *l)
{
	return l->wakeups;
}
