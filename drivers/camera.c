/*
 * camera: the door/zone counter driver (kind "camera"). One or two GPIO
 * lines (libgpiod v1) watched for both edges; the edges go through the pure
 * beam logic (beam.c), whose passes go to the host (struct sensor_host) and
 * whose alerts become `alert` events.
 *
 * The chip is opened with gpiod_chip_open_lookup(); when it cannot be
 * opened, or a read fails later (the chip vanished), the driver releases
 * everything, marks the device down, emits a `device_down` alert once and
 * retries with backoff (CAMERA_BACKOFF_MIN_MS doubling to _MAX_MS); on
 * success it emits `device_up`. The beam state starts afresh on each open
 * (its counts are kept).
 *
 * Time. Line events carry CLOCK_MONOTONIC stamps (kernel >= 5.7). The beam
 * runs on its own clock: the monotonic clock, or, when edges were stamped
 * ahead of it (a recording replayed fast), the newest edge's stamp plus the
 * real time elapsed since it was read; so debounces and passes are
 * confirmed as real time passes either way (when the stream goes back more
 * than CAMERA_REWIND_NS while the beam is idle, the clock follows it). One
 * loop timer is armed at the
 * beam's next deadline. Pass and alert times become wall clock (epoch ms) by
 * the current realtime - monotonic offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <gpiod.h>

#include "beam.h"
#include "log.h"
#include "sensor.h"
#include "util.h"

#define CAMERA_BACKOFF_MIN_MS 250
#define CAMERA_BACKOFF_MAX_MS 4000
#define CAMERA_READ_BATCH 256 /* events per read, per line */
#define CAMERA_READ_BUDGET 8192 /* events per wakeup, for fairness */
#define CAMERA_CONSUMER "shelfd"
#define RATE_SLOTS 60 /* seconds in the edges/s window */
#define CAMERA_REWIND_NS (60 * 1000000000LL) /* see feed() */

struct camera_priv {
	struct device *dev;
	struct beam beam;
	struct gpiod_chip *chip; /* NULL while down */
	struct gpiod_line *line[2];
	int fd[2]; /* event fds, -1 when not watched */
	int nlines;
	int retry_timer;
	unsigned backoff_ms;
	bool announced_down; /* a device_down alert is outstanding */
	int tick_timer;
	int64_t tick_due; /* beam time the tick timer is armed for */
	/* The beam clock's reference: the newest edge stamp, and when it was read. */
	int64_t ref_edge_ns, ref_read_ns;
	int64_t line_last_ns[2]; /* per line: edges are fed in time order */
	int64_t wall_off_ns; /* realtime - monotonic, refreshed before feeding */
	uint64_t alerts;
	int64_t last_edge_ms;
	uint32_t rate_n[RATE_SLOTS]; /* raw edges per second, by monotonic second */
	int64_t rate_sec[RATE_SLOTS];
	struct gpiod_line_event ev[2][CAMERA_READ_BATCH];
};

static void camera_try_open(struct loop *l, void *arg);

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *line_name(int i)
{
	return i == 0 ? "a" : "b";
}

/* The beam clock at monotonic time @mono (never behind the newest edge's time line). */
static int64_t beam_now(const struct camera_priv *p, int64_t mono)
{
	int64_t t = p->ref_edge_ns + (mono - p->ref_read_ns);

	return p->ref_read_ns && t > mono ? t : mono;
}

static void refresh_wall_offset(struct camera_priv *p)
{
	p->wall_off_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
}

/* A beam time (monotonic ns) as wall clock epoch ms. */
static int64_t wall_ms(const struct camera_priv *p, int64_t t_ns)
{
	return (t_ns + p->wall_off_ns) / 1000000;
}

static void emit_alert(struct camera_priv *p, cJSON *body, const char *alert, int64_t ts_ms)
{
	struct device *d = p->dev;

	if (d->host->emit(d->host->arg, d, "alert", body, ts_ms) < 0)
		log_warn("device %s: could not record the %s alert", d->conf->name, alert);
}

/* Emit a device_down / device_up alert. */
static void emit_state_alert(struct camera_priv *p, const char *alert, const char *reason)
{
	struct device *d = p->dev;
	cJSON *body = cJSON_CreateObject();

	if (!body)
		return;
	cJSON_AddStringToObject(body, "alert", alert);
	cJSON_AddStringToObject(body, "device", d->conf->name);
	cJSON_AddStringToObject(body, "chip", d->conf->chip);
	if (reason)
		cJSON_AddStringToObject(body, "reason", reason);
	emit_alert(p, body, alert, 0);
	cJSON_Delete(body);
}

static void on_beam_pass(void *arg, int dir, int64_t t_ns)
{
	struct camera_priv *p = arg;
	struct device *d = p->dev;
	const struct sensor_host *sh = d->kind_host;

	d->st.lines_ok++;
	if (sh && sh->pass)
		sh->pass(sh->arg, d, dir, wall_ms(p, t_ns));
}

static void on_beam_alert(void *arg, enum beam_alert a, int line, int64_t t_ns)
{
	struct camera_priv *p = arg;
	struct device *d = p->dev;
	char name[32];
	cJSON *body;

	p->alerts++;
	snprintf(name, sizeof(name), "beam_%s", beam_alert_name(a));
	if (a == BEAM_BLOCKED || a == BEAM_CHATTER)
		log_warn("device %s: %s on line %s", d->conf->name, name, line_name(line));
	else
		log_info("device %s: %s on line %s", d->conf->name, name, line_name(line));
	body = cJSON_CreateObject();
	if (!body)
		return;
	cJSON_AddStringToObject(body, "alert", name);
	cJSON_AddStringToObject(body, "device", d->conf->name);
	cJSON_AddStringToObject(body, "line", line_name(line));
	cJSON_AddStringToObject(body, "zone", d->conf->zone);
	emit_alert(p, body, name, wall_ms(p, t_ns));
	cJSON_Delete(body);
}

static void set_state(struct camera_priv *p, enum device_state st)
{
	if (p->dev->st.state != st) {
		p->dev->st.state = st;
		p->dev->st.state_since_ms = now_wall_ms();
	}
}

/* A fresh beam for a (re)opened chip; the counts carry over. */
static void beam_reset(struct camera_priv *p)
{
	const struct device_conf *c = p->dev->conf;
	struct beam_counts counts = p->beam.counts;
	struct beam_cbs cbs = {.pass = on_beam_pass, .alert = on_beam_alert, .arg = p};
	struct beam_conf bc;

	beam_conf_defaults(&bc);
	bc.two_lines = c->line_b >= 0;
	bc.debounce_ms = c->debounce_ms;
	beam_init(&p->beam, &bc, &cbs);
	p->beam.counts = counts;
	p->ref_edge_ns = 0;
	p->ref_read_ns = 0;
	p->line_last_ns[0] = p->line_last_ns[1] = INT64_MIN;
}

/* Stop watching and release the lines and the chip. */
static void release(struct camera_priv *p)
{
	struct loop *l = p->dev->host->loop;

	for (int i = 0; i < 2; i++) {
		if (p->fd[i] >= 0)
			loop_del_fd(l, p->fd[i]);
		p->fd[i] = -1;
		p->line[i] = NULL;
	}
	loop_timer_del(l, p->tick_timer);
	p->tick_timer = 0;
	/* Closing the chip releases its lines (and closes their event fds). */
	gpiod_chip_close(p->chip);
	p->chip = NULL;
}

static void schedule_retry(struct camera_priv *p)
{
	if (p->retry_timer > 0)
		return;
	p->retry_timer = loop_timer_add(p->dev->host->loop, p->backoff_ms, camera_try_open, p);
	if (p->retry_timer < 0) {
		log_err("device %s: cannot schedule a retry", p->dev->conf->name);
		p->retry_timer = 0;
	}
	p->backoff_ms *= 2;
	if (p->backoff_ms > CAMERA_BACKOFF_MAX_MS)
		p->backoff_ms = CAMERA_BACKOFF_MAX_MS;
}

/* The chip is gone or unusable: release it, go down, retry later. */
static void camera_lost(struct camera_priv *p, const char *why)
{
	struct device *d = p->dev;

	release(p);
	beam_reset(p);
	set_state(p, DEVICE_DOWN);
	device_note(d, "%s", why);
	if (!p->announced_down) {
		log_warn("device %s: down: %s; retrying with backoff", d->conf->name, why);
		p->announced_down = true;
		emit_state_alert(p, "device_down", why);
	} else {
		log_debug("device %s: still down: %s", d->conf->name, why);
	}
	schedule_retry(p);
}

/* Count a raw edge in the per-second ring. */
static void rate_count(struct camera_priv *p, int64_t mono_ns, unsigned n)
{
	int64_t sec = mono_ns / 1000000000LL;
	size_t slot = (size_t)(sec % RATE_SLOTS);

	if (p->rate_sec[slot] != sec) {
		p->rate_sec[slot] = sec;
		p->rate_n[slot] = 0;
	}
	p->rate_n[slot] += n;
}

static int64_t event_ns(const struct gpiod_line_event *ev)
{
	return (int64_t)ev->ts.tv_sec * 1000000000LL + ev->ts.tv_nsec;
}

/* Feed @n[i] events of each line to the beam, oldest first. */
static void feed(struct camera_priv *p, const int n[2], int64_t mono)
{
	bool active_low = p->dev->conf->active_low;
	int k[2] = {0, 0};

	for (;;) {
		const struct gpiod_line_event *ev;
		int i;
		int64_t t;

		if (k[0] < n[0] &&
		    (k[1] >= n[1] || event_ns(&p->ev[0][k[0]]) <= event_ns(&p->ev[1][k[1]])))
			i = 0;
		else if (k[1] < n[1])
			i = 1;
		else
			break;
		ev = &p->ev[i][k[i]++];
		t = event_ns(ev);
		if (t < beam_now(p, mono) - CAMERA_REWIND_NS &&
		    beam_next_deadline(&p->beam) == INT64_MAX) {
			/* The stream went back in time (a replay ended): follow it. */
			p->ref_edge_ns = p->ref_read_ns = 0;
			p->line_last_ns[0] = p->line_last_ns[1] = INT64_MIN;
		}
		if (t < p->line_last_ns[i])
			t = p->line_last_ns[i];
		p->line_last_ns[i] = t;
		if (t > beam_now(p, mono)) {
			/* Stamped ahead of our clock: the clock follows the stream. */
			p->ref_edge_ns = t;
			p->ref_read_ns = mono;
		}
		/* Rising = the line went high; high = blocked unless active low. */
		beam_edge(&p->beam, i,
			  (ev->event_type == GPIOD_LINE_EVENT_RISING_EDGE) != active_low, t);
	}
}

/*
 * Read what both lines have queued and feed it. Returns 0, or -1 when a
 * read failed and the device went down.
 */
static int drain(struct camera_priv *p)
{
	struct device *d = p->dev;
	unsigned total = 0;

	if (!p->chip)
		return -1;
	refresh_wall_offset(p);
	while (total < CAMERA_READ_BUDGET) {
		int n[2] = {0, 0};
		int64_t mono;

		for (int i = 0; i < p->nlines; i++) {
			int r = gpiod_line_event_read_fd_multiple(p->fd[i], p->ev[i],
								  CAMERA_READ_BATCH);

			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				int err = errno, line = i == 0 ? d->conf->line_a : d->conf->line_b;
				char why[200];

				snprintf(why, sizeof(why), "chip %s line %d: read failed: %s%s",
					 d->conf->chip, line, strerror(err),
					 err == ENODEV ? " (chip vanished)" : "");
				d->st.errors++;
				camera_lost(p, why);
				return -1;
			}
			n[i] = r > 0 ? r : 0;
		}
		if (n[0] + n[1] == 0)
			break;
		mono = clock_ns(CLOCK_MONOTONIC);
		rate_count(p, mono, (unsigned)(n[0] + n[1]));
		d->st.last_seen_ms = p->last_edge_ms = now_wall_ms();
		feed(p, n, mono);
		total += (unsigned)(n[0] + n[1]);
		if (n[0] < CAMERA_READ_BATCH && n[1] < CAMERA_READ_BATCH)
			break;
	}
	return 0;
}

static void on_tick(struct loop *l, void *arg);

/* Arm the tick timer at the beam's next deadline (or not at all). */
static void arm(struct camera_priv *p)
{
	struct loop *l = p->dev->host->loop;
	int64_t due = beam_next_deadline(&p->beam), delay_ns, delay_ms;

	if (p->tick_timer > 0 && p->tick_due == due)
		return;
	loop_timer_del(l, p->tick_timer);
	p->tick_timer = 0;
	if (due == INT64_MAX)
		return;
	delay_ns = due - beam_now(p, clock_ns(CLOCK_MONOTONIC));
	/* Rounded up, plus 1 ms: the loop's ms clock must not fire it early. */
	delay_ms = delay_ns <= 0 ? 0 : (delay_ns + 999999) / 1000000 + 1;
	p->tick_timer = loop_timer_add(l, delay_ms, on_tick, p);
	if (p->tick_timer < 0) {
		log_err("device %s: no timer slot for the beam", p->dev->conf->name);
		p->tick_timer = 0;
		return;
	}
	p->tick_due = due;
}

static void on_tick(struct loop *l, void *arg)
{
	struct camera_priv *p = arg;

	p->tick_timer = 0;
	/* Edges queued before the deadline count first. */
	if (drain(p) < 0)
		return;
	refresh_wall_offset(p);
	beam_tick(&p->beam, beam_now(p, clock_ns(CLOCK_MONOTONIC)));
	arm(p);
}

static void on_readable(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct camera_priv *p = arg;
	char why[160];

	if (drain(p) < 0)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* Hung up without a read error: gone all the same (and would spin). */
		snprintf(why, sizeof(why), "chip %s: line hang-up (chip vanished)",
			 p->dev->conf->chip);
		p->dev->st.errors++;
		camera_lost(p, why);
		return;
	}
	arm(p);
}

/* Request line @i for events; fills @why on failure. Returns 0 or -1. */
static int open_line(struct camera_priv *p, int i, char *why, size_t whysz)
{
	const struct device_conf *c = p->dev->conf;
	int off = i == 0 ? c->line_a : c->line_b;
	int fd, v, fl;

	if (off < 0) {
		snprintf(why, whysz, "no line %s configured", line_name(i));
		return -1;
	}
	p->line[i] = gpiod_chip_get_line(p->chip, (unsigned)off);
	if (!p->line[i]) {
		snprintf(why, whysz, "chip %s: no line %d: %s", c->chip, off, strerror(errno));
		return -1;
	}
	if (gpiod_line_request_both_edges_events(p->line[i], CAMERA_CONSUMER) < 0) {
		snprintf(why, whysz, "chip %s: cannot request line %d: %s", c->chip, off,
			 strerror(errno));
		p->line[i] = NULL;
		return -1;
	}
	fd = gpiod_line_event_get_fd(p->line[i]);
	v = gpiod_line_get_value(p->line[i]);
	if (fd < 0 || v < 0) {
		snprintf(why, whysz, "chip %s: cannot read line %d: %s", c->chip, off,
			 strerror(errno));
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(why, whysz, "chip %s line %d: %s", c->chip, off, strerror(errno));
		return -1;
	}
	fl = loop_add_fd(p->dev->host->loop, fd, EPOLLIN, on_readable, p);
	if (fl < 0) {
		snprintf(why, whysz, "chip %s line %d: cannot watch: %s", c->chip, off,
			 strerror(-fl));
		return -1;
	}
	p->fd[i] = fd;
	/* The level now is the beam's starting point (high = blocked unless active low). */
	if ((v == 1) != c->active_low)
		beam_set_level(&p->beam, i, true, beam_now(p, clock_ns(CLOCK_MONOTONIC)));
	return 0;
}

static void camera_try_open(struct loop *l, void *arg)
{
	struct camera_priv *p = arg;
	struct device *d = p->dev;
	char why[200];

	p->retry_timer = 0;
	p->chip = gpiod_chip_open_lookup(d->conf->chip);
	if (!p->chip) {
		snprintf(why, sizeof(why), "cannot open chip %s: %s", d->conf->chip,
			 strerror(errno));
		camera_lost(p, why);
		return;
	}
	beam_reset(p);
	refresh_wall_offset(p);
	for (int i = 0; i < p->nlines; i++) {
		if (open_line(p, i, why, sizeof(why)) < 0) {
			camera_lost(p, why);
			return;
		}
	}
	p->backoff_ms = CAMERA_BACKOFF_MIN_MS;
	set_state(p, DEVICE_OPEN);
	if (p->nlines == 2)
		log_info("device %s: counting on chip %s lines %d and %d", d->conf->name,
			 d->conf->chip, d->conf->line_a, d->conf->line_b);
	else
		log_info("device %s: counting on chip %s line %d", d->conf->name, d->conf->chip,
			 d->conf->line_a);
	if (p->announced_down) {
		p->announced_down = false;
		d->st.reconnects++;
		emit_state_alert(p, "device_up", NULL);
	}
	arm(p);
}

static int camera_start(struct device *d)
{
	struct camera_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	d->priv = p;
	p->dev = d;
	p->fd[0] = p->fd[1] = -1;
	p->nlines = d->conf->line_b >= 0 ? 2 : 1;
	p->backoff_ms = CAMERA_BACKOFF_MIN_MS;
	beam_reset(p);
	d->st.state = DEVICE_DOWN;
	d->st.state_since_ms = now_wall_ms();
	camera_try_open(d->host->loop, p);
	return 0;
}

static void camera_stop(struct device *d)
{
	struct camera_priv *p = d->priv;

	if (!p)
		return;
	release(p);
	loop_timer_del(d->host->loop, p->retry_timer);
	free(p);
	d->priv = NULL;
}

const struct device_ops camera_ops = {
	.kind = "camera",
	.start = camera_start,
	.stop = camera_stop,
};

void camera_get_stats(const struct device *d, struct camera_stats *st)
{
	const struct camera_priv *p = d->priv;
	int64_t sec = clock_ns(CLOCK_MONOTONIC) / 1000000000LL;
	uint64_t sum = 0;

	memset(st, 0, sizeof(*st));
	if (!p)
		return;
	st->open = p->chip != NULL;
	st->two_lines = p->beam.conf.two_lines;
	for (int i = 0; i < p->nlines; i++) {
		st->blocked[i] = p->beam.l[i].stable;
		st->alert_blocked[i] = p->beam.l[i].block_alerted;
		st->alert_chatter[i] = p->beam.l[i].chattering;
	}
	st->counts = p->beam.counts;
	st->alerts = p->alerts;
	st->last_edge_ms = p->last_edge_ms;
	for (size_t i = 0; i < RATE_SLOTS; i++) {
		if (p->rate_sec[i] > sec - RATE_SLOTS && p->rate_sec[i] <= sec)
			sum += p->rate_n[i];
	}
	st->edges_1m = (double)sum / RATE_SLOTS;
}
