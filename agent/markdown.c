/*
 * markdown: the markdown.set parser and the markdown planner. See
 * markdown.h for the rules.
 *
 * The parser makes two passes with the jscan pull scanner: the first checks
 * the grammar (a syntax error is then the only error), the second walks the
 * fixed shape of the command in document order, filling the caller's struct
 * in place (the sizes are bounded, nothing is allocated). Arrays are counted
 * before they are walked, on a copy of the scanner (struct jscan is plain
 * data), so that an oversized one is one error.
 *
 * The planner is a search over the few times at which the wanted price can
 * change: the expiry of each live lot and the start of each of its table
 * rows, plus the start of the next local day when the daily limit blocks a
 * change. Between two such times nothing changes, so the first time at which
 * the wanted price differs from the current one (and the limit allows a
 * change) is the next step.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jscan.h"
#include "jpath.h"
#include "markdown.h"
#include "util.h"

#define QUOTE_MAX JPATH_QUOTE_MAX
#define HOUR_MS 3600000LL
#define AT_MAX 48 /* a path: "lots[63].expires_at" */
#define STEP_SEARCH_MAX (2 * (MARKDOWN_MAX_LOTS * (MARKDOWN_MAX_ROWS + 1) + 4))

/* ---- parser ------------------------------------------------------------ */

struct parser {
	struct jscan js;
	struct price_errors *errs;
	struct markdown_cfg *out;
	unsigned ok; /* F_* bits of top-level fields that were valid */
};

enum top_field {
	F_ID,
	F_ISSUED_AT,
	F_ACTION,
	F_SKU,
	F_REGULAR,
	F_FLOOR,
	F_MAX_CHANGES,
	F_TABLE,
	F_LOTS,
	F_N_TOP,
};

static const char *const top_names[F_N_TOP] = {
	[F_ID] = "id",
	[F_ISSUED_AT] = "issued_at",
	[F_ACTION] = "action",
	[F_SKU] = "sku",
	[F_REGULAR] = "regular",
	[F_FLOOR] = "floor",
	[F_MAX_CHANGES] = "max_changes_per_day",
	[F_TABLE] = "table",
	[F_LOTS] = "lots",
};

enum row_field { R_HOURS, R_PERCENT, R_N };
static const char *const row_names[R_N] = {"hours_left", "percent"};

enum lot_field { L_LOT, L_EXPIRES, L_QTY, L_N };
static const char *const lot_names[L_N] = {"lot", "expires_at", "quantity"};

/* Called for each known member of an object; must consume the value @v. */
typedef void (*field_fn)(struct parser *ps, int field, const struct jscan_tok *v, const char *at,
			 void *arg);

static void perr(struct parser *ps, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	price_errors_addv(ps->errs, at, fmt, ap);
	va_end(ap);
}

/* jpath_quote(), with control characters shown as '?'. */
static const char *quote(char buf[QUOTE_MAX + 4], const struct jscan_tok *t)
{
	jpath_quote(buf, t);
	for (char *c = buf; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	}
	return buf;
}
/* Pass 1 accepted the document: the scanner cannot fail here. */
static enum jscan_type next(struct parser *ps, struct jscan_tok *t)
{
	return jscan_next(&ps->js, t);
}

static void skip(struct parser *ps, const struct jscan_tok *v)
{
	jscan_skip(&ps->js, v);
}

/* Report that @v is not a @want ("an integer", ...) and consume it. */
static void bad_type(struct parser *ps, const char *at, const char *want, const struct jscan_tok *v)
{
	perr(ps, at, "must be %s, got %s", want, jscan_type_name(v->type));
	skip(ps, v);
}

/* An integer literal in [min, max] into *@out. @money: say "minor units". */
static bool get_int(struct parser *ps, const struct jscan_tok *v, const char *at, int64_t min,
		    int64_t max, bool money, int64_t *out)
{
	const char *what = money ? "an integer number of minor units" : "an integer";
	char q[QUOTE_MAX + 4];
	int64_t n;
	int rc;

	if (v->type != JSCAN_NUMBER) {
		bad_type(ps, at, what, v);
		return false;
	}
	rc = jscan_int64(v, &n);
	if (rc == -EINVAL) {
		perr(ps, at, "must be %s, got %s", what, jpath_quote_num(q, v));
		return false;
	}
	if (rc < 0 || n < min || n > max) {
		perr(ps, at, "must be %lld..%lld, got %s", (long long)min, (long long)max,
		     jpath_quote_num(q, v));
		return false;
	}
	*out = n;
	return true;
}

/* A string of 1..@max bytes into @dst (size > @max). */
static bool get_str(struct parser *ps, const struct jscan_tok *v, const char *at, size_t max,
		    char *dst)
{
	if (v->type != JSCAN_STRING) {
		bad_type(ps, at, "a string", v);
		return false;
	}
	if (v->dlen == 0) {
		perr(ps, at, "must not be empty");
		return false;
	}
	if (v->dlen > max) {
		perr(ps, at, "is %zu bytes, over the %zu-byte limit", v->dlen, max);
		return false;
	}
	jscan_str_decode(v, dst, max + 1);
	return true;
}

/* A SKU or a lot id: 1..64 bytes of [A-Za-z0-9._-]. */
static bool get_code(struct parser *ps, const struct jscan_tok *v, const char *at, char *dst)
{
	char q[QUOTE_MAX + 4];

	if (!get_str(ps, v, at, PRICE_SKU_MAX, dst))
		return false;
	if ((v->flags & JSCAN_F_NUL) || !price_sku_valid(dst)) {
		perr(ps, at, "must contain only [A-Za-z0-9._-], got \"%s\"", quote(q, v));
		return false;
	}
	return true;
}

static bool get_ts(struct parser *ps, const struct jscan_tok *v, const char *at, int64_t *ms)
{
	char buf[64], q[QUOTE_MAX + 4];

	if (v->type != JSCAN_STRING) {
		bad_type(ps, at, "an RFC 3339 timestamp string", v);
		return false;
	}
	if (v->dlen >= sizeof(buf) || (v->flags & JSCAN_F_NUL) ||
	    (jscan_str_decode(v, buf, sizeof(buf)), ts_parse(buf, ms) < 0)) {
		perr(ps, at, "must be an RFC 3339 timestamp, got \"%s\"", quote(q, v));
		return false;
	}
	return true;
}

/* "prefix.name", or "name" at the top. */
static void path(char at[AT_MAX], const char *prefix, const char *name)
{
	snprintf(at, AT_MAX, "%s%s%s", prefix, prefix[0] ? "." : "", name);
}

/*
 * Walk the members of the object just opened: each known one (in @names)
 * goes to @fn once; a known key given again is an error and its value is
 * skipped; unknown keys are skipped. Then every known key that did not
 * appear is reported missing. Returns the bit set of the keys seen.
 */
static unsigned walk_object(struct parser *ps, const char *prefix, const char *const *names, int n,
			    field_fn fn, void *arg)
{
	struct jscan_tok k, v;
	unsigned seen = 0;
	char at[AT_MAX];

	while (next(ps, &k) == JSCAN_KEY) {
		int f = -1;

		for (int i = 0; i < n && f < 0; i++) {
			if (jscan_str_eq(&k, names[i], strlen(names[i])))
				f = i;
		}
		next(ps, &v);
		if (f < 0) {
			skip(ps, &v);
			continue;
		}
		path(at, prefix, names[f]);
		if (seen & 1u << f) {
			perr(ps, at, "duplicate key");
			skip(ps, &v);
			continue;
		}
		seen |= 1u << f;
		fn(ps, f, &v, at, arg);
	}
	for (int i = 0; i < n; i++) {
		if (!(seen & 1u << i)) {
			path(at, prefix, names[i]);
			perr(ps, at, "missing field");
		}
	}
	return seen;
}

/* The number of elements of the array @arr just opened (the scanner does not move). */
static size_t count_elems(const struct parser *ps, const struct jscan_tok *arr)
{
	struct jscan js = ps->js;
	struct jscan_tok t;
	enum jscan_type type;
	size_t n = 0;

	while ((type = jscan_next(&js, &t)) != JSCAN_ERROR && type != JSCAN_EOF) {
		if (t.depth == arr->depth && type == JSCAN_ARRAY_END)
			break;
		if (t.depth == arr->depth + 1 && type != JSCAN_KEY && type != JSCAN_OBJECT_END &&
		    type != JSCAN_ARRAY_END)
			n++;
	}
	return n;
}

/* One table row or lot being parsed: which of its fields were valid. */
struct elem {
	size_t i;
	unsigned ok;
};

static void row_field(struct parser *ps, int f, const struct jscan_tok *v, const char *at,
		      void *arg)
{
	struct elem *e = arg;
	struct markdown_row *r = &ps->out->rows[e->i];
	int64_t n;

	if (f == R_HOURS && get_int(ps, v, at, 1, MARKDOWN_HOURS_MAX, false, &n)) {
		r->hours_left = (unsigned)n;
		e->ok |= 1u << f;
	} else if (f == R_PERCENT && get_int(ps, v, at, 1, 99, false, &n)) {
		r->percent = (unsigned)n;
		e->ok |= 1u << f;
	}
}

static void parse_table(struct parser *ps, const struct jscan_tok *arr, const char *at)
{
	size_t n = count_elems(ps, arr);
	unsigned prev_ok = 0;
	struct jscan_tok v;
	char pre[AT_MAX], fat[AT_MAX];

	if (n == 0 || n > MARKDOWN_MAX_ROWS) {
		if (n)
			perr(ps, at, "too many rows: %zu > %d", n, MARKDOWN_MAX_ROWS);
		else
			perr(ps, at, "must have 1..%d rows, got none", MARKDOWN_MAX_ROWS);
		skip(ps, arr);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct elem e = {.i = i};
		const struct markdown_row *r = &ps->out->rows[i],
					  *p = &ps->out->rows[i ? i - 1 : 0];

		snprintf(pre, sizeof(pre), "table[%zu]", i);
		next(ps, &v);
		if (v.type != JSCAN_OBJECT) {
			bad_type(ps, pre, "an object", &v);
			prev_ok = 0;
			continue;
		}
		walk_object(ps, pre, row_names, R_N, row_field, &e);
		if ((e.ok & prev_ok & 1u << R_HOURS) && r->hours_left >= p->hours_left) {
			path(fat, pre, "hours_left");
			perr(ps, fat,
			     "must be below table[%zu].hours_left (%u): rows go from the most "
			     "hours left to the fewest",
			     i - 1, p->hours_left);
			e.ok &= ~(1u << R_HOURS);
		}
		if ((e.ok & prev_ok & 1u << R_PERCENT) && r->percent <= p->percent) {
			path(fat, pre, "percent");
			perr(ps, fat,
			     "must be above table[%zu].percent (%u): percents grow as hours left "
			     "shrink",
			     i - 1, p->percent);
			e.ok &= ~(1u << R_PERCENT);
		}
		prev_ok = e.ok;
	}
	next(ps, &v); /* ']' */
	ps->out->n_rows = n;
}

static void lot_field(struct parser *ps, int f, const struct jscan_tok *v, const char *at,
		      void *arg)
{
	struct elem *e = arg;
	struct markdown_lot *l = &ps->out->lots[e->i];

	switch (f) {
	case L_LOT:
		if (get_code(ps, v, at, l->id))
			e->ok |= 1u << f;
		break;
	case L_EXPIRES:
		if (get_ts(ps, v, at, &l->expires_at_ms))
			e->ok |= 1u << f;
		break;
	case L_QTY:
		if (get_int(ps, v, at, 1, MARKDOWN_QTY_MAX, false, &l->quantity))
			e->ok |= 1u << f;
		break;
	}
}

static void parse_lots(struct parser *ps, const struct jscan_tok *arr, const char *at)
{
	size_t n = count_elems(ps, arr);
	bool id_ok[MARKDOWN_MAX_LOTS] = {false};
	struct jscan_tok v;
	char pre[AT_MAX], fat[AT_MAX];

	if (n > MARKDOWN_MAX_LOTS) {
		perr(ps, at, "too many lots: %zu > %d", n, MARKDOWN_MAX_LOTS);
		skip(ps, arr);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct elem e = {.i = i};

		snprintf(pre, sizeof(pre), "lots[%zu]", i);
		next(ps, &v);
		if (v.type != JSCAN_OBJECT) {
			bad_type(ps, pre, "an object", &v);
			continue;
		}
		walk_object(ps, pre, lot_names, L_N, lot_field, &e);
		if (!(e.ok & 1u << L_LOT))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (id_ok[j] && !strcmp(ps->out->lots[j].id, ps->out->lots[i].id)) {
				path(fat, pre, "lot");
				perr(ps, fat, "duplicate lot %s, also at lots[%zu]",
				     ps->out->lots[i].id, j);
				e.ok &= ~(1u << L_LOT);
				break;
			}
		}
		id_ok[i] = e.ok & 1u << L_LOT;
	}
	next(ps, &v); /* ']' */
	ps->out->n_lots = n;
}

static void top_field(struct parser *ps, int f, const struct jscan_tok *v, const char *at,
		      void *arg)
{
	struct markdown_cfg *c = ps->out;
	char q[QUOTE_MAX + 4];
	int64_t n;
	bool ok = false;

	switch (f) {
	case F_ID:
		ok = get_str(ps, v, at, PRICE_ID_MAX, c->id);
		for (const char *s = c->id; ok && *s; s++) {
			if (*s < 0x20 || *s > 0x7e) {
				perr(ps, at, "must be printable ASCII, got \"%s\"", quote(q, v));
				ok = false;
			}
		}
		if (ok && (v->flags & JSCAN_F_NUL)) {
			perr(ps, at, "must be printable ASCII, got \"%s\"", quote(q, v));
			ok = false;
		}
		if (!ok)
			c->id[0] = '\0';
		break;
	case F_ISSUED_AT:
		ok = get_ts(ps, v, at, &c->issued_at_ms);
		break;
	case F_ACTION:
		if (v->type != JSCAN_STRING)
			bad_type(ps, at, "a string", v);
		else if (!(ok = jscan_str_eq(v, "markdown.set", 12)))
			perr(ps, at, "must be \"markdown.set\", got \"%s\"", quote(q, v));
		break;
	case F_SKU:
		ok = get_code(ps, v, at, c->sku);
		break;
	case F_REGULAR:
		ok = get_int(ps, v, at, 1, PRICE_MONEY_MAX, true, &c->regular);
		break;
	case F_FLOOR:
		ok = get_int(ps, v, at, 0, PRICE_MONEY_MAX, true, &c->floor);
		break;
	case F_MAX_CHANGES:
		ok = get_int(ps, v, at, 1, MARKDOWN_CHANGES_MAX, false, &n);
		if (ok)
			c->max_changes_per_day = (unsigned)n;
		break;
	case F_TABLE:
		if (v->type != JSCAN_ARRAY)
			bad_type(ps, at, "an array", v);
		else
			parse_table(ps, v, at);
		break;
	case F_LOTS:
		if (v->type != JSCAN_ARRAY)
			bad_type(ps, at, "an array", v);
		else
			parse_lots(ps, v, at);
		break;
	}
	if (ok)
		ps->ok |= 1u << f;
}

/* Pass 1: the grammar. Returns 0, or -EINVAL after reporting the syntax error. */
static int check_syntax(struct parser *ps, const char *buf, size_t len)
{
	struct jscan js;
	struct jscan_tok t;
	enum jscan_type type;
	const char *msg;
	size_t off;

	jscan_init(&js, buf, len, MARKDOWN_MAX_DEPTH);
	while ((type = jscan_next(&js, &t)) != JSCAN_EOF) {
		if (type != JSCAN_ERROR)
			continue;
		msg = jscan_error(&js, &off);
		if (strcmp(msg, "invalid UTF-8") == 0)
			perr(ps, "", "invalid UTF-8 at byte %zu", off);
		else if (strcmp(msg, "nesting too deep") == 0)
			perr(ps, "", "nesting deeper than %d levels at byte %zu",
			     MARKDOWN_MAX_DEPTH, off);
		else
			perr(ps, "", "invalid JSON at byte %zu: %s", off, msg);
		return -EINVAL;
	}
	return 0;
}

int markdown_cmd_parse(const char *buf, size_t len, struct markdown_cfg *out,
		       struct price_errors *errs)
{
	struct parser ps = {.errs = errs, .out = out};
	char id[PRICE_ID_MAX + 1];
	struct jscan_tok t;

	if (!out || !errs)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	price_errors_init(errs);
	if (len > MARKDOWN_CMD_MAX) {
		perr(&ps, "", "command is %zu bytes, over the %u-byte limit", len,
		     MARKDOWN_CMD_MAX);
		return -EMSGSIZE;
	}
	if (check_syntax(&ps, buf, len) < 0)
		return -EINVAL;
	jscan_init(&ps.js, buf, len, MARKDOWN_MAX_DEPTH);
	next(&ps, &t);
	if (t.type != JSCAN_OBJECT) {
		perr(&ps, "", "must be a JSON object, got %s", jscan_type_name(t.type));
		return -EINVAL;
	}
	walk_object(&ps, "", top_names, F_N_TOP, top_field, NULL);
	if ((ps.ok & 1u << F_REGULAR) && (ps.ok & 1u << F_FLOOR) && out->floor > out->regular)
		perr(&ps, "floor", "must not be above regular (%lld), got %lld",
		     (long long)out->regular, (long long)out->floor);
	if (errs->total == 0)
		return 0;
	str_copy(id, sizeof(id), out->id);
	memset(out, 0, sizeof(*out));
	str_copy(out->id, sizeof(out->id), id);
	return -EINVAL;
}

/* ---- planner ----------------------------------------------------------- */

void markdown_state_init(struct markdown_state *st)
{
	memset(st, 0, sizeof(*st));
	st->applied_lot = -1;
	st->applied_price = -1;
}

void markdown_state_carry(const struct markdown_cfg *ocfg, const struct markdown_state *ost,
			  const struct markdown_cfg *ncfg, struct markdown_state *nst)
{
	markdown_state_init(nst);
	nst->day_ms = ost->day_ms;
	nst->changes = ost->changes;
	nst->applied_price = ost->applied_price;
	if (ost->applied_lot >= 0)
		nst->applied_lot = MARKDOWN_LOT_ENDED;
	for (size_t j = 0; j < ncfg->n_lots; j++) {
		for (size_t k = 0; k < ocfg->n_lots; k++) {
			if (strcmp(ncfg->lots[j].id, ocfg->lots[k].id))
				continue;
			nst->sold[j] = ost->sold[k] < ncfg->lots[j].quantity
					       ? ost->sold[k]
					       : ncfg->lots[j].quantity;
			if (ost->applied_lot == (int)k)
				nst->applied_lot = (int)j;
			break;
		}
	}
}

bool markdown_lot_live(const struct markdown_cfg *cfg, const struct markdown_state *st, size_t j,
		       int64_t t_ms)
{
	return j < cfg->n_lots && t_ms < cfg->lots[j].expires_at_ms &&
	       st->sold[j] < cfg->lots[j].quantity;
}

/* The live lot with the earliest expiry at @t (first in document order on a tie); -1: none. */
static int most_urgent(const struct markdown_cfg *cfg, const struct markdown_state *st, int64_t t)
{
	int best = -1;

	for (size_t j = 0; j < cfg->n_lots; j++) {
		if (markdown_lot_live(cfg, st, j, t) &&
		    (best < 0 || cfg->lots[j].expires_at_ms < cfg->lots[best].expires_at_ms))
			best = (int)j;
	}
	return best;
}

int64_t markdown_sale(const struct markdown_cfg *cfg, struct markdown_state *st, int64_t qty,
		      int64_t t_ms)
{
	int j;

	if (!cfg || !st || qty < 1)
		return -EINVAL;
	while (qty > 0 && (j = most_urgent(cfg, st, t_ms)) >= 0) {
		int64_t left = cfg->lots[j].quantity - st->sold[j];
		int64_t take = qty < left ? qty : left;

		st->sold[j] += take;
		qty -= take;
	}
	return qty;
}

void markdown_target_at(const struct markdown_cfg *cfg, const struct markdown_state *st,
			int64_t t_ms, struct markdown_target *out)
{
	int j = most_urgent(cfg, st, t_ms);

	out->lot = j;
	out->percent = 0;
	out->floored = false;
	out->price = cfg->regular;
	if (j < 0)
		return;
	/* Rows are in decreasing hours_left, increasing percent: the last that applies wins. */
	for (size_t r = 0; r < cfg->n_rows; r++) {
		if (cfg->lots[j].expires_at_ms - t_ms <= (int64_t)cfg->rows[r].hours_left * HOUR_MS)
			out->percent = cfg->rows[r].percent;
	}
	if (!out->percent)
		return;
	out->price = cfg->regular * (100 - (int64_t)out->percent) / 100;
	if (out->price < cfg->floor) {
		out->price = cfg->floor;
		out->floored = true;
	}
}

/* The price wanted at @t when the price is @c now (markdown.h's rules). */
static int64_t wanted(const struct markdown_cfg *cfg, const struct markdown_state *st, int64_t c,
		      int64_t t, struct markdown_target *tg)
{
	bool in_effect = st->applied_lot >= 0 && st->applied_price == c;

	markdown_target_at(cfg, st, t, tg);
	if (in_effect) {
		if (markdown_lot_live(cfg, st, (size_t)st->applied_lot, t))
			return tg->price < c ? tg->price : c;
		return tg->price;
	}
	if (tg->percent && tg->price < cfg->regular && tg->price < c)
		return tg->price;
	return c;
}

/* The first time after @t at which a lot live now expires or enters a row; INT64_MAX: none. */
static int64_t next_event(const struct markdown_cfg *cfg, const struct markdown_state *st,
			  int64_t t)
{
	int64_t best = INT64_MAX;

	for (size_t j = 0; j < cfg->n_lots; j++) {
		int64_t exp = cfg->lots[j].expires_at_ms;

		if (!markdown_lot_live(cfg, st, j, t))
			continue;
		if (exp < best)
			best = exp;
		for (size_t r = 0; r < cfg->n_rows; r++) {
			int64_t at = exp - (int64_t)cfg->rows[r].hours_left * HOUR_MS;

			if (at > t && at < best)
				best = at;
		}
	}
	return best;
}

/* True if the daily limit allows one more change at @t. */
static bool allowed(const struct markdown_cfg *cfg, const struct markdown_state *st, int64_t t)
{
	return local_day_start_ms(t) != st->day_ms || st->changes < cfg->max_changes_per_day;
}

enum markdown_kind markdown_next(const struct markdown_cfg *cfg, const struct markdown_state *st,
				 int64_t current, int64_t now_ms, struct markdown_step *out)
{
	struct markdown_target tg;
	bool delayed = false;
	int64_t t = now_ms, w;

	if (!out)
		return MARKDOWN_NONE;
	memset(out, 0, sizeof(*out));
	out->lot = -1;
	if (!cfg || !st)
		return MARKDOWN_NONE;
	for (int i = 0; i < STEP_SEARCH_MAX; i++) {
		w = wanted(cfg, st, current, t, &tg);
		if (w != current && allowed(cfg, st, t)) {
			out->at_ms = t;
			out->price = w;
			out->delayed = delayed;
			if (tg.percent) {
				out->kind = MARKDOWN_SET;
				out->lot = tg.lot;
				out->percent = tg.percent;
				out->floored = tg.floored;
			} else {
				out->kind = MARKDOWN_RESTORE;
				out->lot =
					st->applied_lot < (int)cfg->n_lots ? st->applied_lot : -1;
			}
			return out->kind;
		}
		if (w != current) {
			/* Blocked: plan afresh when the next local day starts. */
			t = local_day_next_ms(t);
			delayed = true;
			continue;
		}
		t = next_event(cfg, st, t);
		if (t == INT64_MAX)
			break;
		delayed = false;
	}
	return MARKDOWN_NONE;
}

void markdown_applied(struct markdown_state *st, const struct markdown_step *step, int64_t now_ms)
{
	int64_t day = local_day_start_ms(now_ms);

	if (day != st->day_ms) {
		st->day_ms = day;
		st->changes = 0;
	}
	st->changes++;
	st->applied_price = step->price;
	st->applied_lot = step->kind == MARKDOWN_SET ? step->lot : -1;
}

const char *markdown_kind_name(enum markdown_kind k)
{
	switch (k) {
	case MARKDOWN_SET:
		return "set";
	case MARKDOWN_RESTORE:
		return "restore";
	case MARKDOWN_NONE:
		break;
	}
	return "none";
}
