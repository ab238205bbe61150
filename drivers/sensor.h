/*
 * sensor: the Wi-Fi probe (probe_drv.c) and door/zone counter (camera.c)
 * drivers, and what they need from the host beyond struct device_host (set
 * as device->kind_host before start).
 */
#ifndef SHELF_SENSOR_H
#define SHELF_SENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "beam.h"
#include "device.h"
#include "probe.h"

struct sensor_host {
	/*
	 * A parsed probe sighting. @s->mac is the raw MAC: the host replaces it
	 * by pseudonyms at once and wipes it (the driver wipes its copy and the
	 * line after the call). @t_ms is the sniffer's time (see sensing.c for
	 * how it is checked against the store's clock).
	 */
	void (*sighting)(void *arg, struct device *d, struct probe_sighting *s);
	/* A person passed a counter: @dir +1 in, -1 out; @t_ms wall clock, epoch ms. */
	void (*pass)(void *arg, struct device *d, int dir, int64_t t_ms);
	void *arg;
};

extern const struct device_ops probe_ops;
extern const struct device_ops camera_ops;

/* Per-sniffer figures for `shelfctl sensors`. */
struct probe_stats {
	uint64_t lines; /* lines received (blank lines excluded) */
	uint64_t sightings; /* accepted */
	uint64_t rejects[PROBE_R_N]; /* per reason; [PROBE_OK] unused */
	uint64_t randomized; /* accepted sightings with a randomized MAC */
	double rate_1m; /* accepted sightings/s over the last minute */
	int64_t last_sighting_ms; /* wall clock, 0 = never */
};

void probe_get_stats(const struct device *d, struct probe_stats *st);

/* Per-counter figures for `shelfctl sensors`. */
struct camera_stats {
	bool open; /* the GPIO lines are requested */
	bool two_lines;
	bool blocked[2]; /* the beam is blocked now (confirmed level) */
	bool alert_blocked[2]; /* a blocked alert is outstanding */
	bool alert_chatter[2];
	struct beam_counts counts;
	uint64_t alerts; /* alerts raised so far */
	int64_t last_edge_ms; /* wall clock, 0 = never */
	double edges_1m; /* raw edges/s over the last minute */
};

void camera_get_stats(const struct device *d, struct camera_stats *st);

#endif
