/*
 * kpi: store KPIs per interval and per local day (pure: no I/O, no clock).
 *
 * Inputs, each attributed by its own timestamp: entrance passes (entries,
 * exits), closed visits (by their last sighting: when the person left, so a
 * visit is known, silence_ms later, before its interval is final), sales
 * receipts. A bucket (an interval, or a day) becomes final, and is handed to
 * the caller once, when the clock passes its end + conf.hold_ms (hold_ms
 * covers the visit silence). Input for an interval that is final already is
 * counted as late in the oldest interval still open (and in its own day's
 * figures when that day is still open).
 *
 * Definitions (README "KPIs"):
 *   visitors      = visits of class visitor + engaged (staff excluded)
 *   capture_rate  = visitors / (visitors + passers_by): the share of phones
 *                   near the store that came in (the Wi-Fi analytics
 *                   "capture rate", as Cisco Meraki's Location Analytics)
 *   conversion    = receipts (kind sale) / entries
 *   dwell avg/median over visitors (median from 30 s bins up to 6 h)
 *   repeat_share  = repeat visitors / non-randomized visitors
 * A ratio whose denominator is 0 has no value (has_* false; null in JSON).
 */
#ifndef SHELF_KPI_H
#define SHELF_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"
#include "visits.h"

struct kpi_conf {
	int64_t interval_ms; /* default 5 min; divides a day */
	int64_t hold_ms; /* default 16 min (visit silence + 1 min) */
};

void kpi_conf_defaults(struct kpi_conf *c);

enum kpi_period { KPI_INTERVAL = 0, KPI_DAY };

struct kpi_figures {
	enum kpi_period period;
	int64_t from_ms, to_ms; /* [from, to) */
	uint64_t entries, exits;
	uint64_t visitors; /* visitor + engaged */
	uint64_t engaged;
	uint64_t passers_by;
	uint64_t staff; /* staff/fixture visits, excluded from the above */
	uint64_t randomized; /* visitors with a randomized MAC */
	uint64_t repeat; /* repeat visitors */
	uint64_t receipts;
	uint64_t late; /* inputs for a bucket that was final already (see above) */
	bool has_capture, has_conversion, has_dwell, has_repeat;
	double capture_rate; /* 0..1 */
	double conversion; /* may exceed 1 (several receipts per entry) */
	double dwell_avg_s, dwell_median_s;
	double repeat_share; /* 0..1 */
};

struct kpi;

typedef void (*kpi_cb)(void *arg, const struct kpi_figures *f);

/* A new aggregator whose first bucket starts at the interval containing @now_ms. */
struct kpi *kpi_new(const struct kpi_conf *c, int64_t now_ms);
void kpi_free(struct kpi *k);

void kpi_pass(struct kpi *k, int dir /* +1 entry, -1 exit */, int64_t t_ms);
void kpi_visit(struct kpi *k, const struct visit *v);
void kpi_receipt(struct kpi *k, int64_t t_ms);

/* The clock moved to @now_ms: hand every bucket that became final to @cb (oldest first). */
void kpi_advance(struct kpi *k, int64_t now_ms, kpi_cb cb, void *arg);

/*
 * Running figures for `shelfctl kpi`: @period KPI_DAY = the day containing
 * @now_ms so far; KPI_INTERVAL = the interval containing @now_ms so far.
 */
void kpi_current(const struct kpi *k, enum kpi_period period, int64_t now_ms,
		 struct kpi_figures *out);
/* The last final interval / day handed out (false when none yet). */
bool kpi_last(const struct kpi *k, enum kpi_period period, struct kpi_figures *out);

/*
 * State across restarts: kpi_save writes the open buckets and the last
 * final ones to @out (a versioned binary blob); kpi_load restores them into
 * a fresh aggregator. Returns 0, or -EINVAL for a blob it does not
 * understand (the aggregator is left as new).
 */
int kpi_save(const struct kpi *k, struct dynbuf *out);
int kpi_load(struct kpi *k, const void *blob, size_t len);

#endif
