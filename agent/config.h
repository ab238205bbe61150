/*
 * config: the daemon's configuration, loaded once from one JSON file
 * (DESIGN §5.3) and immutable afterwards. Runtime state lives elsewhere.
 *
 * The file may contain // and block comments (stripped before parsing).
 * Validation is strict and complete: every error is collected with the JSON
 * path it refers to ("$.devices[1].baud"), so `shelfd --check-config` can
 * print them all at once. Unknown keys are errors (they are usually typos).
 */
#ifndef SHELF_CONFIG_H
#define SHELF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CONF_NAME_MAX 32 /* device names: [A-Za-z0-9_.-]{1,32} */
#define CONF_STORE_MAX 64 /* store ids: [A-Za-z0-9_-]{1,64}, never "fleet" */
#define CONF_PATH_MAX 256
#define CONF_MAX_DEVICES 64
#define CONF_MAX_ERRORS 64
#define CONF_MAX_TILLS 16 /* "tills" of one screen */

enum dev_kind { DEV_POS, DEV_PROBE, DEV_CAMERA, DEV_ESL, DEV_SCREEN };

/* Returns "pos", "probe", ... */
const char *dev_kind_name(enum dev_kind k);

struct device_conf {
	char name[CONF_NAME_MAX + 1];
	enum dev_kind kind;
	/* serial devices (pos, probe, esl) */
	char port[CONF_PATH_MAX];
	unsigned baud; /* one of the standard termios rates, default 115200 */
	char format[16]; /* pos: "jsonl" (the only one so far) */
	/* camera */
	char chip[64];
	int line_a; /* required for camera */
	int line_b; /* -1 when absent */
	bool active_low; /* default false */
	unsigned debounce_ms; /* default 30 */
	char zone[64]; /* camera, screen, probe (a sniffer's zone, optional) */
	/* screen */
	char url[512];
	/* POS devices whose sales get recommendations on this screen (names, by index below). */
	char tills[CONF_MAX_TILLS][CONF_NAME_MAX + 1];
	size_t n_tills;
	unsigned max_items; /* recommendations per push, 1..12 (default 4) */
};

struct hq_conf {
	char host[256]; /* default "127.0.0.1" */
	int port; /* default 1883 (8883 when tls is set) */
	int keepalive; /* seconds, default 30, 5..3600 */
	char topic_prefix[128]; /* default "shelf/v1" */
	char tls_ca[CONF_PATH_MAX]; /* empty = no TLS */
	char tls_cert[CONF_PATH_MAX]; /* cert and key: both or neither */
	char tls_key[CONF_PATH_MAX];
	char username[128];
	char password_file[CONF_PATH_MAX]; /* read at connect time, never logged */
	unsigned batch_max_events; /* per MQTT message, default 500, 1..10000 */
	unsigned batch_max_bytes; /* per MQTT message, default 262144, 1024..8388608 */
	unsigned max_inflight; /* messages awaiting PUBACK, default 16, 1..1000 */
	unsigned backoff_min_ms; /* reconnect backoff, default 500 */
	unsigned backoff_max_ms; /* default 60000 */
};

/* "prices": what the gateway does with HQ's prices and the labels. */
struct prices_conf {
	/*
	 * A snapshot (full catalogue) lacks a SKU the store has: true (default,
	 * "not_for_sale") removes it, so its labels say "not for sale"; false
	 * ("keep") leaves its last price on the shelf.
	 */
	bool snapshot_remove_missing;
	unsigned label_summary_min; /* minutes between label summary events (default 15) */
};

/* "sensing": Wi-Fi visits, door counters and KPIs (README "Store sensing"). */
struct sensing_conf {
	int rssi_in; /* dBm: a sighting this strong or stronger is inside (default -70) */
	unsigned silence_min; /* a visit ends after this silence (default 15) */
	unsigned passer_max_min; /* dwell under this is a passer-by (default 2) */
	unsigned engaged_min; /* dwell over this is engaged (default 10) */
	unsigned staff_dwell_min; /* one visit this long is staff or a fixture (default 240) */
	unsigned staff_share_pct; /* present this share of the opening hours = staff (50) */
	unsigned open_min; /* opening time, minutes after local midnight ("open": "08:00") */
	unsigned close_min; /* closing time ("close": "22:00"); close <= open = open all day */
	unsigned interval_min; /* KPI and footfall interval (default 5; divides a day) */
	unsigned repeat_days; /* repeat-visit window, 1..30 (default 30) */
	unsigned max_sessions; /* open visits held in memory (default 20000) */
	unsigned silent_alert_min; /* an open sniffer quiet this long: alert (default 10) */
	char entrance_zone[64]; /* counters in this zone count entries (default "entrance") */
	/*
	 * "clock": "gateway" (default): the gateway's clock rules, device times
	 * far from it are not trusted; "devices": device times drive the
	 * sensing clock (replaying a recorded day: tests, the demo).
	 */
	bool devices_clock;
};

/* "screens": how guide screens are driven (README "Guide screens"). */
struct screens_conf {
	unsigned timeout_ms; /* one request, connect included (default 2000) */
	unsigned backoff_min_ms; /* first retry of a failing screen (default 1000) */
	unsigned backoff_max_ms; /* longest retry delay (default 60000) */
	/*
	 * A footfall interval of a zone's counter with at least this many
	 * entries, and at least twice the previous interval's, pushes the
	 * zone's content to its screens (default 10).
	 */
	unsigned zone_rise_min;
};

struct outbox_conf {
	unsigned max_mb; /* default 256, 1..65536 */
	bool sync_full; /* "full" (default) or "normal" */
};

struct config {
	char store_id[CONF_STORE_MAX + 1];
	char data_dir[CONF_PATH_MAX]; /* default "/var/lib/shelfd" */
	char control_socket[108]; /* default "/run/shelfd/ctl.sock" (sun_path size) */
	enum log_level log_level; /* default info */
	bool log_syslog; /* "log_target": "stderr" (default) | "syslog" */
	struct hq_conf hq;
	struct outbox_conf outbox;
	struct prices_conf prices;
	struct sensing_conf sensing;
	struct screens_conf screens;
	size_t n_devices;
	struct device_conf devices[CONF_MAX_DEVICES];
};

struct config_error {
	char path[128]; /* JSON path, "$" for the whole document */
	char msg[192];
};

struct config_errors {
	size_t n; /* errors stored (at most CONF_MAX_ERRORS) */
	size_t n_total; /* errors found, may exceed n */
	struct config_error e[CONF_MAX_ERRORS];
};

/* Fill @c with every default (store_id empty, no devices). */
void config_defaults(struct config *c);

/*
 * Parse and validate the JSON text @text (length @len, comments allowed)
 * into @c (which is first reset to defaults). Returns 0, or -EINVAL with
 * every problem in @errs. @c is unspecified after a failure.
 */
int config_parse(const char *text, size_t len, struct config *c, struct config_errors *errs);

/*
 * Read and parse the file @path. Returns 0, -EINVAL (errors in @errs), or a
 * negative errno from reading the file (also described in @errs with path "$").
 */
int config_load(const char *path, struct config *c, struct config_errors *errs);

#endif
