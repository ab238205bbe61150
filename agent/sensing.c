/*
 * sensing: the daemon's store-sensing wiring (issue 4). Probe sightings are
 * pseudonymized here the moment they arrive (pseudo.c), sessionized into
 * visits (visits.c); door/zone counter passes become footfall intervals; all
 * of it, with the sales receipts, feeds the KPIs (kpi.c). Visits, footfall
 * and KPIs leave as `visit`, `footfall` and `kpi` events.
 *
 * The sensing clock. Sniffers and GPIO edges carry their own timestamps. In
 * the default mode ("clock": "gateway") the gateway's clock rules: a device
 * time more than CLOCK_LATE_MS behind it or CLOCK_AHEAD_GW_MS ahead of it is
 * not trusted and the input is stamped with the gateway's time instead
 * (counted as restamped); within that window inputs keep their own time, so
 * late lines are evaluated on their own timestamps, and one device with a
 * fast clock cannot move the store's day. In "devices" mode (a recorded day
 * replayed fast: the tests, the demo) the newest accepted device time drives
 * the clock, which may run ahead of the gateway's by CLOCK_AHEAD_MS per
 * step. Visits close, intervals end and the day key rotates as the sensing
 * clock passes their times. Receipts never move it.
 *
 * Privacy: the raw MAC never leaves sensing_sighting(): its pseudonyms are
 * computed and the MAC wiped before anything else runs. Staff and fixture
 * visits are counted but not sent as visit events (their daily patterns are
 * employees' data). The control verbs show counts only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "beam.h"
#include "daemon.h"
#include "json.h"
#include "kpi.h"
#include "log.h"
#include "pseudo.h"
#include "sensor.h"
#include "visits.h"

#define CLOCK_LATE_MS (5 * 60000LL)
#define CLOCK_AHEAD_MS (10 * 60000LL) /* "devices" mode, per step */
#define CLOCK_AHEAD_GW_MS 60000LL /* "gateway" mode: device clocks a little fast */
#define ADVANCE_STEP_MS 1000 /* advance after input when the clock moved this much */
#define TICK_MS 10000 /* idle timer: visits close and intervals end without input */
#define SAVE_EVERY_MS 60000 /* KPI state to SQLite, when changed */
#define FOOTFALL_GRACE_MS 60000 /* passes are reported once both beams cleared: wait for them */
#define MAX_ZONES (CONF_MAX_DEVICES + 1)
#define META_KPI "sensing.kpi"
#define META_CLOCK "sensing.clock"

struct counter {
	struct device *dev;
	bool entrance; /* its passes are store entries/exits */
	int64_t from; /* start of the open interval, 0 = none yet */
	uint64_t in, out, late; /* in the open interval */
	struct beam_counts base; /* the beam's counts when the interval opened */
	/* [0] today, [1] the day before (its closing drift may still be due) */
	struct daystat {
		int64_t day; /* local midnight, 0 = unused */
		uint64_t in, out;
		uint64_t close_in, close_out; /* passes before closing time */
		bool reported; /* its closing drift was sent */
	} days[2];
	bool has_drift;
	int64_t drift; /* IN - OUT at the last closing time */
};

struct sensing {
	struct shelfd *d;
	struct sensor_host host;
	struct pseudo_keys *keys;
	struct visits *visits;
	struct kpi *kpi;
	int64_t clock; /* the sensing clock, epoch ms */
	int64_t advanced; /* clock at the last advance */
	int64_t next_midnight; /* when the day key rotates */
	int64_t drop_prev_at; /* when the previous day key is wiped, 0 = none held */
	int64_t interval_ms;
	int timer;
	bool dirty;
	int64_t saved_mono;
	uint64_t restamped; /* device times not trusted (see above) */
	bool devices_clock; /* "clock": "devices" */
	bool has_sensors; /* any probe or camera configured: KPIs are sent */
	bool kpi_sent; /* a kpi event this turn: save the state with it */
	int64_t down_from, down_to; /* shelfd was not running (from the saved state) */
	int64_t started; /* sensing clock at start: counters count from here */
	bool silent[CONF_MAX_DEVICES]; /* sniffer_silent alert outstanding */
	uint64_t events[4]; /* visit, footfall, kpi, lost */
	char zones[MAX_ZONES][64];
	size_t n_zones;
	size_t n_probe_zones; /* distinct sniffer zones: >1 -> visits carry a zone */
	uint16_t dev_zone[CONF_MAX_DEVICES]; /* per device index: zone index */
	struct counter counters[CONF_MAX_DEVICES];
	size_t n_counters;
};

enum { EV_VISIT, EV_FOOTFALL, EV_KPI, EV_LOST };

/* ---- time ---- */

static int64_t interval_start(const struct sensing *s, int64_t t)
{
	int64_t day = local_day_start_ms(t);

	return day + (t - day) / s->interval_ms * s->interval_ms;
}

/* The end of the interval starting at @from (cut at midnight on a DST day). */
static int64_t interval_next(const struct sensing *s, int64_t from)
{
	int64_t next = from + s->interval_ms, midnight = local_day_next_ms(from);

	return next < midnight ? next : midnight;
}

/*
 * The time to use for a device timestamp @t (see the header comment);
 * @move: may it move the clock (receipts may not).
 */
static int64_t clock_take(struct sensing *s, int64_t t, bool move)
{
	int64_t wall = now_wall_ms(), base;

	if (wall > s->clock)
		s->clock = wall;
	base = s->devices_clock ? s->clock : wall;
	if (t < s->clock - CLOCK_LATE_MS ||
	    t > base + (s->devices_clock ? CLOCK_AHEAD_MS : CLOCK_AHEAD_GW_MS)) {
		s->restamped++;
		return s->clock;
	}
	if (move && t > s->clock)
		s->clock = t;
	return t;
}

/* ---- events ---- */

static void emit(struct sensing *s, const char *source, const char *type, cJSON *body, int64_t ts,
		 int kind)
{
	if (!body || shelfd_emit(s->d, source, type, body, ts) < 0)
		s->events[EV_LOST]++;
	else
		s->events[kind]++;
	cJSON_Delete(body);
}

static void add_ts(cJSON *o, const char *key, int64_t ms)
{
	char ts[TS_BUFSZ];

	ts_format(ms, ts);
	cJSON_AddStringToObject(o, key, ts);
}

/* A ratio, or null when it has no value; 4 decimals are plenty. */
static void add_ratio(cJSON *o, const char *key, bool has, double v)
{
	if (has)
		cJSON_AddNumberToObject(o, key, (double)(int64_t)(v * 10000.0 + 0.5) / 10000.0);
	else
		cJSON_AddNullToObject(o, key);
}

static void on_visit(void *arg, const struct visit *v)
{
	struct sensing *s = arg;
	char hex[17];
	cJSON *b;

	kpi_visit(s->kpi, v);
	s->dirty = true;
	if (v->cls == VISIT_STAFF)
		return; /* counted, not sent: see the header comment */
	b = cJSON_CreateObject();
	if (!b) {
		s->events[EV_LOST]++;
		return;
	}
	pseudo_hex(v->pseudonym, hex);
	cJSON_AddStringToObject(b, "pseudonym", hex);
	add_ts(b, "first", v->first_ms);
	add_ts(b, "last", v->last_ms);
	cJSON_AddNumberToObject(b, "dwell_s", (double)((v->last_ms - v->first_ms) / 1000));
	cJSON_AddStringToObject(b, "class", visit_class_name(v->cls));
	cJSON_AddNumberToObject(b, "max_rssi", v->max_rssi);
	if (s->n_probe_zones > 1 && v->zone < s->n_zones && s->zones[v->zone][0])
		cJSON_AddStringToObject(b, "zone", s->zones[v->zone]);
	cJSON_AddBoolToObject(b, "randomized", v->randomized);
	cJSON_AddBoolToObject(b, "repeat", v->repeat);
	cJSON_AddNumberToObject(b, "sightings", v->sightings);
	emit(s, "sensing", "visit", b, v->last_ms, EV_VISIT);
}

static void add_figures(cJSON *o, const struct kpi_figures *f)
{
	add_ts(o, "from", f->from_ms);
	add_ts(o, "to", f->to_ms);
	cJSON_AddNumberToObject(o, "entries", (double)f->entries);
	cJSON_AddNumberToObject(o, "exits", (double)f->exits);
	cJSON_AddNumberToObject(o, "visitors", (double)f->visitors);
	cJSON_AddNumberToObject(o, "engaged", (double)f->engaged);
	cJSON_AddNumberToObject(o, "passers_by", (double)f->passers_by);
	cJSON_AddNumberToObject(o, "staff", (double)f->staff);
	cJSON_AddNumberToObject(o, "randomized", (double)f->randomized);
	cJSON_AddNumberToObject(o, "repeat", (double)f->repeat);
	cJSON_AddNumberToObject(o, "receipts", (double)f->receipts);
	add_ratio(o, "capture_rate", f->has_capture, f->capture_rate);
	add_ratio(o, "conversion", f->has_conversion, f->conversion);
	add_ratio(o, "dwell_avg_s", f->has_dwell, f->dwell_avg_s);
	add_ratio(o, "dwell_median_s", f->has_dwell, f->dwell_median_s);
	add_ratio(o, "repeat_share", f->has_repeat, f->repeat_share);
	cJSON_AddNumberToObject(o, "late", (double)f->late);
}

static void on_kpi(void *arg, const struct kpi_figures *f)
{
	struct sensing *s = arg;
	int64_t lo, hi;
	cJSON *b;

	s->dirty = true;
	s->kpi_sent = true;
	if (!s->has_sensors)
		return; /* a store without sensors sends no empty KPIs */
	b = cJSON_CreateObject();
	if (b) {
		cJSON_AddStringToObject(b, "period", f->period == KPI_DAY ? "day" : "interval");
		add_figures(b, f);
		/* Part of it while shelfd was not running: its zeros are not data. */
		lo = f->from_ms > s->down_from ? f->from_ms : s->down_from;
		hi = f->to_ms < s->down_to ? f->to_ms : s->down_to;
		if (hi > lo)
			cJSON_AddNumberToObject(b, "downtime_s", (double)((hi - lo) / 1000));
	}
	emit(s, "sensing", "kpi", b, f->to_ms, EV_KPI);
}

/* ---- footfall ---- */

static void counter_emit(struct sensing *s, struct counter *c)
{
	struct camera_stats cs;
	cJSON *b = cJSON_CreateObject();

	camera_get_stats(c->dev, &cs);
	if (b) {
		cJSON_AddStringToObject(b, "period", "interval");
		cJSON_AddStringToObject(b, "zone", c->dev->conf->zone);
		add_ts(b, "from", c->from);
		add_ts(b, "to", interval_next(s, c->from));
		cJSON_AddNumberToObject(b, "in", (double)c->in);
		cJSON_AddNumberToObject(b, "out", (double)c->out);
		cJSON_AddNumberToObject(b, "uturns", (double)(cs.counts.uturn - c->base.uturn));
		cJSON_AddNumberToObject(b, "glitches", (double)(cs.counts.glitch - c->base.glitch));
		cJSON_AddNumberToObject(b, "ambiguous",
					(double)(cs.counts.ambiguous - c->base.ambiguous));
		if (c->late)
			cJSON_AddNumberToObject(b, "late", (double)c->late);
	}
	emit(s, c->dev->conf->name, "footfall", b, interval_next(s, c->from), EV_FOOTFALL);
	c->base = cs.counts;
	c->in = c->out = c->late = 0;
}

/* The closing time of the day @day, or 0 when the store is open all day. */
static int64_t close_time(const struct sensing *s, int64_t day)
{
	const struct sensing_conf *sc = &s->d->conf->sensing;

	return sc->close_min > sc->open_min ? local_day_at_ms(day, sc->close_min) : 0;
}

/* The closing-time health figure of a two-line counter: IN - OUT that day. */
static void counter_close_day(struct sensing *s, struct counter *c, struct daystat *ds,
			      int64_t close_t)
{
	cJSON *b;

	ds->reported = true;
	if (c->dev->conf->line_b < 0)
		return;
	c->has_drift = true;
	c->drift = (int64_t)ds->close_in - (int64_t)ds->close_out;
	b = cJSON_CreateObject();
	if (b) {
		cJSON_AddStringToObject(b, "period", "close");
		cJSON_AddStringToObject(b, "zone", c->dev->conf->zone);
		add_ts(b, "from", ds->day);
		add_ts(b, "to", close_t);
		cJSON_AddNumberToObject(b, "in", (double)ds->close_in);
		cJSON_AddNumberToObject(b, "out", (double)ds->close_out);
		cJSON_AddNumberToObject(b, "drift", (double)c->drift);
		/* The counters count from shelfd's start: a later start misses people. */
		if (s->started > ds->day)
			add_ts(b, "counting_since", s->started);
	}
	emit(s, c->dev->conf->name, "footfall", b, close_t, EV_FOOTFALL);
}

/* The day figures of @c for the local day @day: NULL for a day older than yesterday's. */
static struct daystat *daystat_for(struct counter *c, int64_t day)
{
	if (c->days[0].day == day)
		return &c->days[0];
	if (c->days[1].day == day)
		return &c->days[1];
	if (day < c->days[0].day)
		return NULL; /* a late pass from an older day: not in the day figures */
	c->days[1] = c->days[0];
	memset(&c->days[0], 0, sizeof(c->days[0]));
	c->days[0].day = day;
	return &c->days[0];
}

/* End every interval of @c that is over at @now (empty ones too, at most a day's worth). */
static void counter_advance(struct sensing *s, struct counter *c, int64_t now)
{
	if (!c->from)
		c->from = interval_start(s, now);
	if (now - c->from > 86400000LL + s->interval_ms) {
		/* The clock jumped (a restart after a day off): skip the gap. */
		if (c->in || c->out)
			counter_emit(s, c);
		c->from = interval_start(s, now - 86400000LL);
	}
	while (now >= interval_next(s, c->from) + FOOTFALL_GRACE_MS) {
		counter_emit(s, c);
		c->from = interval_next(s, c->from);
	}
	daystat_for(c, local_day_start_ms(now)); /* a new day starts at zero */
	for (int i = 1; i >= 0; i--) {
		struct daystat *ds = &c->days[i];
		int64_t close_t = ds->day ? close_time(s, ds->day) : 0;

		if (close_t && !ds->reported && now >= close_t + FOOTFALL_GRACE_MS)
			counter_close_day(s, c, ds, close_t);
	}
}

static struct counter *counter_of(struct sensing *s, const struct device *dev)
{
	for (size_t i = 0; i < s->n_counters; i++) {
		if (s->counters[i].dev == dev)
			return &s->counters[i];
	}
	return NULL;
}

/* ---- the clock moves ---- */

static void save_state(struct sensing *s)
{
	sqlite3 *db = store_db(s->d->store);
	struct dynbuf b;
	sqlite3_stmt *st = NULL;

	dynbuf_init(&b, 4 << 20);
	if (kpi_save(s->kpi, &b) < 0 || store_begin(s->d->store) < 0 ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1,
			       &st, NULL) != SQLITE_OK) {
		log_warn("sensing: cannot save the KPI state");
	} else {
		sqlite3_bind_text(st, 1, META_KPI, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, b.buf, (int)b.len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_warn("sensing: cannot save the KPI state: %s", sqlite3_errmsg(db));
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, META_CLOCK, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, s->clock);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_warn("sensing: cannot save the clock: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	dynbuf_free(&b);
	s->dirty = false;
	s->saved_mono = now_mono_ms();
}

static int64_t meta_int(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return v;
}

/*
 * The KPI state of the last run. Not taken when it comes from the future
 * (the clock was wrong then, or is now): the day would count nothing until
 * the clock caught up. The time shelfd was down marks the KPIs it covers.
 */
static void load_state(struct sensing *s)
{
	sqlite3 *db = store_db(s->d->store);
	sqlite3_stmt *st = NULL;
	int64_t saved = meta_int(db, META_CLOCK);

	if (saved > s->clock + CLOCK_AHEAD_GW_MS && !s->devices_clock) {
		log_warn("sensing: the saved KPI state is %lld s in the future; starting afresh",
			 (long long)((saved - s->clock) / 1000));
		return;
	}
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, META_KPI, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		if (p && n > 0 && kpi_load(s->kpi, p, (size_t)n) < 0) {
			log_warn("sensing: the saved KPI state is not readable; starting afresh");
		} else if (p && n > 0) {
			s->down_from = saved;
			s->down_to = s->clock;
			log_info("sensing: KPI state restored (down for %lld s)",
				 (long long)((s->down_to - s->down_from) / 1000));
		}
	}
	sqlite3_finalize(st);
}

/* Alert when an open sniffer has heard nothing for silent_alert_min in opening hours. */
static void check_sniffers(struct sensing *s, int64_t wall)
{
	const struct sensing_conf *sc = &s->d->conf->sensing;
	int64_t day = local_day_start_ms(wall);
	bool open = sc->close_min <= sc->open_min || (wall >= local_day_at_ms(day, sc->open_min) &&
						      wall < local_day_at_ms(day, sc->close_min));

	for (size_t i = 0; i < s->d->n_devices; i++) {
		struct device *dev = &s->d->devices[i];
		struct probe_stats st;
		int64_t last;
		bool quiet;
		cJSON *b;

		if (dev->conf->kind != DEV_PROBE || !dev->ops)
			continue;
		probe_get_stats(dev, &st);
		last = st.last_sighting_ms > dev->st.state_since_ms ? st.last_sighting_ms
								    : dev->st.state_since_ms;
		quiet = dev->st.state == DEVICE_OPEN && open &&
			wall - last >= (int64_t)sc->silent_alert_min * 60000;
		if (quiet == s->silent[i] || (!quiet && dev->st.state != DEVICE_OPEN))
			continue;
		s->silent[i] = quiet;
		b = cJSON_CreateObject();
		if (b) {
			cJSON_AddStringToObject(b, "alert",
						quiet ? "sniffer_silent" : "sniffer_alive");
			cJSON_AddStringToObject(b, "device", dev->conf->name);
			cJSON_AddItemToObject(b, "last_sighting",
					      json_ts_item(st.last_sighting_ms));
		}
		if (!b || shelfd_emit(s->d, dev->conf->name, "alert", b, 0) < 0)
			s->events[EV_LOST]++;
		cJSON_Delete(b);
	}
}

static void advance(struct sensing *s)
{
	int64_t wall = now_wall_ms();

	if (wall > s->clock)
		s->clock = wall;
	s->advanced = s->clock;
	if (s->clock >= s->next_midnight) {
		if (pseudo_rotate(s->keys, s->clock)) {
			s->drop_prev_at =
				s->clock + (int64_t)s->d->conf->sensing.silence_min * 60000 + 60000;
			log_info("sensing: new day key (the previous one is kept %u min for visits "
				 "across midnight)",
				 s->d->conf->sensing.silence_min + 1);
		}
		s->next_midnight = local_day_next_ms(s->clock);
	}
	visits_advance(s->visits, s->clock, on_visit, s);
	if (s->drop_prev_at && s->clock >= s->drop_prev_at) {
		pseudo_drop_prev_day(s->keys);
		s->drop_prev_at = 0;
	}
	for (size_t i = 0; i < s->n_counters; i++)
		counter_advance(s, &s->counters[i], s->clock);
	kpi_advance(s->kpi, s->clock, on_kpi, s);
	check_sniffers(s, wall);
	/* A KPI sent is committed with the state that says so (no resend after a crash). */
	if (s->kpi_sent || (s->dirty && now_mono_ms() - s->saved_mono >= SAVE_EVERY_MS))
		save_state(s);
	s->kpi_sent = false;
}

static void maybe_advance(struct sensing *s)
{
	if (s->clock - s->advanced >= ADVANCE_STEP_MS)
		advance(s);
}

static void on_tick(struct loop *l, void *arg)
{
	struct sensing *s = arg;

	advance(s);
	s->timer = loop_timer_add(l, TICK_MS, on_tick, s);
}

/* ---- device callbacks ---- */

static void sensing_sighting(void *arg, struct device *dev, struct probe_sighting *sg)
{
	struct sensing *s = arg;
	struct visits_sighting vs;

	memset(&vs, 0, sizeof(vs));
	vs.t_ms = clock_take(s, sg->t_ms, true);
	if (s->clock >= s->next_midnight)
		advance(s); /* the key of the right day */
	pseudo_ids_of(s->keys, sg->mac, &vs.ids);
	explicit_bzero(sg->mac, sizeof(sg->mac));
	vs.rssi = sg->rssi;
	vs.randomized = sg->randomized;
	vs.zone = s->dev_zone[dev - s->d->devices];
	visits_sighting(s->visits, &vs);
	maybe_advance(s);
}

static void sensing_pass(void *arg, struct device *dev, int dir, int64_t t_ms)
{
	struct sensing *s = arg;
	struct counter *c = counter_of(s, dev);
	int64_t t = clock_take(s, t_ms, true), close_t;
	struct daystat *ds;

	if (!c)
		return;
	if (!c->from)
		c->from = interval_start(s, t);
	if (t >= interval_next(s, c->from))
		counter_advance(s, c, t + FOOTFALL_GRACE_MS); /* end the intervals before t */
	if (t < c->from)
		c->late++; /* its interval was reported already: counted here, and in the day */
	else if (dir > 0)
		c->in++;
	else
		c->out++;
	ds = daystat_for(c, local_day_start_ms(t));
	if (ds) {
		close_t = close_time(s, ds->day);
		if (dir > 0)
			ds->in++;
		else
			ds->out++;
		if (!close_t || t < close_t) {
			if (dir > 0)
				ds->close_in++;
			else
				ds->close_out++;
		}
	}
	if (c->entrance) {
		kpi_pass(s->kpi, dir, t);
		s->dirty = true;
	}
	maybe_advance(s);
}

void shelfd_sensing_receipt(struct shelfd *d, int64_t ts_ms)
{
	struct sensing *s = d->sensing;

	if (!s)
		return;
	kpi_receipt(s->kpi, clock_take(s, ts_ms, false));
	s->dirty = true;
}

/* ---- setup ---- */

static uint16_t zone_index(struct sensing *s, const char *zone)
{
	for (size_t i = 0; i < s->n_zones; i++) {
		if (!strcmp(s->zones[i], zone))
			return (uint16_t)i;
	}
	if (s->n_zones == MAX_ZONES)
		return 0;
	str_copy(s->zones[s->n_zones], sizeof(s->zones[0]), zone);
	return (uint16_t)s->n_zones++;
}

int shelfd_sensing_init(struct shelfd *d)
{
	const struct sensing_conf *sc = &d->conf->sensing;
	struct sensing *s = calloc(1, sizeof(*s));
	struct visits_conf vc;
	struct kpi_conf kc;
	bool probe_zone_seen[MAX_ZONES] = {false};
	int rc;

	if (!s)
		return -ENOMEM;
	d->sensing = s;
	s->d = d;
	s->clock = now_wall_ms();
	s->advanced = s->clock;
	s->started = s->clock;
	s->interval_ms = (int64_t)sc->interval_min * 60000;
	s->devices_clock = sc->devices_clock;
	s->host.sighting = sensing_sighting;
	s->host.pass = sensing_pass;
	s->host.arg = s;
	rc = pseudo_new(s->clock, &s->keys);
	if (rc < 0) {
		log_err("sensing: cannot draw the pseudonym keys: %s", strerror(-rc));
		return rc;
	}
	s->next_midnight = local_day_next_ms(s->clock);
	visits_conf_defaults(&vc);
	vc.rssi_in = sc->rssi_in;
	vc.silence_ms = (int64_t)sc->silence_min * 60000;
	vc.passer_max_ms = (int64_t)sc->passer_max_min * 60000;
	vc.engaged_min_ms = (int64_t)sc->engaged_min * 60000;
	vc.staff_dwell_ms = (int64_t)sc->staff_dwell_min * 60000;
	vc.staff_share_pct = sc->staff_share_pct;
	vc.open_ms = (int64_t)sc->open_min * 60000;
	vc.close_ms = (int64_t)sc->close_min * 60000;
	vc.repeat_window_ms = (int64_t)sc->repeat_days * 86400000LL;
	vc.max_sessions = sc->max_sessions;
	s->visits = visits_new(&vc);
	kpi_conf_defaults(&kc);
	kc.interval_ms = s->interval_ms;
	kc.hold_ms = vc.silence_ms + 60000;
	s->kpi = kpi_new(&kc, s->clock);
	if (!s->visits || !s->kpi)
		return -ENOMEM;
	load_state(s);
	zone_index(s, ""); /* index 0: no zone */
	for (size_t i = 0; i < d->n_devices; i++) {
		const struct device_conf *c = d->devices[i].conf;

		s->dev_zone[i] = zone_index(s, c->zone);
		if (c->kind == DEV_PROBE || c->kind == DEV_CAMERA)
			s->has_sensors = true;
		if (c->kind == DEV_PROBE && !probe_zone_seen[s->dev_zone[i]]) {
			probe_zone_seen[s->dev_zone[i]] = true;
			s->n_probe_zones++;
		}
	}
	s->timer = loop_timer_add(d->loop, TICK_MS, on_tick, s);
	return 0;
}

void shelfd_attach_sensor(struct shelfd *d, struct device *dev)
{
	struct sensing *s = d->sensing;

	dev->kind_host = &s->host;
	if (dev->conf->kind == DEV_CAMERA && s->n_counters < CONF_MAX_DEVICES) {
		struct counter *c = &s->counters[s->n_counters++];

		memset(c, 0, sizeof(*c));
		c->dev = dev;
		c->entrance = !strcmp(dev->conf->zone, d->conf->sensing.entrance_zone);
		if (c->entrance && dev->conf->line_b < 0)
			log_warn("device %s: one beam in the entrance zone: every crossing counts "
				 "as "
				 "an entry (in and out cannot be told apart; add line_b)",
				 dev->conf->name);
	}
}

void shelfd_sensing_fini(struct shelfd *d)
{
	struct sensing *s = d->sensing;

	if (!s)
		return;
	/*
	 * Open visits end with the keys (a restart draws new ones): they are
	 * not sent cut short. The KPI state is saved for the next start.
	 */
	if (s->kpi && d->store)
		save_state(s);
	if (s->timer)
		loop_timer_del(d->loop, s->timer);
	visits_free(s->visits);
	kpi_free(s->kpi);
	pseudo_free(s->keys);
	free(s);
	d->sensing = NULL;
}

/* ---- control verbs ---- */

static const char *req_flag(const cJSON *req)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, "args");

	return cJSON_GetStringValue(cJSON_GetArrayItem(a, 0));
}

static void add_probe(cJSON *o, const struct device *dev)
{
	struct probe_stats st;
	cJSON *rej;

	probe_get_stats(dev, &st);
	cJSON_AddNumberToObject(o, "lines", (double)st.lines);
	cJSON_AddNumberToObject(o, "sightings", (double)st.sightings);
	cJSON_AddNumberToObject(o, "randomized", (double)st.randomized);
	cJSON_AddNumberToObject(o, "rate_1m", (double)(int64_t)(st.rate_1m * 100) / 100.0);
	cJSON_AddItemToObject(o, "last_sighting", json_ts_item(st.last_sighting_ms));
	rej = cJSON_AddObjectToObject(o, "rejects");
	for (int r = 1; r < PROBE_R_N; r++)
		cJSON_AddNumberToObject(rej, probe_reject_name(r), (double)st.rejects[r]);
}

static void add_camera(struct sensing *s, cJSON *o, const struct device *dev)
{
	struct camera_stats st;
	struct counter *c = counter_of(s, dev);
	cJSON *a;

	camera_get_stats(dev, &st);
	cJSON_AddBoolToObject(o, "two_lines", st.two_lines);
	cJSON_AddBoolToObject(o, "entrance", c && c->entrance);
	cJSON_AddNumberToObject(o, "in", (double)st.counts.in);
	cJSON_AddNumberToObject(o, "out", (double)st.counts.out);
	cJSON_AddNumberToObject(o, "uturns", (double)st.counts.uturn);
	cJSON_AddNumberToObject(o, "ambiguous", (double)st.counts.ambiguous);
	cJSON_AddNumberToObject(o, "glitches", (double)st.counts.glitch);
	cJSON_AddNumberToObject(o, "bounces", (double)st.counts.bounce);
	cJSON_AddNumberToObject(o, "edges", (double)st.counts.edges);
	cJSON_AddNumberToObject(o, "edges_1m", (double)(int64_t)(st.edges_1m * 100) / 100.0);
	cJSON_AddItemToObject(o, "last_edge", json_ts_item(st.last_edge_ms));
	cJSON_AddNumberToObject(o, "alerts_raised", (double)st.alerts);
	a = cJSON_AddArrayToObject(o, "alerts");
	for (int l = 0; l < (st.two_lines ? 2 : 1); l++) {
		char what[32];

		if (st.alert_blocked[l]) {
			snprintf(what, sizeof(what), "blocked:%c", 'a' + l);
			cJSON_AddItemToArray(a, cJSON_CreateString(what));
		}
		if (st.alert_chatter[l]) {
			snprintf(what, sizeof(what), "chatter:%c", 'a' + l);
			cJSON_AddItemToArray(a, cJSON_CreateString(what));
		}
	}
	cJSON_AddBoolToObject(o, "blocked_a", st.blocked[0]);
	if (st.two_lines)
		cJSON_AddBoolToObject(o, "blocked_b", st.blocked[1]);
	if (c) {
		int64_t today = local_day_start_ms(s->clock);
		bool cur = c->days[0].day == today;

		cJSON_AddNumberToObject(o, "today_in", cur ? (double)c->days[0].in : 0);
		cJSON_AddNumberToObject(o, "today_out", cur ? (double)c->days[0].out : 0);
		if (c->has_drift)
			cJSON_AddNumberToObject(o, "closing_drift", (double)c->drift);
		else
			cJSON_AddNullToObject(o, "closing_drift");
	}
}

int shelfd_cmd_sensors(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	struct sensing *s = d->sensing;
	cJSON *arr = cJSON_AddArrayToObject(r, "sensors");
	size_t n = 0;

	for (size_t i = 0; i < d->n_devices; i++) {
		const struct device *dev = &d->devices[i];
		cJSON *o;

		if (dev->conf->kind != DEV_PROBE && dev->conf->kind != DEV_CAMERA)
			continue;
		o = cJSON_CreateObject();
		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", dev->conf->name);
		cJSON_AddStringToObject(o, "kind", dev_kind_name(dev->conf->kind));
		cJSON_AddStringToObject(o, "zone", dev->conf->zone);
		cJSON_AddStringToObject(o, "state", dev->st.state == DEVICE_OPEN ? "open" : "down");
		cJSON_AddItemToObject(o, "since", json_ts_item(dev->st.state_since_ms));
		if (dev->st.last_error[0])
			cJSON_AddStringToObject(o, "last_error", dev->st.last_error);
		else
			cJSON_AddNullToObject(o, "last_error");
		if (dev->conf->kind == DEV_PROBE)
			add_probe(o, dev);
		else
			add_camera(s, o, dev);
		n++;
	}
	cJSON_AddNumberToObject(r, "count", (double)n);
	cJSON_AddItemToObject(r, "clock", json_ts_item(s->clock));
	cJSON_AddNumberToObject(r, "restamped", (double)s->restamped);
	cJSON_AddNumberToObject(r, "key_day", (double)pseudo_day_gen(s->keys));
	return 0;
}

int shelfd_cmd_visits(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	struct sensing *s = d->sensing;
	const char *flag = req_flag(req);
	uint64_t open[VISIT_CLASS_N];
	struct visits_stats st;
	cJSON *o;

	if (flag && strcmp(flag, "--open")) {
		snprintf(err, errsz, "visits takes only --open");
		return -EINVAL;
	}
	visits_get_stats(s->visits, &st);
	visits_open_classes(s->visits, s->clock, open);
	o = cJSON_AddObjectToObject(r, "open");
	cJSON_AddNumberToObject(o, "sessions", (double)st.open);
	cJSON_AddNumberToObject(o, "inside", (double)st.open_inside);
	for (int c = 0; c < VISIT_CLASS_N; c++)
		cJSON_AddNumberToObject(o, visit_class_name(c), (double)open[c]);
	if (!flag) {
		o = cJSON_AddObjectToObject(r, "closed");
		for (int c = 0; c < VISIT_CLASS_N; c++)
			cJSON_AddNumberToObject(o, visit_class_name(c), (double)st.closed[c]);
		cJSON_AddNumberToObject(o, "repeat", (double)st.repeats);
		cJSON_AddNumberToObject(r, "sightings", (double)st.sightings);
		cJSON_AddNumberToObject(r, "late", (double)st.late);
		cJSON_AddNumberToObject(r, "table_full", (double)st.table_full);
		cJSON_AddNumberToObject(r, "evicted", (double)st.evicted);
		cJSON_AddNumberToObject(r, "midnight_joins", (double)st.midnight_joins);
		cJSON_AddNumberToObject(r, "repeat_entries", (double)st.repeat_entries);
		cJSON_AddNumberToObject(r, "visit_events", (double)s->events[EV_VISIT]);
	}
	cJSON_AddItemToObject(r, "clock", json_ts_item(s->clock));
	return 0;
}

int shelfd_cmd_kpi(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	struct sensing *s = d->sensing;
	const char *flag = req_flag(req);
	struct kpi_figures f;
	bool day = true, ival = true;

	if (flag && !strcmp(flag, "--today"))
		ival = false;
	else if (flag && !strcmp(flag, "--interval"))
		day = false;
	else if (flag) {
		snprintf(err, errsz, "kpi takes --today or --interval");
		return -EINVAL;
	}
	if (day) {
		kpi_current(s->kpi, KPI_DAY, s->clock, &f);
		add_figures(cJSON_AddObjectToObject(r, "today"), &f);
	}
	if (ival) {
		kpi_current(s->kpi, KPI_INTERVAL, s->clock, &f);
		add_figures(cJSON_AddObjectToObject(r, "interval"), &f);
		if (kpi_last(s->kpi, KPI_INTERVAL, &f))
			add_figures(cJSON_AddObjectToObject(r, "last_interval"), &f);
		else
			cJSON_AddNullToObject(r, "last_interval");
	}
	if (day && kpi_last(s->kpi, KPI_DAY, &f))
		add_figures(cJSON_AddObjectToObject(r, "yesterday"), &f);
	cJSON_AddItemToObject(r, "clock", json_ts_item(s->clock));
	return 0;
}
