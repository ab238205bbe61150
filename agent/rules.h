/*
 * rules: the local rules engine (issue 5, item 3). HQ pushes a versioned set
 * of rules "when <event> [and not <event> within <duration>] then <action>";
 * the gateway runs them, even with HQ away. Two pure parts, no I/O, no clock
 * (every time is passed in, Unix epoch ms; "now" is the wall clock):
 *  - rules_parse(): the rules.set command, validated like a price batch
 *    (all-or-nothing, EVERY error with its JSON path);
 *  - the engine: events in (type, own timestamp, fields as a cJSON object),
 *    the actions to run out, with the "not within" windows as timers the
 *    daemon drives (rules_next_deadline / rules_advance) and persists
 *    (rules_state_save / rules_state_load) so a window spanning a restart
 *    fires on time.
 *
 * ---- The command (topic shelf/v1/{store}/cmd) ----
 *   {"id":"c-1","issued_at":"<RFC 3339>","action":"rules.set","version":3,
 *    "rules":[{"name":"dairy-crowd-no-sale",
 *              "when":{"event":"footfall","where":{"zone":"dairy","in":{"gte":20}}},
 *              "unless"?:{"event":"sale","where":{"sku":{"in":["690..",".."]}},
 *                         "within":"30m"},
 *              "then":<action>,
 *              "cooldown"?:"1h"}, ...]}
 *   <action> is one of
 *     {"action":"alert","message":"..."}
 *     {"action":"screen","zone":"dairy","headline"?:"..","items"?:[{"sku":"..","headline"?:".."}]}
 *     {"action":"flash","sku":".."}
 *     {"action":"price","sku":"..","price":990,"for":"2h"}
 * The set replaces the previous one whole; "rules":[] removes every rule.
 * Comparing versions (ignore older/equal ones) is the daemon's job.
 *
 * Rules (error paths in brackets; messages are for people, the paths exact):
 * - the payload is at most RULES_CMD_MAX bytes (else -EMSGSIZE, one error at
 *   ""), valid UTF-8, one JSON object, nesting <= RULES_MAX_DEPTH; a syntax
 *   error (NaN and Infinity are syntax errors in JSON) is ONE error at ""
 *   with the byte offset; nothing else is checked then;
 * - a key given twice in any object, known or not, at any depth: error at
 *   the later key's path ("rules[3].then.sku"), and that value is ignored;
 * - unknown keys are ignored (HQ adds fields), EXCEPT inside an operator
 *   object (below), where an unknown operator would silently widen a match;
 * - null for an optional field means absent, for a required one it is a type
 *   error; \u0000 is refused in every string;
 * - id [id]: string, 1..128 bytes of printable ASCII; issued_at [issued_at]:
 *   RFC 3339; action [action]: "rules.set"; version [version]: a JSON integer
 *   >= 1 (12.0 or 1e1 are not integers);
 * - rules [rules]: array of at most RULES_MAX rules (more: one error "too
 *   many rules: N > 1000", the rules are not examined); each [rules[i]] an
 *   object with:
 *   - name [rules[i].name]: 1..64 bytes of [A-Za-z0-9_.-], unique in the set
 *     (the later one is the error: "duplicate rule name X, also at rules[j]");
 *   - when [rules[i].when] (required), unless [rules[i].unless] (optional):
 *     objects with event [.event]: 1..32 bytes of [a-z0-9_], starting with a
 *     letter (the daemon's event types: sale, footfall, visit, kpi, alert,
 *     label, screen, integrity, ...; any such name is accepted), and where
 *     [.where] (optional): an object mapping a field name (1..64 bytes of
 *     [A-Za-z0-9_]; the error is at the field's path) to a string or a JSON
 *     integer (equality), or to an operator object [.where.F.OP] with one or
 *     more of eq, ne (a string or an integer), gt, gte, lt, lte (an integer),
 *     in (an array of 1..RULES_IN_MAX strings or integers [.in[k]]); an empty
 *     operator object is an error at the field, an unknown operator at its
 *     key; at most RULES_MAX_CONDS conditions in one where (each operator
 *     counts; more: "too many conditions" at where); strings <=
 *     RULES_VALUE_MAX bytes;
 *   - unless.within [rules[i].unless.within]: required, a duration;
 *   - then [rules[i].then] (required): an object whose action [then.action]
 *     is "alert", "screen", "flash" or "price"; then, by action: alert:
 *     message (1..RULES_MESSAGE_MAX bytes, no control characters: C0, DEL,
 *     C1); screen: zone (1..64 bytes of [A-Za-z0-9_-]), headline (optional,
 *     1..RULES_HEADLINE_MAX bytes, no control characters), items (optional,
 *     array of at most RULES_SCREEN_ITEMS objects [then.items[k]] with sku
 *     and an optional headline), and at least a headline or one item (else
 *     "a screen needs a headline or items" at then); flash: sku; price: sku,
 *     price (a JSON integer 0..PRICE_MONEY_MAX minor units), for (a
 *     duration). SKUs follow price_sku_valid(). Keys of another action are
 *     unknown keys (ignored);
 *   - cooldown [rules[i].cooldown]: optional duration.
 * - a duration is a string: a decimal number (1..9 digits) and a unit, s, m,
 *   h or d ("30s", "15m", "24h", "7d"); positive, at most RULES_DURATION_MAX
 *   (30 days).
 * Errors come in document order, except those only known at the end of an
 * object (missing fields, a screen without content), which follow the errors
 * found inside it.
 *
 * ---- Matching an event ----
 * An event has a type, its own timestamp and its fields (the JSON object the
 * daemon records: for a sale {"kind","receipt","till","lines":[{"sku","qty",
 * "unit_price","amount"}],"total",...}, for footfall {"period","zone","in",
 * "out",...}). A trigger matches when the type is its event and every
 * condition holds (no condition: every event of the type):
 * - a field the event lacks fails every condition on it, "ne" included;
 *   EXCEPT when the event has a "lines" array: then the conditions on fields
 *   the event itself lacks are judged on its lines, and they hold when ONE
 *   line satisfies them all ("sku in [...]" on a sale: any line's sku; "sku
 *   eq X" and "qty gte 2": one line with both);
 * - strings compare bytewise, equal or not; numbers compare exactly with the
 *   integer (20.5 gt 20, 20.5 ne 20; cJSON's doubles are exact integers up to
 *   2^53); gt/gte/lt/lte fail on a non-number; eq and in fail across types
 *   (the number 3 is not the string "3"), ne holds across types; booleans,
 *   null, objects and arrays only satisfy ne.
 *
 * ---- When a rule fires (times are the events' own timestamps) ----
 * - without "unless": a when-event W at t fires at t, in rules_event();
 * - with "unless" (within w): W at t opens the window [t, t + w). An
 *   unless-event U stamped u in it (t <= u < t + w; u = t + w - 1 ms cancels,
 *   u = t + w does not) cancels it, whenever U arrives: before W (the engine
 *   remembers recent U for this), after W, or after t + w but before the
 *   window is judged. The window is judged at t + w + grace (grace: the
 *   allowed lateness, RULES_GRACE_MS by default): rules_advance() fires it
 *   then if not cancelled, as a firing at t + w. A U stamped before t never
 *   cancels (it is outside the window), whenever it arrives. One event can
 *   be both W and U of the same rule: it then cancels its own window.
 *   Events are exact when they arrive at most grace late. A W stamped more
 *   than grace before now, for a rule with "unless", is not judged (the U
 *   that could cancel it may be forgotten): it is counted in "late". Two W
 *   at the same ms open one window;
 * - cooldown c: a firing at f is suppressed ("suppressed") when the rule
 *   last fired at l with |f - l| < c (only the latest firing is kept: l =
 *   max of the firings);
 * - bounds: at most RULES_MAX_WINDOWS_RULE open windows per rule and
 *   RULES_MAX_WINDOWS in the engine: a W past them opens none ("dropped");
 *   the remembered U are kept as merged intervals of cancelled window starts
 *   (at most RULES_MAX_QUIET per rule, the oldest dropped first), forgotten
 *   once older than now - grace.
 * The wall clock is assumed not to go back by more than grace.
 *
 * ---- Persistence (rules_state_save / rules_state_load) ----
 * One JSON text the daemon stores as a blob (in the same SQLite transaction
 * as the effects of the call that changed it: rules_state_dirty()):
 *   {"v":1,"rules":[{"name":"r1","fp":"<16 hex>","last":<ms>,"last_wall":<ms>,
 *     "fired":<n>,"windows":[<t ms>,...],"quiet":[[<from ms>,<to ms>],...]}]}
 * "last" (event time of the last firing) and "last_wall" (the now when it
 * was handed out) are absent when the rule never fired; "windows" are the
 * open windows' starts; "quiet" the remembered U as closed intervals of
 * window starts they cancel. Only rules with some state are listed. "fp" is
 * the rule's trigger fingerprint (when, unless, within): on load (and when
 * rules_engine_set() replaces a set) a rule keeps its last firing and count
 * if a rule of the same name exists, and its windows and quiet intervals
 * only if the fingerprint is equal too (a changed condition or window starts
 * afresh). Windows whose deadline passed while the daemon was down fire at
 * the next rules_advance() (rules_fire.due_ms tells how late).
 */
#ifndef SHELF_RULES_H
#define SHELF_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prices.h"
#include "util.h"

struct cJSON;

#define RULES_MAX 1000
#define RULES_CMD_MAX (1024u * 1024) /* bytes of a rules.set payload */
#define RULES_STATE_MAX (16u * 1024 * 1024) /* bytes of a saved state */
#define RULES_MAX_DEPTH 32
#define RULES_NAME_MAX 64
#define RULES_EVENT_MAX 32
#define RULES_FIELD_MAX 64
#define RULES_VALUE_MAX 256
#define RULES_IN_MAX 1000
#define RULES_MAX_CONDS 16
#define RULES_MESSAGE_MAX 256
#define RULES_HEADLINE_MAX 128
#define RULES_ZONE_MAX 64
#define RULES_SCREEN_ITEMS 20
#define RULES_DURATION_MAX (30LL * 24 * 3600 * 1000)
#define RULES_GRACE_MS 60000
#define RULES_MAX_WINDOWS_RULE 4096
#define RULES_MAX_WINDOWS 100000
#define RULES_MAX_QUIET 256
#define RULES_TS_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z */

enum rules_op {
	RULES_OP_EQ,
	RULES_OP_NE,
	RULES_OP_GT,
	RULES_OP_GTE,
	RULES_OP_LT,
	RULES_OP_LTE,
	RULES_OP_IN,
};

struct rules_value {
	const char *s; /* a string, or NULL: the integer @i */
	int64_t i;
};

struct rules_cond {
	const char *field;
	enum rules_op op;
	struct rules_value v; /* all but IN */
	const struct rules_value
		*set; /* IN: integers ascending, then strings by strcmp, no repeats */
	size_t n_set;
};

struct rules_trigger {
	const char *event;
	const struct rules_cond *conds; /* all must hold; in document order */
	size_t n_conds;
};

enum rules_action_kind {
	RULES_ALERT,
	RULES_SCREEN,
	RULES_FLASH,
	RULES_PRICE,
};

struct rules_screen_item {
	const char *sku;
	const char *headline; /* NULL: none */
};

struct rules_action {
	enum rules_action_kind kind;
	const char *message; /* alert */
	const char *zone; /* screen */
	const char *headline; /* screen, NULL: none */
	const struct rules_screen_item *items; /* screen */
	size_t n_items;
	const char *sku; /* flash, price */
	int64_t price; /* price: minor units */
	int64_t for_ms; /* price: how long the temporary price holds */
};

struct rule {
	const char *name;
	struct rules_trigger when;
	bool has_unless;
	struct rules_trigger unless; /* has_unless */
	int64_t within_ms; /* has_unless */
	int64_t cooldown_ms; /* 0: none */
	struct rules_action then;
	uint64_t fp; /* fingerprint of when, unless and within (see Persistence) */
};

/* A parsed set. Every pointer points into memory owned by the set. */
struct rule_set {
	char id[PRICE_ID_MAX + 1];
	int64_t issued_at_ms;
	int64_t version;
	struct rule *rules;
	size_t n_rules;
	/* private */
	void *mem;
};

/*
 * Parse and validate the rules.set command in @buf[0..len) (need not be
 * NUL-terminated; NULL if @len is 0). Returns:
 *   0          valid: *@out is a new set (free it with rules_set_free(), or
 *              hand it to rules_engine_set()), @errs->total == 0;
 *   -EINVAL    invalid: @errs holds every error (total >= 1), *@out is NULL;
 *              @ref (may be NULL, PRICE_ID_MAX + 1 bytes) gets the command's
 *              id when that field was valid, else "" (for the ack's "ref");
 *              also returned, with nothing filled, when @out or @errs is NULL;
 *   -EMSGSIZE  @len > RULES_CMD_MAX: one error at "";
 *   -ENOMEM    out of memory: one error at "" ("out of memory").
 * Memory: the set holds the rules and their strings (about the payload's
 * size); for the time of the call a tree of about 64 bytes per JSON value.
 */
int rules_parse(const char *buf, size_t len, struct rule_set **out, struct price_errors *errs,
		char *ref);

/* Free a set. NULL-safe. */
void rules_set_free(struct rule_set *rs);

/* "eq", "ne", "gt", "gte", "lt", "lte", "in". */
const char *rules_op_name(enum rules_op op);
/* "alert", "screen", "flash", "price". */
const char *rules_action_name(enum rules_action_kind k);

/* ---- the engine ---- */

struct rules_engine;

/*
 * A rule firing, handed out by rules_event() and rules_advance(): run
 * rule->then now. Valid until the next call on the engine.
 */
struct rules_fire {
	const struct rule *rule;
	size_t index; /* of the rule in the set */
	int64_t at_ms; /* event time of the firing: W's t, or t + within */
	int64_t trigger_ms; /* the when-event's timestamp */
	int64_t due_ms; /* wall time it was due: at_ms, or t + within + grace */
	int64_t until_ms; /* price: now + for_ms (the temporary price's end), else 0 */
};

/* What `shelfctl rules` lists about a rule. */
struct rules_info {
	const struct rule *rule;
	bool has_fired;
	int64_t last_ms; /* event time of the last firing */
	int64_t last_wall_ms; /* when it was handed out */
	uint64_t fired; /* firings (kept across restarts) */
	/* Since the engine started: */
	uint64_t cancelled; /* windows cancelled by an unless-event */
	uint64_t suppressed; /* firings within the cooldown */
	uint64_t late; /* W events stamped more than grace ago, not judged */
	uint64_t dropped; /* W events that found the window tables full */
	size_t windows; /* open now */
	int64_t next_due_ms; /* of the oldest open window, INT64_MAX: none */
};

/*
 * A new engine with no rules. @grace_ms < 0: RULES_GRACE_MS. NULL when out of
 * memory. Free with rules_engine_free().
 */
struct rules_engine *rules_engine_new(int64_t grace_ms);
void rules_engine_free(struct rules_engine *e);

/*
 * Replace the rules with @rs (NULL: none). The engine takes @rs over in
 * every case (frees it on error) and frees the previous set. State carries
 * over by rule name and fingerprint (see Persistence). Returns 0 or -ENOMEM
 * (the engine keeps its previous rules and state).
 */
int rules_engine_set(struct rules_engine *e, struct rule_set *rs);
/* The current set (owned by the engine), NULL when none. */
const struct rule_set *rules_engine_rules(const struct rules_engine *e);

/*
 * Feed one event: @type (e.g. "sale"), stamped @ts_ms (its own timestamp,
 * 0..RULES_TS_MAX), @fields (a cJSON object; NULL: none), at wall time
 * @now_ms. Sets *@fires / *@n to the firings to run now (in rule order).
 * Returns 0, or -EINVAL (a NULL argument, @ts_ms out of range: nothing
 * done). Never fails otherwise: a window that cannot be stored is counted
 * in "dropped".
 */
int rules_event(struct rules_engine *e, const char *type, int64_t ts_ms, const struct cJSON *fields,
		int64_t now_ms, const struct rules_fire **fires, size_t *n);

/* When rules_advance() has something to fire (wall ms); INT64_MAX: nothing pending. */
int64_t rules_next_deadline(const struct rules_engine *e);

/*
 * Fire every window due at @now_ms (deadline <= now), in the order of their
 * firing times (then rule order). Sets *@fires / *@n as rules_event(); also
 * forgets remembered unless-events older than now - grace. Returns 0,
 * -EINVAL (NULL argument) or -ENOMEM (nothing done; try again).
 */
int rules_advance(struct rules_engine *e, int64_t now_ms, const struct rules_fire **fires,
		  size_t *n);

/* The number of rules, and what is known about rule @i (false: no such rule). */
size_t rules_count(const struct rules_engine *e);
bool rules_info(const struct rules_engine *e, size_t i, struct rules_info *info);

/* True when the state changed since the last rules_state_save() (or load). */
bool rules_state_dirty(const struct rules_engine *e);

/*
 * Append the state (format above) to @d. Returns 0, -EMSGSIZE (past @d's
 * max) or -ENOMEM; on error @d is left as it was. Clears the dirty flag on
 * success.
 */
int rules_state_save(struct rules_engine *e, struct dynbuf *d);

/*
 * The same per rule, for a daemon that keeps one row per rule (so a change
 * rewrites only that rule's state): rules_rule_dirty() says whether rule @i
 * changed since its last save (all are after rules_engine_set(), none after
 * rules_state_load()); rules_state_save_rule() appends its entry, one element
 * of the "rules" array above ({"name":..,"fp":..,...}), to @d, or nothing
 * when the rule has no state (the row can go), and clears its flag: 0,
 * -EINVAL (no such rule), -EMSGSIZE / -ENOMEM (@d as it was). Once every
 * dirty rule is saved, rules_state_mark_saved() clears rules_state_dirty().
 * To restore, join the entries into {"v":1,"rules":[e1,e2,...]} for
 * rules_state_load().
 */
bool rules_rule_dirty(const struct rules_engine *e, size_t i);
int rules_state_save_rule(struct rules_engine *e, size_t i, struct dynbuf *d);
void rules_state_mark_saved(struct rules_engine *e);
/*
 * Restore a state saved by rules_state_save() into the engine's current
 * rules (call after rules_engine_set()). All or nothing: returns 0, -EINVAL
 * (not a state of this format: nothing changed) or -ENOMEM. Entries of rules
 * no longer in the set are dropped; see Persistence for what carries over.
 */
int rules_state_load(struct rules_engine *e, const char *buf, size_t len);

#endif
