/*
 * beam: people counting from light beams. See beam.h.
 *
 * Everything that happens "later" (a debounced level is confirmed, a block
 * has lasted long enough for an alert, a chatter window closes) has a due
 * time; beam_edge() and beam_tick() first run every due item up to their
 * time, oldest first, so the outcome never depends on when the caller ticks.
 * Both lines use the same debounce, so blocks are confirmed in the order of
 * their first edges and the crossing logic sees them in real order.
 *
 * Two lines: a block that is confirmed joins the crossing in progress (cur)
 * when the other line's block in it started at most cross_ms before, else
 * the older block is left alone (a U-turn if it turns out valid) and the new
 * one starts a new crossing. A line whose block in cur has ended may block
 * again while the other line is still blocked (a second person right
 * behind): that block waits in next, which becomes cur when cur resolves.
 * A crossing resolves when all its blocks have ended: two blocks = a pass
 * (or ambiguous), one = a U-turn. Glitches leave their crossing; a block
 * that raised a blocked alert drops its crossing.
 */
#include <stddef.h>
#include <string.h>

#include "beam.h"

#define MS_NS 1000000LL
#define SEC_NS 1000000000LL
#define NOT_DUE INT64_MAX
#define NO_WINDOW INT64_MIN

enum block_kind { BLOCK_VALID, BLOCK_GLITCH, BLOCK_LONG };

/* Due items, in the order they run when due at the same time. */
enum due_kind { DUE_BLOCK, DUE_CLEAR, DUE_ALERT, DUE_CHATTER };

void beam_conf_defaults(struct beam_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->two_lines = true;
	c->debounce_ms = 30;
	c->min_pulse_ms = 40;
	c->cross_ms = 1500;
	c->block_alert_ms = 10000;
	c->chatter_edges = 50;
}

const char *beam_alert_name(enum beam_alert a)
{
	switch (a) {
	case BEAM_BLOCKED:
		return "blocked";
	case BEAM_UNBLOCKED:
		return "unblocked";
	case BEAM_CHATTER:
		return "chatter";
	case BEAM_CHATTER_END:
		return "chatter_end";
	}
	return "unknown";
}

void beam_init(struct beam *b, const struct beam_conf *c, const struct beam_cbs *cbs)
{
	memset(b, 0, sizeof(*b));
	b->conf = *c;
	if (cbs)
		b->cbs = *cbs;
	for (int i = 0; i < 2; i++)
		b->l[i].chatter_window = NO_WINDOW;
}

static int nlines(const struct beam *b)
{
	return b->conf.two_lines ? 2 : 1;
}

static void raise_alert(struct beam *b, enum beam_alert a, int line, int64_t t)
{
	if (b->cbs.alert)
		b->cbs.alert(b->cbs.arg, a, line, t);
}

static void report_pass(struct beam *b, int dir, int64_t t)
{
	if (dir > 0)
		b->counts.in++;
	else
		b->counts.out++;
	if (b->cbs.pass)
		b->cbs.pass(b->cbs.arg, dir, t);
}

/* When @l's blocked alert is due: a confirmed block with no clear pending. */
static int64_t alert_due(const struct beam *b, const struct beam_line_state *l)
{
	if (!l->stable || l->pending || l->block_alerted)
		return NOT_DUE;
	return l->block_start + (int64_t)b->conf.block_alert_ms * MS_NS;
}

/* The earliest due item of @line; returns its time and sets @kind. */
static int64_t line_due(const struct beam *b, int line, enum due_kind *kind)
{
	const struct beam_line_state *l = &b->l[line];
	int64_t due = NOT_DUE, t;

	*kind = DUE_CHATTER;
	if (l->pending) {
		due = l->pending_since + (int64_t)b->conf.debounce_ms * MS_NS;
		*kind = l->stable ? DUE_CLEAR : DUE_BLOCK;
	}
	t = alert_due(b, l);
	if (t < due) {
		due = t;
		*kind = DUE_ALERT;
	}
	if (l->chattering) {
		t = l->chatter_window + SEC_NS;
		if (t < due) {
			due = t;
			*kind = DUE_CHATTER;
		}
	}
	return due;
}

static void crossing_clear(struct beam_crossing *c)
{
	memset(c, 0, sizeof(*c));
}

static bool crossing_empty(const struct beam_crossing *c)
{
	return !c->has[0] && !c->has[1];
}

/* cur is finished (resolved or dropped): next takes its place. */
static void crossing_advance(struct beam *b)
{
	b->cur = b->next;
	crossing_clear(&b->next);
	for (int i = 0; i < 2; i++) {
		if (b->l[i].owner == BEAM_OWN_NEXT)
			b->l[i].owner = BEAM_OWN_CUR;
	}
}

/* Every block of cur has ended: count it. */
static void crossing_resolve(struct beam *b)
{
	struct beam_crossing *c = &b->cur;

	if (c->has[0] && c->has[1]) {
		int64_t d = c->start[1] - c->start[0];

		if (d > -MS_NS && d < MS_NS)
			b->counts.ambiguous++;
		else if (d > 0)
			report_pass(b, +1, c->start[0]);
		else
			report_pass(b, -1, c->start[1]);
	} else if (c->has[0] || c->has[1]) {
		b->counts.uturn++;
	}
	crossing_advance(b);
}

/* Line @x's block is not a person: drop whatever crossing it is part of. */
static void crossing_drop(struct beam *b, int x)
{
	switch (b->l[x].owner) {
	case BEAM_OWN_CUR:
		for (int i = 0; i < 2; i++) {
			if (b->cur.has[i] && !b->cur.done[i] && b->l[i].owner == BEAM_OWN_CUR)
				b->l[i].owner = BEAM_OWN_IGNORE;
		}
		crossing_advance(b);
		break;
	case BEAM_OWN_NEXT:
		crossing_clear(&b->next);
		break;
	default:
		break;
	}
	b->l[x].owner = BEAM_OWN_IGNORE;
}

/* A block on line @x was confirmed; it started at @t. */
static void crossing_block_start(struct beam *b, int x, int64_t t)
{
	struct beam_crossing *c = &b->cur;
	int y = 1 - x;

	if (crossing_empty(c)) {
		c->has[x] = true;
		c->start[x] = t;
		b->l[x].owner = BEAM_OWN_CUR;
		return;
	}
	if (!c->has[x]) {
		/* y's block is in cur (and still on, or cur would be resolved). */
		if (t - c->start[y] <= (int64_t)b->conf.cross_ms * MS_NS) {
			c->has[x] = true;
			c->start[x] = t;
			b->l[x].owner = BEAM_OWN_CUR;
			return;
		}
		/* Too late to pair: y walked in and stays alone; x starts anew. */
		if (b->l[y].owner == BEAM_OWN_CUR)
			b->l[y].owner = BEAM_OWN_LONE;
		crossing_clear(c);
		c->has[x] = true;
		c->start[x] = t;
		b->l[x].owner = BEAM_OWN_CUR;
		return;
	}
	/* x's block in cur has ended, y's is still on: the next person. */
	if (crossing_empty(&b->next)) {
		b->next.has[x] = true;
		b->next.start[x] = t;
		b->l[x].owner = BEAM_OWN_NEXT;
		return;
	}
	b->l[x].owner = BEAM_OWN_LONE; /* cannot happen: next only ever holds x */
}

/* The confirmed block on line @x ended; @kind says what it was. */
static void crossing_block_end(struct beam *b, int x, enum block_kind kind)
{
	struct beam_line_state *l = &b->l[x];
	struct beam_crossing *c = &b->cur;

	if (kind == BLOCK_LONG && l->owner != BEAM_OWN_IGNORE)
		crossing_drop(b, x);
	switch (l->owner) {
	case BEAM_OWN_LONE:
		if (kind == BLOCK_VALID)
			b->counts.uturn++;
		break;
	case BEAM_OWN_NEXT:
		/* Left the first beam while the other was still blocked. */
		if (kind == BLOCK_VALID)
			b->counts.uturn++;
		crossing_clear(&b->next);
		break;
	case BEAM_OWN_CUR:
		if (kind == BLOCK_GLITCH)
			c->has[x] = false;
		else
			c->done[x] = true;
		l->owner = BEAM_OWN_NONE;
		if (crossing_empty(c))
			crossing_advance(b);
		else if ((!c->has[0] || c->done[0]) && (!c->has[1] || c->done[1]))
			crossing_resolve(b);
		break;
	default:
		break;
	}
	l->owner = BEAM_OWN_NONE;
}

/* Line @i's pending change has held for the debounce: take it. */
static void confirm(struct beam *b, int i)
{
	struct beam_line_state *l = &b->l[i];
	enum block_kind kind;
	int64_t dur;

	l->pending = false;
	l->stable = !l->stable;
	if (l->stable) {
		l->block_start = l->pending_since;
		l->block_alerted = false;
		if (b->conf.two_lines)
			crossing_block_start(b, i, l->block_start);
		return;
	}
	dur = l->pending_since - l->block_start;
	if (l->block_alerted) {
		l->block_alerted = false;
		raise_alert(b, BEAM_UNBLOCKED, i, l->pending_since);
		kind = BLOCK_LONG;
	} else if (dur < (int64_t)b->conf.min_pulse_ms * MS_NS) {
		b->counts.glitch++;
		kind = BLOCK_GLITCH;
	} else if (dur >= (int64_t)b->conf.block_alert_ms * MS_NS) {
		kind = BLOCK_LONG; /* not reached: the alert runs first */
	} else {
		kind = BLOCK_VALID;
	}
	if (b->conf.two_lines) {
		crossing_block_end(b, i, kind);
	} else {
		bool counted = l->owner != BEAM_OWN_IGNORE;

		l->owner = BEAM_OWN_NONE;
		if (kind == BLOCK_VALID && counted)
			report_pass(b, +1, l->block_start);
	}
}

/* Line @i's chatter window has ended while chattering. */
static void close_chatter_window(struct beam *b, int i)
{
	struct beam_line_state *l = &b->l[i];
	int64_t end = l->chatter_window + SEC_NS;

	if (l->chatter_n <= b->conf.chatter_edges) {
		l->chattering = false;
		raise_alert(b, BEAM_CHATTER_END, i, end);
	}
	l->chatter_window = end;
	l->chatter_n = 0;
}

/* Run every item due at or before @now, oldest first. */
static void advance(struct beam *b, int64_t now)
{
	for (;;) {
		int64_t best = NOT_DUE;
		enum due_kind best_kind = DUE_CHATTER, kind;
		int best_line = -1;

		for (int i = 0; i < nlines(b); i++) {
			int64_t t = line_due(b, i, &kind);

			if (t < best || (t == best && t != NOT_DUE && kind < best_kind)) {
				best = t;
				best_kind = kind;
				best_line = i;
			}
		}
		if (best_line < 0 || best > now)
			return;
		switch (best_kind) {
		case DUE_BLOCK:
		case DUE_CLEAR:
			confirm(b, best_line);
			break;
		case DUE_ALERT:
			b->l[best_line].block_alerted = true;
			raise_alert(b, BEAM_BLOCKED, best_line, best);
			if (b->conf.two_lines)
				crossing_drop(b, best_line);
			break;
		case DUE_CHATTER:
			close_chatter_window(b, best_line);
			break;
		}
	}
}

/* Count a raw edge on line @i in its 1 s window. */
static void count_chatter(struct beam *b, int i, int64_t t)
{
	struct beam_line_state *l = &b->l[i];

	/*
	 * A window starts at the first edge after the last one ended (while
	 * chattering, advance() keeps them back to back), so a burst is
	 * measured from its own start.
	 */
	if (l->chatter_window == NO_WINDOW || t < l->chatter_window ||
	    t - l->chatter_window >= SEC_NS) {
		l->chatter_window = t;
		l->chatter_n = 0;
	}
	l->chatter_n++;
	if (l->chatter_n > b->conf.chatter_edges && !l->chattering) {
		l->chattering = true;
		raise_alert(b, BEAM_CHATTER, i, t);
	}
}

void beam_edge(struct beam *b, int line, bool blocked, int64_t t_ns)
{
	struct beam_line_state *l;
	bool raw;

	if (line < 0 || line >= nlines(b))
		return;
	l = &b->l[line];
	advance(b, t_ns);
	b->counts.edges++;
	b->last_edge_ns = t_ns;
	l->last_edge = t_ns;
	count_chatter(b, line, t_ns);
	raw = l->pending ? !l->stable : l->stable;
	if (blocked == raw)
		return; /* no change (a repeated level) */
	if (l->pending) {
		/* Back to the confirmed level before the debounce: a bounce. */
		l->pending = false;
		b->counts.bounce++;
		if (!l->stable)
			b->counts.glitch++;
	} else {
		l->pending = true;
		l->pending_since = t_ns;
	}
	/* Debounce 0 confirms now; a reverted clear may make a blocked alert due. */
	advance(b, t_ns);
}

void beam_set_level(struct beam *b, int line, bool blocked, int64_t t_ns)
{
	struct beam_line_state *l;

	if (line < 0 || line >= nlines(b))
		return;
	l = &b->l[line];
	advance(b, t_ns);
	if (l->owner == BEAM_OWN_CUR || l->owner == BEAM_OWN_NEXT)
		crossing_drop(b, line);
	l->stable = blocked;
	l->pending = false;
	l->block_alerted = false;
	l->block_start = t_ns;
	l->owner = blocked ? BEAM_OWN_IGNORE : BEAM_OWN_NONE;
}

void beam_tick(struct beam *b, int64_t now_ns)
{
	advance(b, now_ns);
}

int64_t beam_next_deadline(const struct beam *b)
{
	int64_t best = NOT_DUE;
	enum due_kind kind;

	for (int i = 0; i < nlines(b); i++) {
		int64_t t = line_due(b, i, &kind);

		if (t < best)
			best = t;
	}
	return best;
}
