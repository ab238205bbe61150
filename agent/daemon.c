/*
 * daemon: wiring and the control-socket verbs. See daemon.h.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "daemon.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define EVENT_BODY_MAX (1024 * 1024)
#define COMMIT_WINDOW_MS 10 /* see before_sleep() */
#define COMMIT_MAX_EVENTS 2000
#define COMMIT_LOAD_RATE 2000 /* events/s */

/* mkdir -p with @mode for the missing components. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len;

	if (str_copy(tmp, sizeof(tmp), path) < 0)
		return -ENAMETOOLONG;
	len = strlen(tmp);
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = '\0';
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void shelfd_note_type(struct shelfd *d, const char *type)
{
	for (size_t i = 0; i < d->n_turn_types; i++) {
		if (!strcmp(d->turn_types[i], type))
			return;
	}
	if (d->n_turn_types < ARRAY_SIZE(d->turn_types))
		str_copy(d->turn_types[d->n_turn_types++], sizeof(d->turn_types[0]), type);
	else
		hqlink_note_type(d->hq, type);
}

/* Keep the few fields `shelfctl events` shows; formatted only when asked. */
static void remember_fields(struct shelfd *d, int64_t seq, int64_t ts_ms, const char *type,
			    const char *source, const char *what, const char *ref, int64_t total)
{
	struct recent_event *r = &d->recent[d->recent_head];

	r->seq = seq;
	r->ts_ms = ts_ms;
	str_copy(r->type, sizeof(r->type), type);
	str_copy(r->source, sizeof(r->source), source);
	str_copy(r->what, sizeof(r->what), what);
	str_copy(r->ref, sizeof(r->ref), ref);
	r->total = total;
	d->recent_head = (d->recent_head + 1) % RECENT_MAX;
	if (d->recent_n < RECENT_MAX)
		d->recent_n++;
}

static void remember(struct shelfd *d, int64_t seq, int64_t ts_ms, const char *type,
		     const char *source, const cJSON *body)
{
	bool sale = !strcmp(type, "sale");
	const char *what = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(body, sale ? "kind" : "alert"));
	const char *ref = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(body, sale ? "receipt" : "device"));
	int64_t total = 0;

	if (sale)
		json_get_int(body, "total", &total);
	remember_fields(d, seq, ts_ms, type, source, what ? what : "?",
			ref ? ref : (sale ? "?" : ""), total);
}

/*
 * The event text is {"ts":..,"type":..,"source":..,<body members>}, written
 * straight into one reused buffer (this runs for every sale: no per-event
 * allocation beyond SQLite's own).
 */
/* Start an event's text: {"ts":..,"type":..,"source":.. and a comma if members follow. */
static int event_open(struct dynbuf *b, int64_t ts_ms, const char *type, const char *source,
		      bool members)
{
	char ts[TS_BUFSZ];
	int rc;

	ts_format(ts_ms, ts);
	dynbuf_reset(b);
	rc = dynbuf_adds(b, "{\"ts\":\"");
	if (!rc)
		rc = dynbuf_adds(b, ts);
	if (!rc)
		rc = dynbuf_adds(b, "\",\"type\":");
	if (!rc)
		rc = dynbuf_add_json_str(b, type);
	if (!rc)
		rc = dynbuf_adds(b, ",\"source\":");
	if (!rc)
		rc = dynbuf_add_json_str(b, source);
	if (!rc && members)
		rc = dynbuf_add(b, ",", 1);
	return rc;
}

int shelfd_emit(struct shelfd *d, const char *source, const char *type, cJSON *body, int64_t ts_ms)
{
	struct dynbuf *b = &d->evbuf;
	int64_t seq;
	int rc;

	if (!cJSON_IsObject(body))
		return -EINVAL;
	if (!ts_ms)
		ts_ms = now_wall_ms();
	rc = event_open(b, ts_ms, type, source, body->child != NULL);
	if (!rc)
		rc = json_write(b, body, true);
	if (!rc)
		rc = dynbuf_add(b, "}", 1);
	if (rc < 0) {
		log_warn("event from %s dropped: cannot serialize (%s)", source, strerror(-rc));
		d->events_lost++;
		return rc;
	}
	rc = store_append(d->store, type, b->buf, b->len, ts_ms, &seq);
	if (rc < 0) {
		d->events_lost++;
		return rc;
	}
	d->n_uncommitted++;
	shelfd_note_type(d, type);
	remember(d, seq, ts_ms, type, source, body);
	shelfd_act_event(d, source, type, body, NULL, 0, ts_ms);
	return 0;
}

static int host_emit(void *arg, struct device *dev, const char *type, cJSON *body, int64_t ts_ms)
{
	return shelfd_emit(arg, dev->conf->name, type, body, ts_ms);
}

/* Price integrity for each recorded sale line (cheap for SKUs without labels). */
static void host_sale_line(void *arg, struct device *dev, const char *receipt, const char *sku,
			   int64_t unit_price)
{
	struct shelfd *d = arg;

	labels_check_sale_line(d->labels, dev->conf->name, receipt, sku, unit_price);
}

/* A POS record is in: what the store does about it (recommendations, markdown). */
static void host_sale_done(void *arg, struct device *dev, const struct pos_summary *sum)
{
	shelfd_act_sale(arg, dev, sum);
}

/* The hot path for sales: the body members arrive as text (pos.c wrote them). */
static int host_emit_text(void *arg, struct device *dev, const char *type, const char *members,
			  size_t len, int64_t ts_ms, const char *what, const char *ref,
			  int64_t total)
{
	struct shelfd *d = arg;
	struct dynbuf *b = &d->evbuf;
	const char *source = dev->conf->name;
	int64_t seq;
	int rc;

	if (!ts_ms)
		ts_ms = now_wall_ms();
	rc = event_open(b, ts_ms, type, source, len > 0);
	if (!rc)
		rc = dynbuf_add(b, members, len);
	if (!rc)
		rc = dynbuf_add(b, "}", 1);
	if (rc < 0) {
		log_warn("event from %s dropped: too large (%s)", source, strerror(-rc));
		d->events_lost++;
		return rc;
	}
	rc = store_append(d->store, type, b->buf, b->len, ts_ms, &seq);
	if (rc < 0) {
		d->events_lost++;
		return rc;
	}
	d->n_uncommitted++;
	shelfd_note_type(d, type);
	remember_fields(d, seq, ts_ms, type, source, what, ref, total);
	if (what && !strcmp(what, "sale") && !strcmp(type, "sale"))
		shelfd_sensing_receipt(d, ts_ms);
	shelfd_act_event(d, source, type, NULL, members, len, ts_ms);
	return 0;
}

/* Once per loop turn, before sleeping: commit, then publish. */
static int commit_now(struct shelfd *d)
{
	int rc;

	loop_timer_del(d->loop, d->commit_timer);
	d->commit_timer = 0;
	d->last_commit_ms = now_mono_ms();
	d->n_uncommitted = 0;
	shelfd_act_flush(d);
	rc = store_commit(d->store);
	if (rc < 0) {
		log_err("store: commit failed; events of this turn are lost");
	} else {
		struct store_stats st;

		for (size_t i = 0; i < d->n_turn_types; i++)
			hqlink_note_type(d->hq, d->turn_types[i]);
		/* The quota pass appends its own alert inside the commit. */
		store_get_stats(d->store, &st);
		if (st.dropped != d->dropped_seen) {
			d->dropped_seen = st.dropped;
			hqlink_note_type(d->hq, "alert");
		}
	}
	d->n_turn_types = 0;
	hqlink_committed(d->hq);
	return rc;
}

int shelfd_commit(struct shelfd *d)
{
	return commit_now(d);
}

static void commit_due(struct loop *l, void *arg)
{
	struct shelfd *d = arg;

	d->commit_timer = 0; /* before_sleep runs right after and commits */
}

/*
 * Once per loop turn, before sleeping: commit, then publish.
 *
 * Group commit with a window: normally everything of the turn is committed
 * at once, so a lone sale (or a PUBACK's delete) is durable and on its way
 * within the turn it arrived in. Only in a burst (events arriving at
 * COMMIT_LOAD_RATE/s or more since the last commit) are commits spaced up to
 * COMMIT_WINDOW_MS apart (or COMMIT_MAX_EVENTS events), so one fsync covers
 * hundreds of sales instead of the dozen a pty or UART buffer holds per
 * turn. Nothing is acknowledged to anyone before the commit.
 */
static void before_sleep(struct loop *l, void *arg)
{
	struct shelfd *d = arg;

	if (store_dirty(d->store)) {
		int64_t now = now_mono_ms();
		int64_t due = d->last_commit_ms + COMMIT_WINDOW_MS;
		int64_t dt = now - d->last_commit_ms;
		/* Events arriving at COMMIT_LOAD_RATE/s or more: a burst. */
		bool burst =
			(int64_t)d->n_uncommitted * 1000 >= COMMIT_LOAD_RATE * (dt > 0 ? dt : 1);

		if (!burst || d->n_uncommitted >= COMMIT_MAX_EVENTS || now >= due)
			commit_now(d);
		else if (!d->commit_timer)
			d->commit_timer = loop_timer_add(l, due - now, commit_due, d);
	}
	hqlink_flush(d->hq);
}

static void reload_config(struct shelfd *d)
{
	struct config *c = malloc(sizeof(*c));
	struct config_errors *errs = malloc(sizeof(*errs));

	if (!c || !errs) {
		log_err("reload: out of memory");
		goto out;
	}
	if (config_load(d->config_path, c, errs) < 0) {
		log_err("reload: %s has %zu error(s); keeping the running configuration",
			d->config_path, errs->n_total);
		for (size_t i = 0; i < errs->n; i++)
			log_err("reload: %s: %s", errs->e[i].path, errs->e[i].msg);
		goto out;
	}
	/* Only the log level is safe to change live; the rest needs a restart. */
	log_set_level(c->log_level);
	if (memcmp(&c->hq, &d->conf->hq, sizeof(c->hq)) || c->n_devices != d->conf->n_devices ||
	    strcmp(c->store_id, d->conf->store_id) || strcmp(c->data_dir, d->conf->data_dir))
		log_warn("reload: log_level applied; other changes need a restart");
	else
		log_info("reload: configuration re-read, log_level applied");
out:
	free(c);
	free(errs);
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct shelfd *d = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: shutting down", (int)si.ssi_signo);
			loop_stop(l);
			break;
		case SIGHUP:
			reload_config(d);
			break;
		default:
			break;
		}
	}
}

/* --- control verbs --- */

static void add_outbox_summary(struct shelfd *d, cJSON *o)
{
	struct store_stats st;

	store_get_stats(d->store, &st);
	cJSON_AddNumberToObject(o, "depth", (double)st.depth);
	cJSON_AddNumberToObject(o, "bytes", (double)st.bytes);
	if (st.oldest_ts_ms)
		cJSON_AddNumberToObject(o, "oldest_age_s",
					(double)((now_wall_ms() - st.oldest_ts_ms) / 1000));
	else
		cJSON_AddNullToObject(o, "oldest_age_s");
	cJSON_AddNumberToObject(o, "last_seq", (double)st.last_seq);
}

static int cmd_status(struct shelfd *d, cJSON *r)
{
	struct hqlink_stats hs;
	struct store_stats st;
	cJSON *hq, *ob, *dv;
	size_t ok = 0;

	hqlink_get_stats(d->hq, &hs);
	store_get_stats(d->store, &st);
	cJSON_AddStringToObject(r, "version", SHELFD_VERSION);
	cJSON_AddStringToObject(r, "store", d->conf->store_id);
	cJSON_AddNumberToObject(r, "pid", (double)getpid());
	cJSON_AddItemToObject(r, "started_at", json_ts_item(d->started_ms));
	cJSON_AddNumberToObject(r, "uptime_s", (double)((now_wall_ms() - d->started_ms) / 1000));
	hq = cJSON_AddObjectToObject(r, "hq");
	cJSON_AddStringToObject(hq, "state", hq_state_name(hs.state));
	cJSON_AddItemToObject(hq, "since", json_ts_item(hs.since_ms));
	cJSON_AddStringToObject(hq, "host", d->conf->hq.host);
	cJSON_AddNumberToObject(hq, "port", d->conf->hq.port);
	cJSON_AddBoolToObject(hq, "tls", d->conf->hq.tls_ca[0] != '\0');
	if (hs.last_error[0])
		cJSON_AddStringToObject(hq, "last_error", hs.last_error);
	else
		cJSON_AddNullToObject(hq, "last_error");
	cJSON_AddNumberToObject(hq, "published", (double)hs.published);
	cJSON_AddNumberToObject(hq, "acked", (double)hs.acked);
	cJSON_AddNumberToObject(hq, "inflight", hs.inflight);
	cJSON_AddNumberToObject(hq, "connects", (double)hs.connects);
	ob = cJSON_AddObjectToObject(r, "outbox");
	add_outbox_summary(d, ob);
	cJSON_AddNumberToObject(ob, "dropped", (double)st.dropped);
	cJSON_AddNumberToObject(ob, "commit_errors", (double)st.commit_errors);
	dv = cJSON_AddObjectToObject(r, "devices");
	for (size_t i = 0; i < d->n_devices; i++) {
		const struct device *dev = &d->devices[i];

		/* A screen is ok when it answers (or has had nothing to show yet). */
		if (dev->conf->kind == DEV_SCREEN)
			ok += strcmp(shelfd_act_screen_state(d, dev->conf->name), "failing") != 0;
		else
			ok += dev->st.state == DEVICE_OPEN;
	}
	cJSON_AddNumberToObject(dv, "total", (double)d->n_devices);
	cJSON_AddNumberToObject(dv, "ok", (double)ok);
	cJSON_AddNumberToObject(dv, "down", (double)(d->n_devices - ok));
	shelfd_prices_status(d, r);
	return 0;
}

static void add_esl_stats(const struct device *dev, cJSON *o)
{
	struct esl_stats st;
	char boot[16];

	esl_get_stats(dev, &st);
	snprintf(boot, sizeof(boot), "%08x", st.boot_id);
	cJSON_AddBoolToObject(o, "ready", st.ready);
	cJSON_AddStringToObject(o, "boot_id", boot);
	cJSON_AddNumberToObject(o, "station_labels", st.station_labels);
	cJSON_AddNumberToObject(o, "in_flight", st.in_flight);
	cJSON_AddNumberToObject(o, "images_sent", (double)st.images_sent);
	cJSON_AddNumberToObject(o, "image_bytes", (double)st.image_bytes);
	cJSON_AddNumberToObject(o, "delivered", (double)st.delivered);
	cJSON_AddNumberToObject(o, "failed", (double)st.failed);
	cJSON_AddNumberToObject(o, "already", (double)st.already);
	cJSON_AddNumberToObject(o, "resumes", (double)st.resumes);
	cJSON_AddNumberToObject(o, "busy", (double)st.busy);
	cJSON_AddNumberToObject(o, "station_resets", (double)st.station_resets);
	cJSON_AddNumberToObject(o, "link_failures", (double)st.link_failures);
	cJSON_AddNumberToObject(o, "checkins", (double)st.checkins);
	cJSON_AddNumberToObject(o, "flashes", (double)st.flashes);
	cJSON_AddNumberToObject(o, "pages", (double)st.pages);
	cJSON_AddNumberToObject(o, "bytes_out", (double)st.bytes_out);
	cJSON_AddNumberToObject(o, "bytes_in", (double)st.bytes_in);
	cJSON_AddNumberToObject(o, "garbage_in", (double)st.garbage_in);
	cJSON_AddNumberToObject(o, "crc_errors", (double)st.crc_errors);
}

static int cmd_devices(struct shelfd *d, cJSON *r)
{
	cJSON *arr = cJSON_AddArrayToObject(r, "devices");

	for (size_t i = 0; i < d->n_devices; i++) {
		const struct device *dev = &d->devices[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", dev->conf->name);
		cJSON_AddStringToObject(o, "kind", dev_kind_name(dev->conf->kind));
		if (dev->conf->kind == DEV_SCREEN) {
			/* Driven over HTTP (act.c): its health is `shelfctl screens`. */
			cJSON_AddStringToObject(o, "port", dev->conf->url);
			cJSON_AddStringToObject(o, "state",
						shelfd_act_screen_state(d, dev->conf->name));
		} else {
			cJSON_AddStringToObject(o, "port", dev->conf->port);
			cJSON_AddStringToObject(o, "state",
						!dev->ops		       ? "unsupported"
						: dev->st.state == DEVICE_OPEN ? "open"
									       : "down");
		}
		cJSON_AddItemToObject(o, "since", json_ts_item(dev->st.state_since_ms));
		cJSON_AddNumberToObject(o, "lines_ok", (double)dev->st.lines_ok);
		cJSON_AddNumberToObject(o, "errors", (double)dev->st.errors);
		cJSON_AddNumberToObject(o, "reconnects", (double)dev->st.reconnects);
		if (dev->st.last_error[0])
			cJSON_AddStringToObject(o, "last_error", dev->st.last_error);
		else
			cJSON_AddNullToObject(o, "last_error");
		cJSON_AddItemToObject(o, "last_error_at", json_ts_item(dev->st.last_error_ms));
		cJSON_AddItemToObject(o, "last_seen", json_ts_item(dev->st.last_seen_ms));
		if (dev->conf->kind == DEV_ESL && dev->ops)
			add_esl_stats(dev, cJSON_AddObjectToObject(o, "esl"));
	}
	cJSON_AddNumberToObject(r, "count", (double)d->n_devices);
	return 0;
}

static void add_drop(void *arg, const char *type, uint64_t n)
{
	cJSON_AddNumberToObject(arg, type, (double)n);
}

static void add_type(void *arg, const char *type, uint64_t rows, int64_t min_seq)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return;
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddNumberToObject(o, "rows", (double)rows);
	cJSON_AddNumberToObject(o, "min_seq", (double)min_seq);
	cJSON_AddItemToArray(arg, o);
}

static int cmd_outbox(struct shelfd *d, cJSON *r)
{
	struct hqlink_stats hs;

	hqlink_get_stats(d->hq, &hs);
	add_outbox_summary(d, r);
	cJSON_AddNumberToObject(r, "inflight", hs.inflight);
	cJSON_AddNumberToObject(r, "max_bytes", (double)d->conf->outbox.max_mb * 1048576.0);
	cJSON_AddStringToObject(r, "sync", d->conf->outbox.sync_full ? "full" : "normal");
	if (store_foreach_dropped(d->store, add_drop, cJSON_AddObjectToObject(r, "dropped")) < 0)
		return -EIO;
	if (store_foreach_type(d->store, add_type, cJSON_AddArrayToObject(r, "types")) < 0)
		return -EIO;
	return 0;
}

static int cmd_events(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	const cJSON *jn = cJSON_GetObjectItemCaseSensitive(req, "n");
	cJSON *arr = cJSON_AddArrayToObject(r, "events");
	size_t n = 20, count = 0;
	char summary[160];

	if (jn) {
		if (!cJSON_IsNumber(jn) || jn->valuedouble < 1 || jn->valuedouble > RECENT_MAX) {
			snprintf(err, errsz, "n must be 1..%d", RECENT_MAX);
			return -EINVAL;
		}
		n = (size_t)jn->valuedouble;
	}
	if (n > d->recent_n)
		n = d->recent_n;
	/* Newest first. */
	for (size_t i = 0; i < n; i++) {
		size_t idx = (d->recent_head + RECENT_MAX - 1 - i) % RECENT_MAX;
		const struct recent_event *e = &d->recent[idx];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddNumberToObject(o, "seq", (double)e->seq);
		cJSON_AddStringToObject(o, "type", e->type);
		cJSON_AddItemToObject(o, "ts", json_ts_item(e->ts_ms));
		cJSON_AddStringToObject(o, "source", e->source);
		if (!strcmp(e->type, "sale"))
			snprintf(summary, sizeof(summary), "%s %s total %lld", e->what, e->ref,
				 (long long)e->total);
		else if (!strcmp(e->type, "alert"))
			snprintf(summary, sizeof(summary), "%s%s%s", e->what, e->ref[0] ? " " : "",
				 e->ref);
		else
			summary[0] = '\0';
		cJSON_AddStringToObject(o, "summary", summary);
		cJSON_AddBoolToObject(o, "delivered", !store_has_seq(d->store, e->seq));
		count++;
	}
	cJSON_AddNumberToObject(r, "count", (double)count);
	return 0;
}

static int ctl_handle(void *arg, const cJSON *req, cJSON *reply, char *err, size_t errsz)
{
	struct shelfd *d = arg;
	const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "cmd"));

	if (!strcmp(cmd, "status"))
		return cmd_status(d, reply);
	if (!strcmp(cmd, "devices"))
		return cmd_devices(d, reply);
	if (!strcmp(cmd, "outbox"))
		return cmd_outbox(d, reply);
	if (!strcmp(cmd, "events"))
		return cmd_events(d, req, reply, err, errsz);
	if (!strcmp(cmd, "prices"))
		return shelfd_cmd_prices(d, req, reply, err, errsz);
	if (!strcmp(cmd, "labels"))
		return shelfd_cmd_labels(d, req, reply, err, errsz);
	if (!strcmp(cmd, "integrity"))
		return shelfd_cmd_integrity(d, req, reply, err, errsz);
	if (!strcmp(cmd, "sensors"))
		return shelfd_cmd_sensors(d, req, reply, err, errsz);
	if (!strcmp(cmd, "visits"))
		return shelfd_cmd_visits(d, req, reply, err, errsz);
	if (!strcmp(cmd, "kpi"))
		return shelfd_cmd_kpi(d, req, reply, err, errsz);
	if (!strcmp(cmd, "screens"))
		return shelfd_cmd_screens(d, req, reply, err, errsz);
	if (!strcmp(cmd, "recs"))
		return shelfd_cmd_recs(d, req, reply, err, errsz);
	if (!strcmp(cmd, "rules"))
		return shelfd_cmd_rules(d, req, reply, err, errsz);
	if (!strcmp(cmd, "markdown"))
		return shelfd_cmd_markdown(d, req, reply, err, errsz);
	snprintf(err, errsz, "unknown command \"%.64s\"", cmd);
	return -EINVAL;
}

static int setup_signals(struct shelfd *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	return loop_add_fd(d->loop, d->sigfd, EPOLLIN, on_signal, d);
}

static void alert_db_recreated(struct shelfd *d, const struct store_open_report *rep)
{
	cJSON *body = cJSON_CreateObject();

	if (!body)
		return;
	cJSON_AddStringToObject(body, "alert", "db_recreated");
	cJSON_AddStringToObject(body, "moved_to", rep->moved_to);
	cJSON_AddStringToObject(body, "reason", rep->reason);
	if (shelfd_emit(d, "shelfd", "alert", body, 0) < 0)
		log_err("could not record the db_recreated alert");
	cJSON_Delete(body);
}

int shelfd_init(struct shelfd *d, const char *config_path, struct config *conf)
{
	struct store_open_report rep;
	struct store_opts so;
	char dbpath[PATH_MAX], sockdir[sizeof(conf->control_socket)];
	char *slash;
	int rc;

	memset(d, 0, sizeof(*d));
	d->sigfd = -1;
	d->config_path = config_path;
	d->conf = conf;
	dynbuf_init(&d->evbuf, EVENT_BODY_MAX);
	d->started_ms = now_wall_ms();
	d->loop = loop_new();
	if (!d->loop)
		return -errno;
	rc = setup_signals(d);
	if (rc < 0) {
		log_err("signals: %s", strerror(-rc));
		return rc;
	}
	rc = mkdir_p(conf->data_dir, 0750);
	if (rc < 0) {
		log_err("data_dir %s: %s", conf->data_dir, strerror(-rc));
		return rc;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/shelfd.db", conf->data_dir);
	so.path = dbpath;
	so.sync_full = conf->outbox.sync_full;
	so.max_bytes = (uint64_t)conf->outbox.max_mb * 1024 * 1024;
	memset(&rep, 0, sizeof(rep));
	rc = store_open(&so, &d->store, &rep);
	if (rc < 0) {
		log_err("store %s: cannot open (%s)", dbpath, strerror(-rc));
		return rc;
	}
	str_copy(sockdir, sizeof(sockdir), conf->control_socket);
	slash = strrchr(sockdir, '/');
	if (slash && slash != sockdir) {
		*slash = '\0';
		rc = mkdir_p(sockdir, 0750);
		if (rc < 0) {
			log_err("control socket dir %s: %s", sockdir, strerror(-rc));
			return rc;
		}
	}
	rc = hqlink_new(conf, d->loop, d->store, d->started_ms, &d->hq);
	if (rc < 0) {
		log_err("hq link: %s", strerror(-rc));
		return rc;
	}
	rc = shelfd_prices_init(d);
	if (rc < 0)
		return rc;
	rc = ctl_open(d->loop, conf->control_socket, ctl_handle, d, &d->ctl);
	if (rc < 0) {
		log_err("control socket %s: %s", conf->control_socket, strerror(-rc));
		return rc;
	}
	if (rep.recreated) {
		log_err("store: %s was unusable (%s); moved to %s, started a fresh one", dbpath,
			rep.reason, rep.moved_to);
		alert_db_recreated(d, &rep);
	}
	d->host.loop = d->loop;
	d->host.emit = host_emit;
	d->host.emit_text = host_emit_text;
	d->host.sale_line = host_sale_line;
	d->host.sale_done = host_sale_done;
	d->host.arg = d;
	for (size_t i = 0; i < conf->n_devices; i++) {
		d->devices[i].conf = &conf->devices[i];
		d->n_devices++;
	}
	rc = shelfd_sensing_init(d);
	if (rc < 0)
		return rc;
	rc = shelfd_act_init(d);
	if (rc < 0) {
		log_err("screens, rules, markdown: cannot start: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < d->n_devices; i++) {
		struct device *dev = &d->devices[i];

		dev->host = &d->host;
		dev->ops = device_ops_for(dev->conf->kind);
		if (dev->conf->kind == DEV_ESL)
			shelfd_attach_esl(d, dev);
		if (dev->conf->kind == DEV_PROBE || dev->conf->kind == DEV_CAMERA)
			shelfd_attach_sensor(d, dev);
		if (!dev->ops && dev->conf->kind == DEV_SCREEN)
			continue; /* driven by act.c over HTTP */
		if (!dev->ops) {
			log_warn("device %s: kind %s is not supported by this build yet; ignored",
				 dev->conf->name, dev_kind_name(dev->conf->kind));
			continue;
		}
		rc = dev->ops->start(dev);
		if (rc < 0) {
			log_err("device %s: cannot start: %s", dev->conf->name, strerror(-rc));
			return rc;
		}
	}
	loop_set_before_sleep(d->loop, before_sleep, d);
	hqlink_start(d->hq);
	log_info("shelfd %s started: store %s, %zu device(s), hq %s:%d", SHELFD_VERSION,
		 conf->store_id, conf->n_devices, conf->hq.host, conf->hq.port);
	return 0;
}

int shelfd_run(struct shelfd *d)
{
	int rc = loop_run(d->loop);

	return rc < 0 ? 1 : 0;
}

void shelfd_fini(struct shelfd *d)
{
	for (size_t i = 0; i < d->n_devices; i++) {
		if (d->devices[i].ops)
			d->devices[i].ops->stop(&d->devices[i]);
	}
	if (d->loop)
		loop_timer_del(d->loop, d->commit_timer);
	shelfd_sensing_fini(d);
	shelfd_act_fini(d);
	if (d->store && store_dirty(d->store) && store_commit(d->store) < 0)
		log_err("store: final commit failed");
	if (d->hq) {
		hqlink_shutdown(d->hq, 1000);
		if (d->store && store_dirty(d->store))
			store_commit(d->store);
	}
	ctl_free(d->ctl);
	shelfd_prices_fini(d);
	hqlink_free(d->hq);
	store_close(d->store);
	if (d->sigfd >= 0) {
		if (d->loop)
			loop_del_fd(d->loop, d->sigfd);
		close(d->sigfd);
	}
	loop_free(d->loop);
	dynbuf_free(&d->evbuf);
	free(d->conf);
	memset(d, 0, sizeof(*d));
	d->sigfd = -1;
}
