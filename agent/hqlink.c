/*
 * hqlink: MQTT to HQ from our own loop. See hqlink.h.
 *
 * One connection attempt = one fresh libmosquitto instance. Library
 * callbacks only record what happened (flags, counters); anything that
 * frees the instance runs after the library call returns (never free an
 * object inside its own callback).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <mosquitto.h>

#include "batch.h"
#include "hqlink.h"
#include "log.h"
#include "util.h"
#include "version.h"

#define HQ_MAX_TYPES 16
#define HQ_CONNACK_TIMEOUT_MS 15000
#define HQ_TOPIC_MAX 256
#define HQ_PASSWORD_MAX 256

/* Event types the batcher always looks at after a (re)connect. */
static const char *const known_types[] = {
	"ack",	  "sale",     "alert", "integrity", "label",
	"screen", "footfall", "visit", "rule",	    "markdown",
};

struct inflight {
	int mid;
	bool acked; /* PUBACK seen, its delete not committed yet: slot still held */
	char type[BATCH_TYPE_MAX];
	int64_t first;
	int64_t last;
	size_t count;
};

struct type_cursor {
	char type[BATCH_TYPE_MAX];
	int64_t after; /* highest seq handed to the broker on this connection */
	bool pending; /* there may be rows past `after` */
};

struct hqlink {
	const struct config *conf;
	struct loop *loop;
	struct store *store;
	int64_t started_ms;

	struct mosquitto *mosq;
	int fd; /* registered with the loop, or -1 */
	uint32_t fd_events;
	int connect_timer;
	int misc_timer;
	int connack_timer;
	unsigned backoff_ms;
	uint32_t rng;

	/* Set by library callbacks, acted on after the library call returns. */
	bool lost;
	int lost_rc;

	struct hqlink_stats st;
	char last_logged[256];
	struct inflight *inflight; /* conf->hq.max_inflight slots */
	size_t n_inflight;
	struct type_cursor types[HQ_MAX_TYPES];
	size_t n_types;
	struct batch batch;
	char client_id[80];
	char topic_status[HQ_TOPIC_MAX];
	char topic_events[HQ_TOPIC_MAX]; /* ".../events/" : the type is appended */
	char topic_acks[HQ_TOPIC_MAX];
	/* What HQ sends down: subscribed on every connect (QoS 1). */
	char topic_sub[6][HQ_TOPIC_MAX];
	hqlink_message_cb on_msg;
	void *on_msg_arg;
};

static void hq_connect(struct loop *l, void *arg);
static void hq_teardown(struct hqlink *h, const char *why);

const char *hq_state_name(enum hq_state s)
{
	switch (s) {
	case HQ_CONNECTING:
		return "connecting";
	case HQ_CONNECTED:
		return "connected";
	case HQ_ERROR:
		return "error";
	default:
		return "disconnected";
	}
}

void hqlink_lib_init(void)
{
	mosquitto_lib_init();
}

void hqlink_lib_cleanup(void)
{
	mosquitto_lib_cleanup();
}

static void set_state(struct hqlink *h, enum hq_state s)
{
	if (h->st.state == s)
		return;
	h->st.state = s;
	h->st.since_ms = now_wall_ms();
}

static void set_error(struct hqlink *h, const char *msg)
{
	if (!msg || !msg[0] || msg == h->st.last_error)
		return;
	str_copy(h->st.last_error, sizeof(h->st.last_error), msg);
}

static uint32_t next_rand(struct hqlink *h)
{
	/* xorshift32: jitter only, not security. */
	uint32_t x = h->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	h->rng = x ? x : 0x9e3779b9u;
	return h->rng;
}

static struct type_cursor *cursor_for(struct hqlink *h, const char *type)
{
	for (size_t i = 0; i < h->n_types; i++) {
		if (!strcmp(h->types[i].type, type))
			return &h->types[i];
	}
	if (h->n_types == HQ_MAX_TYPES) {
		log_err("hq: more than %d event types", HQ_MAX_TYPES);
		return NULL;
	}
	if (str_copy(h->types[h->n_types].type, BATCH_TYPE_MAX, type) < 0)
		return NULL;
	h->types[h->n_types].after = 0;
	h->types[h->n_types].pending = true;
	return &h->types[h->n_types++];
}

void hqlink_note_type(struct hqlink *h, const char *type)
{
	struct type_cursor *c = cursor_for(h, type);

	if (c)
		c->pending = true;
}

static void add_type_cb(void *arg, const char *type, uint64_t rows, int64_t min_seq)
{
	hqlink_note_type(arg, type);
}

/* Build the status payload {"store","state","version","started_at","ts"}. */
static int status_payload(struct hqlink *h, const char *state, char *buf, size_t sz)
{
	char started[TS_BUFSZ], ts[TS_BUFSZ];
	int n;

	ts_format(h->started_ms, started);
	ts_format(now_wall_ms(), ts);
	n = snprintf(buf, sz,
		     "{\"store\":\"%s\",\"state\":\"%s\",\"version\":\"%s\","
		     "\"started_at\":\"%s\",\"ts\":\"%s\"}",
		     h->conf->store_id, state, SHELFD_VERSION, started, ts);
	return (n < 0 || (size_t)n >= sz) ? -EMSGSIZE : n;
}

/* Register / update the socket with the loop to match what the library wants. */
static void hq_io_cb(struct loop *l, int fd, uint32_t events, void *arg);

static void sync_fd(struct hqlink *h)
{
	int fd = h->mosq ? mosquitto_socket(h->mosq) : -1;
	uint32_t want;

	if (fd != h->fd) {
		if (h->fd >= 0)
			loop_del_fd(h->loop, h->fd);
		h->fd = -1;
		if (fd >= 0) {
			want = EPOLLIN | (mosquitto_want_write(h->mosq) ? EPOLLOUT : 0);
			if (loop_add_fd(h->loop, fd, want, hq_io_cb, h) == 0) {
				h->fd = fd;
				h->fd_events = want;
			}
		}
		return;
	}
	if (fd < 0)
		return;
	want = EPOLLIN | (mosquitto_want_write(h->mosq) ? EPOLLOUT : 0);
	if (want != h->fd_events && loop_mod_fd(h->loop, fd, want) == 0)
		h->fd_events = want;
}

static void schedule_connect(struct hqlink *h)
{
	unsigned delay = h->backoff_ms;

	if (h->connect_timer > 0)
		return;
	/* Full jitter on the upper half: delay in [b/2, b]. */
	delay = delay / 2 + next_rand(h) % (delay / 2 + 1);
	h->connect_timer = loop_timer_add(h->loop, delay, hq_connect, h);
	h->backoff_ms *= 2;
	if (h->backoff_ms > h->conf->hq.backoff_max_ms)
		h->backoff_ms = h->conf->hq.backoff_max_ms;
	log_debug("hq: reconnecting in %u ms", delay);
}

/* Forget the connection: destroy the instance, drop in-flight, retry later. */
static void hq_teardown(struct hqlink *h, const char *why)
{
	if (why)
		set_error(h, why);
	if (h->fd >= 0) {
		loop_del_fd(h->loop, h->fd);
		h->fd = -1;
	}
	loop_timer_del(h->loop, h->misc_timer);
	h->misc_timer = 0;
	loop_timer_del(h->loop, h->connack_timer);
	h->connack_timer = 0;
	if (h->mosq) {
		mosquitto_destroy(h->mosq);
		h->mosq = NULL;
	}
	/* Warn on a change; repeats of the same failure while retrying are debug. */
	if (h->st.state == HQ_CONNECTED) {
		log_warn("hq: connection lost%s%s", why ? ": " : "", why ? why : "");
	} else if (why && strcmp(why, h->last_logged)) {
		log_warn("hq: cannot connect to %s:%d: %s (retrying with backoff)",
			 h->conf->hq.host, h->conf->hq.port, why);
	} else if (why) {
		log_debug("hq: still cannot connect: %s", why);
	}
	str_copy(h->last_logged, sizeof(h->last_logged), why ? why : "");
	/* Unacked batches will be sent again from the outbox after reconnecting. */
	h->n_inflight = 0;
	h->st.inflight = 0;
	h->lost = false;
	set_state(h, why ? HQ_ERROR : HQ_DISCONNECTED);
	schedule_connect(h);
}

/* Act on what callbacks recorded during a library call. */
static void after_lib_call(struct hqlink *h, int rc, const char *what)
{
	char why[256];

	if (h->lost) {
		snprintf(why, sizeof(why), "%s",
			 h->st.last_error[0] && h->st.state != HQ_CONNECTED
				 ? h->st.last_error
				 : "disconnected by the broker or network");
		if (h->lost_rc && h->st.state == HQ_CONNECTED)
			snprintf(why, sizeof(why), "connection lost (%s)",
				 mosquitto_strerror(h->lost_rc));
		hq_teardown(h, why);
		return;
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		if (rc == MOSQ_ERR_ERRNO)
			snprintf(why, sizeof(why), "%s: %s", what, strerror(errno));
		else if (rc == MOSQ_ERR_TLS && h->st.last_error[0])
			snprintf(why, sizeof(why), "%s", h->st.last_error);
		else
			snprintf(why, sizeof(why), "%s: %s", what, mosquitto_strerror(rc));
		hq_teardown(h, why);
		return;
	}
	sync_fd(h);
}

static void hq_io_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct hqlink *h = arg;
	int rc = MOSQ_ERR_SUCCESS;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		rc = mosquitto_loop_read(h->mosq, 1);
		after_lib_call(h, rc, "read");
		if (!h->mosq)
			return;
	}
	if (events & EPOLLOUT) {
		rc = mosquitto_loop_write(h->mosq, 1);
		after_lib_call(h, rc, "write");
	}
}

static void misc_tick(struct loop *l, void *arg)
{
	struct hqlink *h = arg;
	int rc;
	unsigned period = (unsigned)h->conf->hq.keepalive * 1000u / 4u;

	h->misc_timer = 0;
	if (!h->mosq)
		return;
	rc = mosquitto_loop_misc(h->mosq);
	after_lib_call(h, rc, "keepalive");
	if (!h->mosq)
		return;
	if (period > 5000)
		period = 5000;
	h->misc_timer = loop_timer_add(l, period ? period : 1000, misc_tick, h);
}

static void connack_timeout(struct loop *l, void *arg)
{
	struct hqlink *h = arg;

	h->connack_timer = 0;
	if (h->st.state != HQ_CONNECTED)
		hq_teardown(h, h->st.last_error[0] ? h->st.last_error
						   : "no CONNACK from the broker within 15 s");
}

/* --- library callbacks: record only --- */

static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct hqlink *h = arg;
	char payload[512];
	int n;

	if (rc != 0) {
		char why[200];

		snprintf(why, sizeof(why), "broker refused the connection: %s",
			 mosquitto_connack_string(rc));
		set_error(h, why);
		h->lost = true;
		return;
	}
	set_state(h, HQ_CONNECTED);
	h->st.connects++;
	h->st.last_error[0] = '\0';
	h->backoff_ms = h->conf->hq.backoff_min_ms;
	loop_timer_del(h->loop, h->connack_timer);
	h->connack_timer = 0;
	log_info("hq: connected to %s:%d", h->conf->hq.host, h->conf->hq.port);
	n = status_payload(h, "online", payload, sizeof(payload));
	if (n > 0)
		mosquitto_publish(mosq, NULL, h->topic_status, n, payload, 1, true);
	/*
	 * The session is persistent (clean_session off): the broker keeps
	 * these subscriptions and queues what HQ sends while we are away.
	 * Subscribing again on every connect covers a broker that lost it.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(h->topic_sub); i++)
		mosquitto_subscribe(mosq, NULL, h->topic_sub[i], 1);
	/* Resend everything still in the outbox, from the start of each type. */
	for (size_t i = 0; i < ARRAY_SIZE(known_types); i++)
		hqlink_note_type(h, known_types[i]);
	store_foreach_type(h->store, add_type_cb, h);
	for (size_t i = 0; i < h->n_types; i++) {
		h->types[i].after = 0;
		h->types[i].pending = true;
	}
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	struct hqlink *h = arg;

	h->lost = true;
	h->lost_rc = rc;
}

static void on_publish(struct mosquitto *mosq, void *arg, int mid)
{
	struct hqlink *h = arg;

	for (size_t i = 0; i < h->n_inflight; i++) {
		struct inflight *f = &h->inflight[i];
		int rc;

		if (f->mid != mid || f->acked)
			continue;
		rc = store_delete_range(h->store, f->type, f->first, f->last);
		if (rc < 0)
			log_err("hq: could not delete delivered %s %lld..%lld", f->type,
				(long long)f->first, (long long)f->last);
		h->st.acked += f->count;
		h->st.messages_acked++;
		/*
		 * Keep the slot until the delete is committed (hqlink_committed):
		 * what a crash can make us send twice is then bounded by the
		 * window, max_inflight messages, acked or not.
		 */
		f->acked = true;
		return;
	}
	/* The status message, or a PUBACK from before a reconnect: nothing to do. */
}

/*
 * A message from HQ. libmosquitto has already sent its PUBACK (it cannot
 * delay it); the handler validates, commits and appends its own ack.
 */
static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m)
{
	struct hqlink *h = arg;

	h->st.received++;
	if (h->on_msg && m->topic)
		h->on_msg(h->on_msg_arg, m->topic, m->payload ? m->payload : "",
			  m->payloadlen > 0 ? (size_t)m->payloadlen : 0);
}

static void on_log(struct mosquitto *mosq, void *arg, int level, const char *str)
{
	struct hqlink *h = arg;

	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
		set_error(h, str);
		log_debug("hq: libmosquitto: %s", str);
	}
}

/* Read the password file: first line, trailing newline stripped. */
static int read_password(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sz - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static void hq_connect(struct loop *l, void *arg)
{
	struct hqlink *h = arg;
	const struct hq_conf *hc = &h->conf->hq;
	char payload[512], why[300];
	int rc, n;

	h->connect_timer = 0;
	h->lost = false;
	h->lost_rc = 0;
	h->mosq = mosquitto_new(h->client_id, false, h);
	if (!h->mosq) {
		hq_teardown(h, "mosquitto_new failed (out of memory)");
		return;
	}
	mosquitto_connect_callback_set(h->mosq, on_connect);
	mosquitto_disconnect_callback_set(h->mosq, on_disconnect);
	mosquitto_publish_callback_set(h->mosq, on_publish);
	mosquitto_message_callback_set(h->mosq, on_message);
	mosquitto_log_callback_set(h->mosq, on_log);
	mosquitto_int_option(h->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* We keep our own window; the library must not queue behind it. */
	mosquitto_max_inflight_messages_set(h->mosq, 0);
	n = status_payload(h, "offline", payload, sizeof(payload));
	if (n > 0)
		mosquitto_will_set(h->mosq, h->topic_status, n, payload, 1, true);
	if (hc->tls_ca[0]) {
		rc = mosquitto_tls_set(h->mosq, hc->tls_ca, NULL,
				       hc->tls_cert[0] ? hc->tls_cert : NULL,
				       hc->tls_key[0] ? hc->tls_key : NULL, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			snprintf(why, sizeof(why), "TLS set-up (ca %s, cert %s): %s", hc->tls_ca,
				 hc->tls_cert, mosquitto_strerror(rc));
			hq_teardown(h, why);
			return;
		}
	}
	if (hc->username[0]) {
		char pw[HQ_PASSWORD_MAX] = "";

		if (hc->password_file[0]) {
			rc = read_password(hc->password_file, pw, sizeof(pw));
			if (rc < 0) {
				snprintf(why, sizeof(why), "cannot read password_file %s: %s",
					 hc->password_file, strerror(-rc));
				hq_teardown(h, why);
				return;
			}
		}
		rc = mosquitto_username_pw_set(h->mosq, hc->username, pw[0] ? pw : NULL);
		memset(pw, 0, sizeof(pw));
		if (rc != MOSQ_ERR_SUCCESS) {
			hq_teardown(h, "username/password rejected by libmosquitto");
			return;
		}
	}
	/*
	 * While retrying after a failure the state stays "error" (with the last
	 * error), so "since" tells how long HQ has been unreachable.
	 */
	if (h->st.state != HQ_ERROR)
		set_state(h, HQ_CONNECTING);
	rc = mosquitto_connect_async(h->mosq, hc->host, hc->port, hc->keepalive);
	if (rc != MOSQ_ERR_SUCCESS) {
		after_lib_call(h, rc, "connect"); /* translates rc and tears down */
		return;
	}
	h->connack_timer = loop_timer_add(l, HQ_CONNACK_TIMEOUT_MS, connack_timeout, h);
	h->misc_timer = loop_timer_add(l, 1000, misc_tick, h);
	sync_fd(h);
}

int hqlink_new(const struct config *conf, struct loop *loop, struct store *store,
	       int64_t started_ms, struct hqlink **out)
{
	struct hqlink *h;
	int n;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->inflight = calloc(conf->hq.max_inflight, sizeof(*h->inflight));
	if (!h->inflight) {
		free(h);
		return -ENOMEM;
	}
	h->conf = conf;
	h->loop = loop;
	h->store = store;
	h->started_ms = started_ms;
	h->fd = -1;
	h->backoff_ms = conf->hq.backoff_min_ms ? conf->hq.backoff_min_ms : 500;
	h->rng = (uint32_t)now_wall_ms() ^ ((uint32_t)getpid() << 16);
	if (!h->rng)
		h->rng = 1;
	batch_init(&h->batch);
	snprintf(h->client_id, sizeof(h->client_id), "shelfd-%s", conf->store_id);
	n = snprintf(h->topic_status, sizeof(h->topic_status), "%s/%s/status",
		     conf->hq.topic_prefix, conf->store_id);
	if (n < 0 || (size_t)n >= sizeof(h->topic_status))
		goto err_inval;
	n = snprintf(h->topic_events, sizeof(h->topic_events), "%s/%s/events/",
		     conf->hq.topic_prefix, conf->store_id);
	if (n < 0 || (size_t)n + BATCH_TYPE_MAX >= sizeof(h->topic_events))
		goto err_inval;
	n = snprintf(h->topic_acks, sizeof(h->topic_acks), "%s/%s/acks", conf->hq.topic_prefix,
		     conf->store_id);
	if (n < 0 || (size_t)n >= sizeof(h->topic_acks))
		goto err_inval;
	for (size_t i = 0; i < ARRAY_SIZE(h->topic_sub); i++) {
		static const char *const what[] = {"prices", "cmd", "recs"};

		n = snprintf(h->topic_sub[i], HQ_TOPIC_MAX, "%s/%s/%s", conf->hq.topic_prefix,
			     i < 3 ? conf->store_id : "fleet", what[i % 3]);
		if (n < 0 || n >= HQ_TOPIC_MAX)
			goto err_inval;
	}
	for (size_t i = 0; i < ARRAY_SIZE(known_types); i++)
		hqlink_note_type(h, known_types[i]);
	*out = h;
	return 0;

err_inval:
	batch_free(&h->batch);
	free(h->inflight);
	free(h);
	return -EINVAL;
}

void hqlink_start(struct hqlink *h)
{
	set_state(h, HQ_CONNECTING);
	h->connect_timer = loop_timer_add(h->loop, 0, hq_connect, h);
}

/* Publish batches while the window has room. */
void hqlink_flush(struct hqlink *h)
{
	const struct hq_conf *hc = &h->conf->hq;
	char topic[HQ_TOPIC_MAX];
	bool progress = true;
	int rc;

	if (!h->mosq || h->st.state != HQ_CONNECTED)
		return;
	while (progress && h->n_inflight < hc->max_inflight) {
		progress = false;
		/* Round-robin over types, in the order of known_types (sales first). */
		for (size_t i = 0; i < h->n_types && h->n_inflight < hc->max_inflight; i++) {
			struct type_cursor *c = &h->types[i];
			struct inflight *f;
			int mid = 0, n;

			if (!c->pending)
				continue;
			if (!strcmp(c->type, "ack"))
				n = batch_build_single(h->store, c->type, c->after, &h->batch);
			else
				n = batch_build(h->store, h->conf->store_id, c->type, c->after,
						hc->batch_max_events, hc->batch_max_bytes,
						&h->batch);
			if (n < 0) {
				log_err("hq: cannot read the outbox (%d)", n);
				return;
			}
			if (n == 0) {
				c->pending = false;
				continue;
			}
			if (!strcmp(c->type, "ack"))
				str_copy(topic, sizeof(topic), h->topic_acks);
			else
				snprintf(topic, sizeof(topic), "%s%s", h->topic_events, c->type);
			rc = mosquitto_publish(h->mosq, &mid, topic, (int)h->batch.payload.len,
					       h->batch.payload.buf, 1, false);
			if (rc != MOSQ_ERR_SUCCESS) {
				after_lib_call(h, rc, "publish");
				return;
			}
			f = &h->inflight[h->n_inflight++];
			f->mid = mid;
			f->acked = false;
			str_copy(f->type, sizeof(f->type), c->type);
			f->first = h->batch.first_seq;
			f->last = h->batch.last_seq;
			f->count = h->batch.count;
			c->after = h->batch.last_seq;
			h->st.published += h->batch.count;
			h->st.inflight = (unsigned)h->n_inflight;
			progress = true;
		}
	}
	/* Push the bytes out now rather than on the next wakeup (latency). */
	if (mosquitto_want_write(h->mosq)) {
		rc = mosquitto_loop_write(h->mosq, 1);
		after_lib_call(h, rc, "write");
	} else {
		sync_fd(h);
	}
}

void hqlink_committed(struct hqlink *h)
{
	for (size_t i = 0; i < h->n_inflight;) {
		if (h->inflight[i].acked)
			h->inflight[i] = h->inflight[--h->n_inflight];
		else
			i++;
	}
	h->st.inflight = (unsigned)h->n_inflight;
}

void hqlink_shutdown(struct hqlink *h, int timeout_ms)
{
	char payload[512];
	int64_t deadline = now_mono_ms() + timeout_ms;
	int n;

	if (!h || !h->mosq)
		return;
	if (h->st.state == HQ_CONNECTED) {
		n = status_payload(h, "offline", payload, sizeof(payload));
		if (n > 0)
			mosquitto_publish(h->mosq, NULL, h->topic_status, n, payload, 1, true);
		mosquitto_disconnect(h->mosq);
		/* Blocking is fine here: we are exiting. Bounded by the deadline. */
		while (mosquitto_want_write(h->mosq) && now_mono_ms() < deadline) {
			struct pollfd p = {.fd = mosquitto_socket(h->mosq), .events = POLLOUT};

			if (p.fd < 0 || poll(&p, 1, 100) < 0)
				break;
			if (mosquitto_loop_write(h->mosq, 1) != MOSQ_ERR_SUCCESS)
				break;
		}
	}
	if (h->fd >= 0) {
		loop_del_fd(h->loop, h->fd);
		h->fd = -1;
	}
	mosquitto_destroy(h->mosq);
	h->mosq = NULL;
	set_state(h, HQ_DISCONNECTED);
}

void hqlink_free(struct hqlink *h)
{
	if (!h)
		return;
	loop_timer_del(h->loop, h->connect_timer);
	loop_timer_del(h->loop, h->misc_timer);
	loop_timer_del(h->loop, h->connack_timer);
	if (h->fd >= 0)
		loop_del_fd(h->loop, h->fd);
	if (h->mosq)
		mosquitto_destroy(h->mosq);
	batch_free(&h->batch);
	free(h->inflight);
	free(h);
}

void hqlink_set_message_cb(struct hqlink *h, hqlink_message_cb cb, void *arg)
{
	h->on_msg = cb;
	h->on_msg_arg = arg;
}

void hqlink_get_stats(const struct hqlink *h, struct hqlink_stats *st)
{
	*st = h->st;
}
