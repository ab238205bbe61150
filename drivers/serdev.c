/*
 * serdev: a reconnecting, line-splitting serial device. See serdev.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "serdev.h"
#include "serial.h"
#include "util.h"

static void serdev_try_open(struct loop *l, void *arg);

/* Emit a device_down / device_up alert for this device. */
static void emit_state_alert(struct serdev *s, const char *alert, const char *error)
{
	struct device *d = s->dev;
	cJSON *body = cJSON_CreateObject();

	if (!body)
		return;
	cJSON_AddStringToObject(body, "alert", alert);
	cJSON_AddStringToObject(body, "device", d->conf->name);
	cJSON_AddStringToObject(body, "port", d->conf->port);
	if (error)
		cJSON_AddStringToObject(body, "error", error);
	if (d->host->emit(d->host->arg, d, "alert", body, 0) < 0)
		log_warn("device %s: could not record the %s alert", d->conf->name, alert);
	cJSON_Delete(body);
}

static void set_state(struct serdev *s, enum device_state st)
{
	if (s->dev->st.state != st) {
		s->dev->st.state = st;
		s->dev->st.state_since_ms = now_wall_ms();
	}
}

static void schedule_retry(struct serdev *s)
{
	struct loop *l = s->dev->host->loop;

	if (s->retry_timer > 0)
		return;
	s->retry_timer = loop_timer_add(l, s->backoff_ms, serdev_try_open, s);
	s->backoff_ms *= 2;
	if (s->backoff_ms > SERDEV_BACKOFF_MAX_MS)
		s->backoff_ms = SERDEV_BACKOFF_MAX_MS;
}

/* The port is gone or unusable: close it, go down, retry later. */
static void serdev_lost(struct serdev *s, const char *why)
{
	struct device *d = s->dev;

	if (s->fd >= 0) {
		loop_del_fd(d->host->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	if (!s->raw)
		linebuf_reset(&s->lb);
	s->want_write = false;
	set_state(s, DEVICE_DOWN);
	device_note(d, "%s", why);
	if (!s->announced_down) {
		/* Log the transition once; retries stay quiet (debug). */
		log_warn("device %s: down: %s; retrying with backoff", d->conf->name, why);
		s->announced_down = true;
		emit_state_alert(s, "device_down", why);
	} else
		log_debug("device %s: still down: %s", d->conf->name, why);
	schedule_retry(s);
	if (s->raw && s->raw->state)
		s->raw->state(s, false);
}

void serdev_fail(struct serdev *s, const char *why)
{
	if (s->fd >= 0)
		serdev_lost(s, why);
}

void serdev_want_write(struct serdev *s, bool on)
{
	if (s->fd < 0 || s->want_write == on)
		return;
	if (loop_mod_fd(s->dev->host->loop, s->fd, EPOLLIN | (on ? EPOLLOUT : 0)) == 0)
		s->want_write = on;
}

static void line_thunk(void *arg, const char *line, size_t len, uint64_t line_no, bool too_long)
{
	struct serdev *s = arg;

	s->on_line(s, line, len, line_no, too_long);
}

static void serdev_readable(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct serdev *s = arg;
	char buf[16384];
	size_t budget = SERDEV_READ_BUDGET;

	if ((events & EPOLLOUT) && s->raw && s->raw->writable) {
		s->raw->writable(s);
		if (s->fd != fd)
			return; /* the callback gave up on the port */
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	while (budget > 0) {
		ssize_t n = serial_read(fd, buf, sizeof(buf));
		char why[160];

		if (n == 0)
			return; /* drained */
		if (n < 0) {
			snprintf(why, sizeof(why), "port %s: %s", s->dev->conf->port,
				 n == -EPIPE ? "device vanished (EOF/EIO/hang-up)"
					     : strerror((int)-n));
			serdev_lost(s, why);
			return;
		}
		s->dev->st.last_seen_ms = now_wall_ms();
		if (s->raw) {
			s->raw->bytes(s, (const uint8_t *)buf, (size_t)n);
			if (s->fd != fd)
				return; /* the protocol closed the port */
		} else {
			linebuf_feed(&s->lb, buf, (size_t)n, line_thunk, s);
		}
		/* Raw bytes may hold a probe's MACs: not left on the stack. */
		explicit_bzero(buf, (size_t)n);
		/* The line callback never closes the port, so fd is still ours. */
		budget -= (size_t)n > budget ? budget : (size_t)n;
	}
}

static void serdev_try_open(struct loop *l, void *arg)
{
	struct serdev *s = arg;
	struct device *d = s->dev;
	char why[200];
	int fd, rc;

	s->retry_timer = 0;
	fd = serial_open(d->conf->port, d->conf->baud);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open %s: %s", d->conf->port, strerror(-fd));
		serdev_lost(s, why);
		return;
	}
	rc = loop_add_fd(l, fd, EPOLLIN, serdev_readable, s);
	if (rc < 0) {
		close(fd);
		snprintf(why, sizeof(why), "cannot watch %s: %s", d->conf->port, strerror(-rc));
		serdev_lost(s, why);
		return;
	}
	s->fd = fd;
	s->want_write = false;
	s->backoff_ms = SERDEV_BACKOFF_MIN_MS;
	set_state(s, DEVICE_OPEN);
	log_info("device %s: opened %s at %u baud", d->conf->name, d->conf->port, d->conf->baud);
	if (s->announced_down) {
		s->announced_down = false;
		d->st.reconnects++;
		emit_state_alert(s, "device_up", NULL);
	}
	if (s->raw && s->raw->state)
		s->raw->state(s, true);
}

int serdev_start(struct serdev *s, struct device *d, size_t max_line, serdev_line_cb on_line)
{
	int rc;

	s->dev = d;
	s->on_line = on_line;
	s->fd = -1;
	s->retry_timer = 0;
	s->backoff_ms = SERDEV_BACKOFF_MIN_MS;
	s->announced_down = false;
	rc = linebuf_init(&s->lb, max_line);
	if (rc < 0)
		return rc;
	d->st.state = DEVICE_DOWN;
	d->st.state_since_ms = now_wall_ms();
	serdev_try_open(d->host->loop, s);
	return 0;
}

int serdev_start_raw(struct serdev *s, struct device *d, const struct serdev_raw_ops *ops)
{
	memset(s, 0, sizeof(*s));
	s->dev = d;
	s->raw = ops;
	s->fd = -1;
	s->backoff_ms = SERDEV_BACKOFF_MIN_MS;
	d->st.state = DEVICE_DOWN;
	d->st.state_since_ms = now_wall_ms();
	serdev_try_open(d->host->loop, s);
	return 0;
}

void serdev_stop(struct serdev *s)
{
	struct loop *l;

	if (!s->dev)
		return;
	l = s->dev->host->loop;
	loop_timer_del(l, s->retry_timer);
	s->retry_timer = 0;
	if (s->fd >= 0) {
		loop_del_fd(l, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	if (!s->raw)
		linebuf_free(&s->lb);
}
