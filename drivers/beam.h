/*
 * beam: people counting from one or two light beams (pure logic: edges in,
 * passes and alerts out; no I/O, no clock; times in ns of one monotonic
 * clock).
 *
 * Levels: the caller passes whether the beam is blocked after each edge
 * (active_low already applied). Debounce: a level change is only taken once
 * it has held for conf.debounce_ms (a change that reverts sooner is a bounce
 * and counted; when it was a block it also counts as a glitch). A block
 * shorter than conf.min_pulse_ms is a glitch (counted, ignored). The time of
 * a block is the time of its first edge, not of its confirmation, so the
 * debounce never reorders two beams.
 *
 * One line: each block is one person (direction +1).
 * Two lines (A outside, B inside): A's block starting before B's = in (+1),
 * B before A = out (-1), when the second block starts within conf.cross_ms
 * of the first; starts less than 1 ms apart are ambiguous (counted, not a
 * pass); a block of one beam that ends without the other being blocked is a
 * U-turn (counted, not a pass). The pass is reported when both beams are
 * clear again, with the time of the first block.
 *
 * Alerts: a beam blocked for conf.block_alert_ms (BEAM_BLOCKED, once, then
 * BEAM_UNBLOCKED when it clears); more than conf.chatter_edges raw edges
 * within one second on a line (BEAM_CHATTER once, BEAM_CHATTER_END after a
 * whole second below the limit).
 */
#ifndef SHELF_BEAM_H
#define SHELF_BEAM_H

#include <stdbool.h>
#include <stdint.h>

struct beam_conf {
	bool two_lines;
	unsigned debounce_ms; /* default 30 */
	unsigned min_pulse_ms; /* default 40 */
	unsigned cross_ms; /* default 1500 */
	unsigned block_alert_ms; /* default 10000 */
	unsigned chatter_edges; /* per second, default 50 */
};

void beam_conf_defaults(struct beam_conf *c);

enum beam_alert { BEAM_BLOCKED, BEAM_UNBLOCKED, BEAM_CHATTER, BEAM_CHATTER_END };

/* "blocked", "unblocked", "chatter", "chatter_end". */
const char *beam_alert_name(enum beam_alert a);

struct beam_counts {
	uint64_t in, out;
	uint64_t uturn;
	uint64_t ambiguous;
	uint64_t glitch;
	uint64_t bounce;
	uint64_t edges; /* raw edges seen, both lines */
};

struct beam_cbs {
	/* A person passed: @dir +1 in, -1 out; @t_ns the first block's start. */
	void (*pass)(void *arg, int dir, int64_t t_ns);
	/* An alert on @line (0 = A, 1 = B) at @t_ns. */
	void (*alert)(void *arg, enum beam_alert a, int line, int64_t t_ns);
	void *arg;
};

/* Which crossing a line's ongoing block belongs to (internal). */
enum beam_owner { BEAM_OWN_NONE, BEAM_OWN_CUR, BEAM_OWN_NEXT, BEAM_OWN_LONE, BEAM_OWN_IGNORE };

struct beam_line_state {
	bool stable; /* confirmed level: blocked? */
	bool pending; /* a change waiting for its debounce */
	int64_t pending_since; /* first edge of that change */
	int64_t block_start; /* first edge of the confirmed block */
	bool block_alerted; /* BEAM_BLOCKED raised for this block */
	enum beam_owner owner; /* of the confirmed block (two lines) */
	int64_t chatter_window; /* start of the current 1 s window */
	unsigned chatter_n; /* raw edges in it */
	bool chattering;
	int64_t last_edge;
};

/*
 * A crossing (two lines, internal): the blocks of each line that belong to
 * it (has), when each started and which have ended (done).
 */
struct beam_crossing {
	bool has[2];
	bool done[2];
	int64_t start[2];
};

struct beam {
	struct beam_conf conf;
	struct beam_cbs cbs;
	struct beam_line_state l[2];
	/*
	 * The crossing in progress, and the next one: a line whose block in
	 * cur has ended may block again (a second person) while the other
	 * line is still blocked by the first.
	 */
	struct beam_crossing cur, next;
	struct beam_counts counts;
	int64_t last_edge_ns; /* 0 = none yet */
};

void beam_init(struct beam *b, const struct beam_conf *c, const struct beam_cbs *cbs);
/* An edge on @line: the beam is @blocked from @t_ns on. Edges arrive in time order per line. */
void beam_edge(struct beam *b, int line, bool blocked, int64_t t_ns);
/*
 * Set @line's confirmed level at @t_ns without an edge (the level found when
 * the lines are opened): a block found on is not counted as a person when it
 * clears, but raises the blocked alert if it lasts.
 */
void beam_set_level(struct beam *b, int line, bool blocked, int64_t t_ns);
/* Time passed to @now_ns: confirm held levels, raise blocked alerts. */
void beam_tick(struct beam *b, int64_t now_ns);
/* The earliest time beam_tick has something to do, or INT64_MAX. */
int64_t beam_next_deadline(const struct beam *b);

#endif
