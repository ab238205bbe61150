/*
 * device: what every device driver shares. One device kind = one module
 * behind a const struct device_ops; the driver's per-instance state hangs off
 * device->priv; the device's configuration (read-only) is device->conf.
 *
 * Drivers never touch the database or MQTT: they hand parsed records to the
 * host through host->emit(), which stamps, commits (at the end of the loop
 * turn) and forwards them.
 */
#ifndef SHELF_DEVICE_H
#define SHELF_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "loop.h"

struct device;
struct pos_summary;

struct device_host {
	struct loop *loop;
	/*
	 * Record an event from @d: @type ("sale", "alert"...), @body an object
	 * whose members follow ts/type/source in the event (borrowed: the host
	 * may normalize its numbers in place, the caller still frees it),
	 * @ts_ms the event time (0 = now). Returns 0 or a negative errno (the
	 * event was not recorded; the driver counts it).
	 */
	int (*emit)(void *arg, struct device *d, const char *type, cJSON *body, int64_t ts_ms);
	/*
	 * The same for a body already written as JSON text: @members are the
	 * members without braces ("kind":"sale",...), @len bytes; @what, @ref and
	 * @total summarize it for `shelfctl events` (sale: kind, receipt, total).
	 * This is the hot path (every sale): no tree is built.
	 */
	int (*emit_text)(void *arg, struct device *d, const char *type, const char *members,
			 size_t len, int64_t ts_ms, const char *what, const char *ref,
			 int64_t total);
	/*
	 * A sale line that was just recorded (by emit_text): the till charged
	 * @unit_price for @sku on @receipt. For price integrity. May be NULL.
	 */
	void (*sale_line)(void *arg, struct device *d, const char *receipt, const char *sku,
			  int64_t unit_price);
	/*
	 * The whole record was recorded (after its sale_line calls): @sum has
	 * its kind, receipt, time and first lines (sku, qty). For the store's
	 * own reactions (recommendations, markdown lots). May be NULL.
	 */
	void (*sale_done)(void *arg, struct device *d, const struct pos_summary *sum);
	void *arg;
};

enum device_state { DEVICE_DOWN = 0, DEVICE_OPEN };

struct device_stats {
	enum device_state state;
	uint64_t lines_ok; /* records accepted */
	uint64_t errors; /* lines rejected (bad JSON, too long, ...) */
	uint64_t reconnects; /* times the port was reopened after vanishing */
	char last_error[224];
	int64_t last_error_ms; /* wall clock, 0 = never */
	int64_t last_seen_ms; /* last byte received, 0 = never */
	int64_t state_since_ms;
};

struct device_ops {
	const char *kind;
	/* Allocate priv and start (open the port, watch it). Opening failures
	 * are not errors: the driver retries with backoff. Returns 0 or -ENOMEM. */
	int (*start)(struct device *d);
	/* Stop and free priv. Safe after a failed start. */
	void (*stop)(struct device *d);
};

struct device {
	const struct device_conf *conf;
	const struct device_ops *ops;
	const struct device_host *host;
	/* What a kind needs beyond device_host (esl: struct esl_host), set before start. */
	const void *kind_host;
	void *priv;
	struct device_stats st;
};

/* The ops table for @kind, or NULL when this build has no driver for it. */
const struct device_ops *device_ops_for(enum dev_kind kind);

/* Record an input error on @d (counted, remembered, logged with the device name). */
void device_error(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Remember a port problem on @d (not counted as an input error; not logged). */
void device_note(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const struct device_ops pos_ops;

#endif
