/*
 * loop: the daemon's one event loop (epoll), in the spirit of Redis ae.c.
 *
 * File descriptors are watched with a callback each; timers are one-shot
 * deadlines on the monotonic clock, multiplexed on a single timerfd; a
 * before-sleep hook runs once per turn, just before epoll_wait, which is
 * where batched work (SQLite commits, MQTT publishes) happens. When nothing
 * is due, the loop sleeps without wakeups.
 *
 * Callbacks may add and delete fds and timers, including their own; a
 * deleted fd's pending events in the current turn are not delivered.
 */
#ifndef SHELF_LOOP_H
#define SHELF_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* @events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP bits that fired. */
typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *arg);
typedef void (*loop_timer_cb)(struct loop *l, void *arg);
typedef void (*loop_hook_cb)(struct loop *l, void *arg);

#define LOOP_MAX_FDS 256
#define LOOP_MAX_TIMERS 128

/* Create a loop. Returns NULL on failure (errno set). Free with loop_free(). */
struct loop *loop_new(void);
/* Close the epoll and timer fds (not the watched fds). NULL-safe. */
void loop_free(struct loop *l);

/*
 * Watch @fd for @events (EPOLLIN|EPOLLOUT). Returns 0, -EEXIST (already
 * watched), -ENOSPC (LOOP_MAX_FDS reached), or epoll_ctl's -errno.
 */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
/* Change the events watched on @fd. Returns 0, -ENOENT, or -errno. */
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
/* Stop watching @fd (does not close it). Safe if not watched. */
void loop_del_fd(struct loop *l, int fd);

/*
 * Call @cb once, @delay_ms from now. Returns a timer id (> 0) or -ENOSPC.
 * The id stays valid until the timer fires or is deleted.
 */
int loop_timer_add(struct loop *l, int64_t delay_ms, loop_timer_cb cb, void *arg);
/* Cancel timer @id. Safe with 0, a fired or an unknown id. */
void loop_timer_del(struct loop *l, int id);

/* Set the hook run before each sleep. */
void loop_set_before_sleep(struct loop *l, loop_hook_cb cb, void *arg);

/* Run until loop_stop(). Returns 0, or -errno if epoll_wait failed fatally. */
int loop_run(struct loop *l);
/* Make loop_run() return after the current turn. */
void loop_stop(struct loop *l);

/* Turns run so far and wakeups (epoll_wait returns), for the idle bench. */
uint64_t loop_wakeups(const struct loop *l);

#endif
