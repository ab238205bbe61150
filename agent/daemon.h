/*
 * daemon: the one daemon context (ntpd's struct ntpd_conf in spirit) and the
 * glue between modules: devices emit events -> the store (one transaction
 * per loop turn) -> hqlink drains them; the control socket reads from all.
 * No other mutable globals exist besides the signal-free signalfd design.
 */
#ifndef SHELF_DAEMON_H
#define SHELF_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ctl.h"
#include "device.h"
#include "esl.h"
#include "hqlink.h"
#include "inbox.h"
#include "labels.h"
#include "loop.h"
#include "store.h"
#include "util.h"
#include "version.h"

#define RECENT_MAX 256

struct recent_event {
	int64_t seq;
	int64_t ts_ms;
	char type[16];
	char source[CONF_NAME_MAX + 1];
	char what[32]; /* sale: kind; alert: its name */
	char ref[65]; /* sale: receipt; alert: device */
	int64_t total; /* sale: total */
};

struct shelfd {
	const char *config_path;
	struct config *conf; /* immutable after load (owned) */
	struct loop *loop;
	struct store *store;
	struct hqlink *hq;
	struct pricebook *prices;
	struct inbox *inbox;
	struct inbox_host inbox_host;
	struct labelbook *labelbook;
	struct labels *labels;
	struct labels_host labels_host;
	struct esl_host esl_host;
	struct device *esl_dev; /* the ESL base station, if one is configured */
	struct sensing *sensing; /* probes, counters, visits, KPIs (sensing.c) */
	struct act *act; /* screens, recs, rules, markdown (act.c) */
	struct ctl *ctl;
	struct device_host host;
	struct device devices[CONF_MAX_DEVICES];
	size_t n_devices;
	int sigfd;
	int64_t started_ms;
	int exit_code;

	/* Types appended since the last commit, to wake the batcher. */
	char turn_types[8][16];
	size_t n_turn_types;
	uint64_t events_lost; /* events that failed to commit */
	int64_t last_commit_ms; /* monotonic */
	size_t n_uncommitted; /* events appended since the last commit */
	int commit_timer;
	struct dynbuf evbuf; /* reused for every event's text */
	uint64_t dropped_seen; /* store's quota drop count at the last commit */

	struct recent_event recent[RECENT_MAX];
	size_t recent_head; /* next slot to write */
	size_t recent_n;
};

/*
 * Set up everything from @conf (ownership passes to @d): data dir, store,
 * control socket, MQTT link, devices, signals. Returns 0 or a negative errno
 * (the reason is logged).
 */
int shelfd_init(struct shelfd *d, const char *config_path, struct config *conf);
/* Run until SIGTERM/SIGINT. Returns the process exit code. */
int shelfd_run(struct shelfd *d);
/* Commit, say goodbye to HQ, close everything. Safe after a failed init. */
void shelfd_fini(struct shelfd *d);

/*
 * Record one event from the daemon itself or a device (@source). See
 * device_host.emit. Returns 0 or a negative errno.
 */
int shelfd_emit(struct shelfd *d, const char *source, const char *type, cJSON *body, int64_t ts_ms);

/* daemon_prices.c: HQ inbox wiring and the `prices` control verb. */
int shelfd_prices_init(struct shelfd *d);
void shelfd_prices_fini(struct shelfd *d);
int shelfd_cmd_prices(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
void shelfd_prices_status(struct shelfd *d, cJSON *r);
int shelfd_cmd_labels(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
/* daemon_prices.c: what a device of kind esl needs (before its start). */
void shelfd_attach_esl(struct shelfd *d, struct device *dev);
int shelfd_cmd_integrity(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
/* sensing.c: store sensing (probes, door counters, visits, KPIs). */
int shelfd_sensing_init(struct shelfd *d);
void shelfd_sensing_fini(struct shelfd *d);
/* What a probe or camera device needs (before its start). */
void shelfd_attach_sensor(struct shelfd *d, struct device *dev);
/* A sales receipt (kind sale) was recorded at @ts_ms: for the conversion KPI. */
void shelfd_sensing_receipt(struct shelfd *d, int64_t ts_ms);
int shelfd_cmd_sensors(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
int shelfd_cmd_visits(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
int shelfd_cmd_kpi(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
/* act.c: guide screens, recommendations, local rules, perishable markdown. */
int shelfd_act_init(struct shelfd *d);
void shelfd_act_fini(struct shelfd *d);
/* Write what must go with this turn's events (the rules' state) into the open transaction. */
void shelfd_act_flush(struct shelfd *d);
/*
 * An event was recorded: @body (its members as a tree) or, for sales, the
 * members as text (@members, @len); @ts_ms its own time. For the rules and
 * the zone content.
 */
void shelfd_act_event(struct shelfd *d, const char *source, const char *type, const cJSON *body,
		      const char *members, size_t len, int64_t ts_ms);
/* A POS record was recorded (after the event): recommendations, markdown lots. */
void shelfd_act_sale(struct shelfd *d, struct device *dev, const struct pos_summary *sum);
/* The price of @sku changed (HQ batch): its markdown plans again. */
void shelfd_act_price_changed(struct shelfd *d, const char *sku);
/* "never", "ok", "failing" for screen @name ("unknown" if there is none). */
const char *shelfd_act_screen_state(struct shelfd *d, const char *name);
int shelfd_cmd_screens(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
int shelfd_cmd_recs(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
int shelfd_cmd_rules(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
int shelfd_cmd_markdown(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz);
/* daemon.c: commit now (the inbox applies HQ messages in their own transaction). */
int shelfd_commit(struct shelfd *d);
/* daemon.c: events of @type were appended in this turn. */
void shelfd_note_type(struct shelfd *d, const char *type);

#endif
