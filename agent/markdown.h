/*
 * markdown: perishable markdown (issue 5, item 4): the HQ "markdown.set"
 * command parser and a pure planner that says which price a SKU should carry
 * next, and when. No I/O, no clock, no allocation: times are passed in (Unix
 * epoch ms), the configuration and the state are plain structs (no pointers)
 * that the daemon stores as they are (SQLite rows or a blob) and restores
 * after a restart. The daemon applies every step through the normal price
 * path (labels and integrity checks follow) and reports it to HQ.
 *
 * Command (on shelf/v1/{store}/cmd):
 *   {"id":"c-1","issued_at":"<RFC 3339>","action":"markdown.set",
 *    "sku":"690..","regular":1290,"floor":390,"max_changes_per_day":3,
 *    "table":[{"hours_left":24,"percent":20},{"hours_left":8,"percent":40},
 *             {"hours_left":2,"percent":60}],
 *    "lots":[{"lot":"L1","expires_at":"<RFC 3339>","quantity":40}]}
 * One command configures one SKU and replaces its previous configuration
 * (markdown_state_carry() keeps what is known of lots that stay).
 *
 * Parse rules (error paths in brackets; every error is listed, like prices.h):
 * - the payload is at most MARKDOWN_CMD_MAX bytes (more: -EMSGSIZE, one
 *   error at ""), valid UTF-8, one JSON object, nesting at most
 *   MARKDOWN_MAX_DEPTH; a syntax error is ONE error at "" with its byte
 *   offset and nothing else is checked;
 * - a KNOWN key given twice in an object: "duplicate key" at the later one,
 *   whose value is ignored; unknown keys are ignored anywhere (repeated ones
 *   too); null is a type error (every field here is required);
 * - id [id]: 1..128 bytes of printable ASCII; issued_at: RFC 3339; action:
 *   exactly "markdown.set";
 * - sku: price_sku_valid(); regular: integer literal 1..PRICE_MONEY_MAX (a
 *   fraction or exponent, even 1290.0, is refused: money is integer minor
 *   units); floor: integer literal 0..PRICE_MONEY_MAX and not above regular
 *   (error at floor); max_changes_per_day: integer 1..MARKDOWN_CHANGES_MAX;
 * - table [table[i].hours_left, table[i].percent]: 1..MARKDOWN_MAX_ROWS
 *   objects (more: one error "too many rows", the rows are not examined);
 *   hours_left integer 1..MARKDOWN_HOURS_MAX, percent integer 1..99; rows go
 *   from the most hours left to the fewest: hours_left strictly decreasing
 *   and percent strictly increasing in document order (checked against the
 *   previous row when both are valid; error at the later row's field);
 * - lots [lots[j].lot, .expires_at, .quantity]: 0..MARKDOWN_MAX_LOTS objects
 *   (an empty array: no lot to mark down, the price goes back to regular);
 *   lot 1..64 bytes of [A-Za-z0-9._-], unique in the command ("duplicate lot
 *   L1, also at lots[0]"); expires_at RFC 3339; quantity integer
 *   1..MARKDOWN_QTY_MAX;
 * - a missing field is reported at its path ("lots[2].quantity": "missing
 *   field") after the errors found inside its object; floor above regular
 *   comes last of all.
 * Errors otherwise come in document order.
 *
 * Planning rules. Let H = 3,600,000 ms.
 * - A lot is LIVE at time t while t < expires_at and sold < quantity (the
 *   daemon reports sales with markdown_sale()); it ENDS at its expiry or when
 *   its last unit is sold, whichever comes first, and never comes back.
 * - Hours left are real elapsed time (expires_at - t), not wall-clock hours:
 *   a row of 24 hours applies from expires_at - 24 H even across a DST change.
 * - The percent of a live lot at t is that of the last row (fewest hours
 *   left) with expires_at - t <= hours_left * H, or 0 before the first row.
 * - The most urgent lot at t is the live lot with the earliest expires_at
 *   (ties: document order). With the table's order it has the largest
 *   percent of all live lots, so its markdown is the SKU's target.
 * - Target price at t: regular when no lot is live or its percent is 0;
 *   otherwise max(floor, regular * (100 - percent) / 100), the division
 *   rounding DOWN to the minor unit (1290 at 20% is 1032; 999 at 33% is
 *   669.33, so 669); a price the floor raised is marked "floored".
 * - Our markdown is IN EFFECT when the state holds an applied lot and the
 *   current price equals the price we applied (anything else set the price
 *   since: an HQ price batch, a promo; we then do not fight it).
 * - The wanted price at t, from the current price c:
 *     in effect and the applied lot live at t:  min(target, c): never raise
 *        a marked-down price before its lot ends, even when a new command
 *        lowers the percents or raises the floor;
 *     in effect and the applied lot ended:      target (back to regular, or
 *        the markdown another live lot needs, which may be higher or lower);
 *     not in effect:                            target if it is a markdown
 *        (below regular) and below c, else c (nothing to do: we never raise
 *        a price we did not set, and a lower promo stays).
 * - Daily limit: at most max_changes_per_day price changes per local day
 *   (local_day_start_ms(): the gateway's TZ, DST-aware: a store day can be
 *   23 or 25 hours). Every change counts, markdowns and returns to regular
 *   alike, on the day it was APPLIED (markdown_applied()'s now).
 * - A change the daily limit blocks WAITS for the start of the next local
 *   day and is then planned afresh: what is applied at that midnight is the
 *   price wanted at that time. So a later step that became due meanwhile
 *   SUPERSEDES the blocked one (which is skipped, never applied late), a lot
 *   that ended meanwhile needs no markdown any more, and if the wanted price
 *   is then the current one nothing happens.
 * - The same goes for a step the daemon missed (down, clock jump): the
 *   planner never replays past steps; it gives the price wanted now.
 *
 * Protocol for the daemon (per SKU): after a command, a sale, a price change
 * of the SKU, a restart or a timer: markdown_next(now). If the step's at_ms
 * <= now, apply its price now, then markdown_applied() and plan again;
 * otherwise arm a timer for at_ms (and plan again when it fires: a step is a
 * forecast that a sale or a command may change).
 */
#ifndef SHELF_MARKDOWN_H
#define SHELF_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prices.h" /* struct price_errors, price_sku_valid(), PRICE_* limits */

#define MARKDOWN_CMD_MAX (64u * 1024) /* bytes of a markdown.set command */
#define MARKDOWN_MAX_DEPTH 32
#define MARKDOWN_MAX_ROWS 16
#define MARKDOWN_MAX_LOTS 64
#define MARKDOWN_LOT_MAX 64 /* bytes of a lot id */
#define MARKDOWN_HOURS_MAX 720 /* 30 days */
#define MARKDOWN_CHANGES_MAX 100 /* max_changes_per_day */
#define MARKDOWN_QTY_MAX 1000000000LL

struct markdown_row {
	unsigned hours_left; /* 1..MARKDOWN_HOURS_MAX, strictly decreasing */
	unsigned percent; /* 1..99, strictly increasing */
};

struct markdown_lot {
	char id[MARKDOWN_LOT_MAX + 1];
	int64_t expires_at_ms;
	int64_t quantity; /* 1..MARKDOWN_QTY_MAX */
};

/* A parsed markdown.set command: plain data, no pointers. */
struct markdown_cfg {
	char id[PRICE_ID_MAX + 1]; /* the command id (the ack's "ref") */
	int64_t issued_at_ms;
	char sku[PRICE_SKU_MAX + 1];
	int64_t regular; /* minor units, 1..PRICE_MONEY_MAX */
	int64_t floor; /* minor units, 0..regular */
	unsigned max_changes_per_day; /* 1..MARKDOWN_CHANGES_MAX */
	size_t n_rows;
	struct markdown_row rows[MARKDOWN_MAX_ROWS];
	size_t n_lots;
	struct markdown_lot lots[MARKDOWN_MAX_LOTS];
};

/*
 * Parse and validate the command in @buf[0..len) (need not be
 * NUL-terminated; NULL if @len is 0) into *@out, collecting every error in
 * *@errs (reset first). Returns:
 *   0          valid: *@out is filled, @errs->total == 0;
 *   -EINVAL    invalid: @errs holds the errors; *@out is zeroed except
 *              @out->id, which holds the command id when "id" itself was
 *              valid, else ""; also returned, with nothing filled, when @out
 *              or @errs is NULL;
 *   -EMSGSIZE  @len > MARKDOWN_CMD_MAX: one error at "", *@out zeroed.
 * Allocates nothing; nothing to free.
 */
int markdown_cmd_parse(const char *buf, size_t len, struct markdown_cfg *out,
		       struct price_errors *errs);

/*
 * What the planner must remember between calls, per SKU (plain data: store
 * it with the configuration). @sold[j] belongs to @cfg->lots[j].
 */
#define MARKDOWN_LOT_ENDED MARKDOWN_MAX_LOTS /* applied_lot: a lot a new command dropped */

struct markdown_state {
	int64_t sold[MARKDOWN_MAX_LOTS]; /* units sold of each lot, 0..quantity */
	/*
	 * Index of the lot of the markdown we applied; -1: none (nothing applied,
	 * or back to regular); MARKDOWN_LOT_ENDED: its lot is not in the current
	 * command any more and counts as ended.
	 */
	int applied_lot;
	int64_t applied_price; /* the price we last applied (markdown or regular); -1: none */
	int64_t day_ms; /* local_day_start_ms() of the day @changes counts; 0: none */
	unsigned changes; /* price changes applied on that day */
};

/* A fresh state: nothing sold, nothing applied, no change made. */
void markdown_state_init(struct markdown_state *st);

/*
 * A new command @ncfg replaces @ocfg: fill *@nst from *@ost. Sales of lots
 * whose id is in both carry over (capped at the new quantity); the applied
 * markdown carries over, pointing at its lot in @ncfg, or at
 * MARKDOWN_LOT_ENDED when @ncfg dropped that lot (it has ended: the price
 * goes back to regular or to another lot's markdown); the day's change count always carries over (the limit
 * is per SKU, not per command). @nst may not alias @ost.
 */
void markdown_state_carry(const struct markdown_cfg *ocfg, const struct markdown_state *ost,
			  const struct markdown_cfg *ncfg, struct markdown_state *nst);

/*
 * Record the sale of @qty (>= 1) units at @t_ms: they are taken from the lots
 * live at @t_ms, earliest expiry first (first expired, first out). Returns
 * the units no live lot could take (0 normally; more when the store sells
 * stock HQ did not list), or -EINVAL for @qty < 1 or a NULL argument.
 */
int64_t markdown_sale(const struct markdown_cfg *cfg, struct markdown_state *st, int64_t qty,
		      int64_t t_ms);

/* True if lot @j is live at @t_ms (see the rules above). */
bool markdown_lot_live(const struct markdown_cfg *cfg, const struct markdown_state *st, size_t j,
		       int64_t t_ms);

/* The target price (see the rules) at @t_ms, ignoring the current price and the limit. */
struct markdown_target {
	int64_t price;
	int lot; /* the most urgent live lot; -1: none */
	unsigned percent; /* 0: no markdown (price is regular) */
	bool floored; /* the floor raised the price */
};
void markdown_target_at(const struct markdown_cfg *cfg, const struct markdown_state *st,
			int64_t t_ms, struct markdown_target *out);

enum markdown_kind {
	MARKDOWN_NONE = 0, /* nothing to do, now or later (until a sale or a command) */
	MARKDOWN_SET, /* set a markdown price for lot @lot */
	MARKDOWN_RESTORE, /* back to regular: the applied lot ended */
};

struct markdown_step {
	enum markdown_kind kind;
	int64_t at_ms; /* when: >= now; == now when due (or overdue) */
	int64_t price; /* the new price, minor units */
	int lot; /* SET: the lot marked down; RESTORE: the lot that ended (-1 if unknown) */
	unsigned percent; /* SET: the row's percent; RESTORE: 0 */
	bool floored; /* SET: the floor raised the price */
	bool delayed; /* the daily limit moved it to the start of a local day */
};

/*
 * The next price change for the SKU at or after @now_ms, given the current
 * price @current (what the price table shows now) into *@out. Returns
 * @out->kind (MARKDOWN_NONE also when @cfg or @st or @out is NULL).
 */
enum markdown_kind markdown_next(const struct markdown_cfg *cfg, const struct markdown_state *st,
				 int64_t current, int64_t now_ms, struct markdown_step *out);

/*
 * The daemon applied @step at @now_ms: remember the applied lot and price and
 * count the change on @now_ms's local day.
 */
void markdown_applied(struct markdown_state *st, const struct markdown_step *step, int64_t now_ms);

/* "none", "set", "restore". */
const char *markdown_kind_name(enum markdown_kind k);

#endif
