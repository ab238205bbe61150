/*
 * visits: turns pseudonymous Wi-Fi sightings into visits (pure: no I/O, no
 * clock; every time is passed in, epoch ms).
 *
 * Per day pseudonym a session opens on its first sighting and closes when it
 * has been silent for conf.silence_ms (visits_advance). A session that never
 * had a sighting at or above conf.rssi_in dBm, or whose dwell (last - first)
 * is under conf.passer_max_ms, is a passer-by; dwell over conf.engaged_min_ms
 * is engaged; otherwise a visitor. Staff and fixtures are excluded from the
 * visitor figures (class VISIT_STAFF): a session whose dwell reaches
 * conf.staff_dwell_ms, or a pseudonym whose presence today (the sum of its
 * sessions' dwell) reaches conf.staff_share_pct of the opening hours.
 *
 * Repeat visits: a visitor or engaged visit by a non-randomized MAC whose
 * repeat pseudonym (either live repeat key) closed an earlier such visit
 * within conf.repeat_window_ms is a repeat. The repeat table is in memory
 * only, bounded by conf.max_repeat (the oldest entry is forgotten first).
 *
 * Memory is bounded: at most conf.max_sessions open sessions. A sighting
 * that would open one more first evicts the session silent the longest if
 * that one had a single sighting (evicted: floods of random MACs are made of
 * those); otherwise it is dropped and counted (table_full).
 */
#ifndef SHELF_VISITS_H
#define SHELF_VISITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pseudo.h"

struct visits_conf {
	int rssi_in; /* dBm; default -70 */
	int64_t silence_ms; /* default 15 min */
	int64_t passer_max_ms; /* dwell under this = passer-by; default 2 min */
	int64_t engaged_min_ms; /* dwell over this = engaged; default 10 min */
	int64_t staff_dwell_ms; /* one session this long = staff; default 4 h */
	unsigned staff_share_pct; /* of the opening hours, per day; default 50 */
	int64_t open_ms; /* opening hours: ms after local midnight; default 08:00 */
	int64_t close_ms; /* default 22:00; close <= open means open all day */
	int64_t repeat_window_ms; /* default 30 days */
	size_t max_sessions; /* default 20000 */
	size_t max_repeat; /* default 65536 */
};

/* Fill @c with the defaults above. */
void visits_conf_defaults(struct visits_conf *c);

enum visit_class { VISIT_PASSER = 0, VISIT_VISITOR, VISIT_ENGAGED, VISIT_STAFF, VISIT_CLASS_N };

/* "passer_by", "visitor", "engaged", "staff". */
const char *visit_class_name(enum visit_class c);

struct visits_sighting {
	struct pseudo_ids ids;
	int64_t t_ms;
	int rssi;
	bool randomized;
	uint16_t zone; /* index of the sniffer's zone (the caller's table) */
};

struct visit {
	uint64_t pseudonym; /* day pseudonym (the newest one, after midnight) */
	int64_t first_ms, last_ms; /* dwell = last - first */
	int max_rssi;
	uint16_t zone; /* zone of the strongest sighting */
	uint32_t sightings;
	enum visit_class cls;
	bool randomized;
	bool repeat; /* see above; always false for randomized, staff, passers-by */
};

struct visits_stats {
	size_t open; /* open sessions */
	size_t open_inside; /* ... of which had a sighting >= rssi_in */
	size_t repeat_entries; /* pseudonyms in the repeat table */
	uint64_t sightings; /* accepted by visits_sighting */
	uint64_t table_full; /* sightings dropped: max_sessions reached */
	uint64_t evicted; /* lone-sighting sessions forgotten to make room (table full) */
	uint64_t late; /* sightings older than their session's last (kept, counted) */
	uint64_t closed[VISIT_CLASS_N]; /* closed visits per class */
	uint64_t repeats;
	uint64_t midnight_joins; /* sessions continued under a new day key */
};

struct visits;

/* A closed visit, handed to the caller by visits_advance/visits_flush. */
typedef void (*visits_cb)(void *arg, const struct visit *v);

/* Returns NULL on allocation failure. @c is copied. */
struct visits *visits_new(const struct visits_conf *c);
void visits_free(struct visits *v);

/*
 * One sighting. The session is looked up by ids.day, then (when
 * ids.has_day_prev) by ids.day_prev, in which case it is re-keyed to ids.day
 * (a visit across midnight stays one visit). A sighting older than its
 * session's last is counted as late and only widens first/last.
 */
void visits_sighting(struct visits *v, const struct visits_sighting *s);

/*
 * The clock moved to @now_ms: close every session silent since
 * now - silence_ms or earlier (cb for each, in closing order), and start a
 * new day's staff figures when @now_ms is past a local midnight.
 */
void visits_advance(struct visits *v, int64_t now_ms, visits_cb cb, void *arg);

/* Close every open session now (shutdown), calling @cb. */
void visits_flush(struct visits *v, visits_cb cb, void *arg);

void visits_get_stats(const struct visits *v, struct visits_stats *st);

/*
 * Open sessions by what their class would be if they closed at @now_ms
 * (@counts has VISIT_CLASS_N entries), for `shelfctl visits --open`.
 */
void visits_open_classes(const struct visits *v, int64_t now_ms, uint64_t *counts);

#endif
