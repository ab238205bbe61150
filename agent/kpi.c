/*
 * kpi: store KPIs per interval and per local day. See kpi.h.
 *
 * Buckets. Intervals are aligned to local midnight: local_day_start_ms(t) +
 * k * interval_ms; an interval that would cross the next local midnight is
 * cut there (only when interval_ms does not divide a 23 h or 25 h day). Open
 * buckets are kept only for intervals and days that had input (a sparse,
 * sorted set: RING_N intervals, DAYS_N days, fixed arrays in struct kpi);
 * an interval or day without input is emitted as zeros when it becomes
 * final, so HQ gets one row per interval. next_ms / next_day are the oldest
 * interval / day not yet final; everything older has been handed out.
 *
 * Dwell: each bucket holds the exact sum (for the average) and a histogram
 * of 30 s bins up to 6 h plus one bin for >= 6 h. The median interpolates
 * linearly inside its bin: it is within 30 s of the exact median (a median
 * of 6 h or more reads as 6 h).
 *
 * Late input (its interval already final): counted in its day when the day
 * is still open; either way it counts as late in the oldest open interval
 * and the oldest open day, i.e. a bucket's late is "inputs that arrived
 * late while this was the oldest open bucket". Input that finds no free
 * bucket (more than RING_N intervals or DAYS_N days ahead of the oldest open
 * one: a clock far ahead) is dropped and counted internally (dropped).
 *
 * A forward clock jump: intervals (and days) without input that ended more
 * than a day before the newly final ones are not emitted; they are counted
 * (skipped_intervals, skipped_days: internal, saved in the blob, no getter
 * in kpi.h yet). Buckets with input are always emitted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kpi.h"

#define DAY_MS 86400000LL
#define BIN_MS 30000
#define HIST_BINS (6 * 3600 / 30 + 1) /* 30 s bins up to 6 h, then >= 6 h */
#define RING_N 64
#define DAYS_N 4

#define BLOB_MAGIC 0x49504b53u /* "SKPI" little-endian */
#define BLOB_VERSION 1u

struct bucket {
	int64_t from_ms, to_ms;
	uint64_t entries, exits, visitors, engaged, passers_by, staff, randomized, repeat, receipts,
		late;
	uint64_t dwell_sum_ms; /* visitors' dwell */
	uint32_t hist[HIST_BINS];
};

/* Open buckets of one period, sorted by from_ms. */
struct bset {
	size_t n, cap;
	uint8_t order[RING_N]; /* pool indices, oldest first */
	bool used[RING_N];
	struct bucket *pool;
};

struct kpi {
	struct kpi_conf c;
	int64_t created_ms;
	int64_t next_ms; /* start of the oldest interval not yet final */
	int64_t next_day; /* start of the oldest day not yet final */
	struct bset iv, day;
	struct kpi_figures last[2];
	bool has_last[2];
	uint64_t skipped_intervals, skipped_days, dropped;
	struct bucket iv_pool[RING_N];
	struct bucket day_pool[DAYS_N];
};

enum input_kind { IN_ENTRY, IN_EXIT, IN_RECEIPT, IN_VISIT };

void kpi_conf_defaults(struct kpi_conf *c)
{
	c->interval_ms = 5 * 60000;
	c->hold_ms = 16 * 60000;
}

/* ---- time ---- */

static int64_t interval_start(const struct kpi *k, int64_t t)
{
	int64_t ds = local_day_start_ms(t), off = t - ds;

	if (off < 0)
		off = 0;
	return ds + off / k->c.interval_ms * k->c.interval_ms;
}

/* The end of the interval starting at the aligned @from. */
static int64_t interval_end(const struct kpi *k, int64_t from)
{
	int64_t dn = local_day_next_ms(from);

	return from + k->c.interval_ms < dn ? from + k->c.interval_ms : dn;
}

/* ---- bucket sets ---- */

static void bset_init(struct bset *s, struct bucket *pool, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->pool = pool;
	s->cap = cap;
}

static struct bucket *bset_first(const struct bset *s)
{
	return s->n ? &s->pool[s->order[0]] : NULL;
}

static struct bucket *bset_find(const struct bset *s, int64_t from)
{
	for (size_t i = s->n; i-- > 0;) {
		struct bucket *b = &s->pool[s->order[i]];

		if (b->from_ms == from)
			return b;
		if (b->from_ms < from)
			break;
	}
	return NULL;
}

/* The bucket [from, to), created when missing; NULL when the set is full. */
static struct bucket *bset_get(struct bset *s, int64_t from, int64_t to)
{
	struct bucket *b = bset_find(s, from);
	size_t slot = 0, pos;

	if (b || s->n == s->cap)
		return b;
	while (s->used[slot])
		slot++;
	s->used[slot] = true;
	b = &s->pool[slot];
	memset(b, 0, sizeof(*b));
	b->from_ms = from;
	b->to_ms = to;
	pos = s->n;
	while (pos > 0 && s->pool[s->order[pos - 1]].from_ms > from)
		pos--;
	memmove(&s->order[pos + 1], &s->order[pos], s->n - pos);
	s->order[pos] = (uint8_t)slot;
	s->n++;
	return b;
}

static void bset_pop_first(struct bset *s)
{
	s->used[s->order[0]] = false;
	memmove(&s->order[0], &s->order[1], s->n - 1);
	s->n--;
}

/* ---- figures ---- */

static void bucket_merge(struct bucket *dst, const struct bucket *b)
{
	dst->entries += b->entries;
	dst->exits += b->exits;
	dst->visitors += b->visitors;
	dst->engaged += b->engaged;
	dst->passers_by += b->passers_by;
	dst->staff += b->staff;
	dst->randomized += b->randomized;
	dst->repeat += b->repeat;
	dst->receipts += b->receipts;
	dst->late += b->late;
	dst->dwell_sum_ms += b->dwell_sum_ms;
	for (size_t i = 0; i < HIST_BINS; i++)
		dst->hist[i] += b->hist[i];
}

/* The dwell (s) of the visitor of 1-based rank @r, interpolated in its bin. */
static double hist_rank(const struct bucket *b, uint64_t r)
{
	uint64_t before = 0;

	for (size_t i = 0; i < HIST_BINS; i++) {
		if (before + b->hist[i] >= r) {
			if (i == HIST_BINS - 1)
				return (double)i * BIN_MS / 1000.0;
			return ((double)i + ((double)(r - before) - 0.5) / b->hist[i]) * BIN_MS /
			       1000.0;
		}
		before += b->hist[i];
	}
	return (double)(HIST_BINS - 1) * BIN_MS / 1000.0;
}

static void figures_of(const struct bucket *b, enum kpi_period p, struct kpi_figures *f)
{
	uint64_t n = 0, nonrand;

	memset(f, 0, sizeof(*f));
	f->period = p;
	f->from_ms = b->from_ms;
	f->to_ms = b->to_ms;
	f->entries = b->entries;
	f->exits = b->exits;
	f->visitors = b->visitors;
	f->engaged = b->engaged;
	f->passers_by = b->passers_by;
	f->staff = b->staff;
	f->randomized = b->randomized;
	f->repeat = b->repeat;
	f->receipts = b->receipts;
	f->late = b->late;
	if (b->visitors + b->passers_by) {
		f->has_capture = true;
		f->capture_rate = (double)b->visitors / (double)(b->visitors + b->passers_by);
	}
	if (b->entries) {
		f->has_conversion = true;
		f->conversion = (double)b->receipts / (double)b->entries;
	}
	for (size_t i = 0; i < HIST_BINS; i++)
		n += b->hist[i];
	if (b->visitors && n) {
		f->has_dwell = true;
		f->dwell_avg_s = (double)b->dwell_sum_ms / (double)b->visitors / 1000.0;
		if (n % 2)
			f->dwell_median_s = hist_rank(b, (n + 1) / 2);
		else
			f->dwell_median_s = (hist_rank(b, n / 2) + hist_rank(b, n / 2 + 1)) / 2;
	}
	nonrand = b->visitors > b->randomized ? b->visitors - b->randomized : 0;
	if (nonrand) {
		f->has_repeat = true;
		f->repeat_share = (double)b->repeat / (double)nonrand;
	}
}

/* ---- lifecycle ---- */

static void kpi_reset(struct kpi *k)
{
	k->next_ms = interval_start(k, k->created_ms);
	k->next_day = local_day_start_ms(k->next_ms);
	bset_init(&k->iv, k->iv_pool, RING_N);
	bset_init(&k->day, k->day_pool, DAYS_N);
	memset(k->last, 0, sizeof(k->last));
	k->has_last[KPI_INTERVAL] = k->has_last[KPI_DAY] = false;
	k->skipped_intervals = k->skipped_days = k->dropped = 0;
}

struct kpi *kpi_new(const struct kpi_conf *c, int64_t now_ms)
{
	struct kpi *k;

	if (!c || c->interval_ms <= 0 || c->interval_ms > DAY_MS || c->hold_ms < 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->c = *c;
	k->created_ms = now_ms;
	kpi_reset(k);
	return k;
}

void kpi_free(struct kpi *k)
{
	free(k);
}

/* ---- input ---- */

static void bucket_add(struct bucket *b, enum input_kind kind, const struct visit *v)
{
	int64_t dwell;
	size_t bin;

	switch (kind) {
	case IN_ENTRY:
		b->entries++;
		return;
	case IN_EXIT:
		b->exits++;
		return;
	case IN_RECEIPT:
		b->receipts++;
		return;
	case IN_VISIT:
		break;
	}
	switch (v->cls) {
	case VISIT_STAFF:
		b->staff++;
		return;
	case VISIT_PASSER:
		b->passers_by++;
		return;
	case VISIT_ENGAGED:
		b->engaged++;
		/* fall through */
	case VISIT_VISITOR:
		break;
	default:
		return;
	}
	dwell = v->last_ms > v->first_ms ? v->last_ms - v->first_ms : 0;
	bin = dwell / BIN_MS < HIST_BINS - 1 ? (size_t)(dwell / BIN_MS) : HIST_BINS - 1;
	b->visitors++;
	b->dwell_sum_ms += (uint64_t)dwell;
	b->hist[bin]++;
	if (v->randomized)
		b->randomized++;
	else if (v->repeat)
		b->repeat++;
}

static void input(struct kpi *k, int64_t t, enum input_kind kind, const struct visit *v)
{
	int64_t ds = local_day_start_ms(t);
	int64_t from = interval_start(k, t);
	struct bucket *b;

	if (from < k->next_ms) {
		/* Its interval is final: late, counted in the oldest open ones. */
		b = bset_get(&k->iv, k->next_ms, interval_end(k, k->next_ms));
		if (b)
			b->late++;
		b = bset_get(&k->day, k->next_day, local_day_next_ms(k->next_day));
		if (b)
			b->late++;
	} else {
		b = bset_get(&k->iv, from, interval_end(k, from));
		if (b)
			bucket_add(b, kind, v);
		else
			k->dropped++;
	}
	if (ds >= k->next_day) {
		b = bset_get(&k->day, ds, local_day_next_ms(ds));
		if (b)
			bucket_add(b, kind, v);
		else
			k->dropped++;
	}
}

void kpi_pass(struct kpi *k, int dir, int64_t t_ms)
{
	if (dir > 0)
		input(k, t_ms, IN_ENTRY, NULL);
	else if (dir < 0)
		input(k, t_ms, IN_EXIT, NULL);
}

void kpi_visit(struct kpi *k, const struct visit *v)
{
	if ((unsigned)v->cls < VISIT_CLASS_N)
		input(k, v->last_ms, IN_VISIT, v);
}

void kpi_receipt(struct kpi *k, int64_t t_ms)
{
	input(k, t_ms, IN_RECEIPT, NULL);
}

/* ---- finalisation ---- */

/*
 * Hand out [from, to) of @p: the open buckets that start before @to merged
 * (normally exactly one with from_ms == from, or none: zeros).
 */
static void emit(struct kpi *k, enum kpi_period p, int64_t from, int64_t to, kpi_cb cb, void *arg)
{
	struct bset *s = p == KPI_DAY ? &k->day : &k->iv;
	struct bucket acc, *b;

	memset(&acc, 0, sizeof(acc));
	acc.from_ms = from;
	acc.to_ms = to;
	while ((b = bset_first(s)) && b->from_ms < to) {
		bucket_merge(&acc, b);
		bset_pop_first(s);
	}
	figures_of(&acc, p, &k->last[p]);
	k->has_last[p] = true;
	if (cb)
		cb(arg, &k->last[p]);
}

/* How many intervals in [a, b), both aligned; exact up to 400 days. */
static uint64_t count_intervals(const struct kpi *k, int64_t a, int64_t b)
{
	uint64_t n = 0;
	int64_t dn;

	if (b - a > 400 * DAY_MS)
		return (uint64_t)((b - a) / k->c.interval_ms);
	while ((dn = local_day_next_ms(a)) <= b) {
		n += (uint64_t)((dn - a + k->c.interval_ms - 1) / k->c.interval_ms);
		a = dn;
	}
	return n + (uint64_t)((b - a) / k->c.interval_ms);
}

/*
 * Hand out everything final at @now_ms, oldest first, a day right after its
 * last interval. After a clock jump, intervals and days without input that
 * ended more than a day before the newly final ones (before @window) are
 * skipped and counted instead: O(skipped days), not O(skipped intervals).
 */
void kpi_advance(struct kpi *k, int64_t now_ms, kpi_cb cb, void *arg)
{
	int64_t limit = now_ms - k->c.hold_ms, window = limit - DAY_MS, de, ie, t;
	struct bucket *b;

	for (;;) {
		de = local_day_next_ms(k->next_day);
		if (de <= limit && k->next_ms >= de) {
			b = bset_first(&k->day);
			if (de <= window && !(b && b->from_ms < de))
				k->skipped_days++;
			else
				emit(k, KPI_DAY, k->next_day, de, cb, arg);
			k->next_day = de;
			continue;
		}
		ie = interval_end(k, k->next_ms);
		if (ie > limit)
			break;
		b = bset_first(&k->iv);
		if (ie <= window && !(b && b->from_ms < ie)) {
			/* Jump over the empty run, up to the window or the next input. */
			t = b && b->from_ms < window ? b->from_ms : window;
			t = interval_start(k, t);
			k->skipped_intervals += count_intervals(k, k->next_ms, t);
			k->next_ms = t;
			continue;
		}
		emit(k, KPI_INTERVAL, k->next_ms, ie, cb, arg);
		k->next_ms = ie;
	}
}

void kpi_current(const struct kpi *k, enum kpi_period period, int64_t now_ms,
		 struct kpi_figures *out)
{
	const struct bset *s = period == KPI_DAY ? &k->day : &k->iv;
	int64_t from, to, oldest;
	struct bucket zero;
	const struct bucket *b;

	if (period == KPI_DAY) {
		from = local_day_start_ms(now_ms);
		to = local_day_next_ms(now_ms);
		oldest = k->next_day;
	} else {
		from = interval_start(k, now_ms);
		to = interval_end(k, from);
		oldest = k->next_ms;
	}
	if (from < oldest && k->has_last[period] && k->last[period].from_ms == from) {
		*out = k->last[period];
		return;
	}
	b = bset_find(s, from);
	if (!b) {
		memset(&zero, 0, sizeof(zero));
		zero.from_ms = from;
		zero.to_ms = to;
		b = &zero;
	}
	figures_of(b, period, out);
}

bool kpi_last(const struct kpi *k, enum kpi_period period, struct kpi_figures *out)
{
	if ((unsigned)period > KPI_DAY || !k->has_last[period])
		return false;
	*out = k->last[period];
	return true;
}

/* ---- persistence ---- */

/*
 * Blob, all little-endian: u32 magic "SKPI", u32 version, u32 HIST_BINS,
 * u32 BIN_MS, i64 interval_ms, i64 next_ms, next_day, u64 skipped_intervals,
 * skipped_days, dropped, u32 open intervals, u32 open days, u8 has_last[2],
 * the last figures (those present), the buckets (intervals, then days; each
 * with its non-zero histogram bins as (u32 bin, u32 count) pairs), u64
 * FNV-1a of everything before it.
 */
struct wr {
	struct dynbuf *d;
	int err;
};

static void put_u64(struct wr *w, uint64_t x)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(x >> (8 * i));
	if (!w->err)
		w->err = dynbuf_add(w->d, b, sizeof(b));
}

static void put_u32(struct wr *w, uint32_t x)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(x >> (8 * i));
	if (!w->err)
		w->err = dynbuf_add(w->d, b, sizeof(b));
}

static void put_u8(struct wr *w, uint8_t x)
{
	if (!w->err)
		w->err = dynbuf_add(w->d, &x, 1);
}

static void put_double(struct wr *w, double x)
{
	uint64_t u;

	memcpy(&u, &x, sizeof(u));
	put_u64(w, u);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void put_counters(struct wr *w, const uint64_t *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_u64(w, c[i]);
}

static void put_figures(struct wr *w, const struct kpi_figures *f)
{
	const uint64_t c[] = {f->entries, f->exits,	 f->visitors, f->engaged,  f->passers_by,
			      f->staff,	  f->randomized, f->repeat,   f->receipts, f->late};

	put_u32(w, (uint32_t)f->period);
	put_u64(w, (uint64_t)f->from_ms);
	put_u64(w, (uint64_t)f->to_ms);
	put_counters(w, c, ARRAY_SIZE(c));
	put_u8(w, (uint8_t)(f->has_capture | f->has_conversion << 1 | f->has_dwell << 2 |
			    f->has_repeat << 3));
	put_double(w, f->capture_rate);
	put_double(w, f->conversion);
	put_double(w, f->dwell_avg_s);
	put_double(w, f->dwell_median_s);
	put_double(w, f->repeat_share);
}

static void put_bucket(struct wr *w, const struct bucket *b)
{
	const uint64_t c[] = {b->entries,    b->exits, b->visitors,    b->engaged,
			      b->passers_by, b->staff, b->randomized,  b->repeat,
			      b->receipts,   b->late,  b->dwell_sum_ms};
	uint32_t nz = 0;

	put_u64(w, (uint64_t)b->from_ms);
	put_u64(w, (uint64_t)b->to_ms);
	put_counters(w, c, ARRAY_SIZE(c));
	for (size_t i = 0; i < HIST_BINS; i++)
		nz += b->hist[i] != 0;
	put_u32(w, nz);
	for (size_t i = 0; i < HIST_BINS; i++) {
		if (b->hist[i]) {
			put_u32(w, (uint32_t)i);
			put_u32(w, b->hist[i]);
		}
	}
}

int kpi_save(const struct kpi *k, struct dynbuf *out)
{
	struct wr w = {.d = out};
	size_t start = out->len;

	put_u32(&w, BLOB_MAGIC);
	put_u32(&w, BLOB_VERSION);
	put_u32(&w, HIST_BINS);
	put_u32(&w, BIN_MS);
	put_u64(&w, (uint64_t)k->c.interval_ms);
	put_u64(&w, (uint64_t)k->next_ms);
	put_u64(&w, (uint64_t)k->next_day);
	put_u64(&w, k->skipped_intervals);
	put_u64(&w, k->skipped_days);
	put_u64(&w, k->dropped);
	put_u32(&w, (uint32_t)k->iv.n);
	put_u32(&w, (uint32_t)k->day.n);
	for (int p = KPI_INTERVAL; p <= KPI_DAY; p++)
		put_u8(&w, k->has_last[p]);
	for (int p = KPI_INTERVAL; p <= KPI_DAY; p++) {
		if (k->has_last[p])
			put_figures(&w, &k->last[p]);
	}
	for (size_t i = 0; i < k->iv.n; i++)
		put_bucket(&w, &k->iv.pool[k->iv.order[i]]);
	for (size_t i = 0; i < k->day.n; i++)
		put_bucket(&w, &k->day.pool[k->day.order[i]]);
	if (!w.err)
		put_u64(&w, fnv1a((const uint8_t *)out->buf + start, out->len - start));
	if (w.err) {
		out->len = start;
		if (out->buf)
			out->buf[start] = '\0';
	}
	return w.err;
}

struct rd {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static uint64_t get_u64(struct rd *r)
{
	uint64_t x = 0;

	if (r->bad || r->left < 8) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		x |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	r->left -= 8;
	return x;
}

static uint32_t get_u32(struct rd *r)
{
	uint32_t x = 0;

	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < 4; i++)
		x |= (uint32_t)r->p[i] << (8 * i);
	r->p += 4;
	r->left -= 4;
	return x;
}

static uint8_t get_u8(struct rd *r)
{
	uint8_t x;

	if (r->bad || r->left < 1) {
		r->bad = true;
		return 0;
	}
	x = r->p[0];
	r->p++;
	r->left--;
	return x;
}

static double get_double(struct rd *r)
{
	uint64_t u = get_u64(r);
	double x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

static bool get_figures(struct rd *r, enum kpi_period p, struct kpi_figures *f)
{
	uint64_t *c[] = {&f->entries, &f->exits,      &f->visitors, &f->engaged,  &f->passers_by,
			 &f->staff,   &f->randomized, &f->repeat,   &f->receipts, &f->late};
	uint8_t flags;

	memset(f, 0, sizeof(*f));
	f->period = p;
	if (get_u32(r) != (uint32_t)p)
		return false;
	f->from_ms = (int64_t)get_u64(r);
	f->to_ms = (int64_t)get_u64(r);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		*c[i] = get_u64(r);
	flags = get_u8(r);
	f->has_capture = flags & 1;
	f->has_conversion = flags & 2;
	f->has_dwell = flags & 4;
	f->has_repeat = flags & 8;
	f->capture_rate = get_double(r);
	f->conversion = get_double(r);
	f->dwell_avg_s = get_double(r);
	f->dwell_median_s = get_double(r);
	f->repeat_share = get_double(r);
	return !r->bad && !(flags & ~15u) && f->to_ms > f->from_ms;
}

/* One bucket into @s; it must start after @after and span at most @span. */
static bool get_bucket(struct rd *r, struct bset *s, int64_t after, int64_t span)
{
	struct bucket tmp, *b;
	uint64_t *c[] = {&tmp.entries,	  &tmp.exits, &tmp.visitors,	&tmp.engaged,
			 &tmp.passers_by, &tmp.staff, &tmp.randomized,	&tmp.repeat,
			 &tmp.receipts,	  &tmp.late,  &tmp.dwell_sum_ms};
	uint64_t sum = 0;
	uint32_t nz, prev = 0;

	memset(&tmp, 0, sizeof(tmp));
	tmp.from_ms = (int64_t)get_u64(r);
	tmp.to_ms = (int64_t)get_u64(r);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		*c[i] = get_u64(r);
	nz = get_u32(r);
	if (r->bad || nz > HIST_BINS || tmp.from_ms < after || tmp.to_ms <= tmp.from_ms ||
	    tmp.to_ms - tmp.from_ms > span)
		return false;
	for (uint32_t i = 0; i < nz; i++) {
		uint32_t bin = get_u32(r), n = get_u32(r);

		if (r->bad || bin >= HIST_BINS || (i && bin <= prev) || !n)
			return false;
		tmp.hist[bin] = n;
		sum += n;
		prev = bin;
	}
	if (sum != tmp.visitors || tmp.engaged > tmp.visitors || tmp.randomized > tmp.visitors ||
	    tmp.repeat > tmp.visitors)
		return false;
	/* Strictly ascending: a new bucket goes last. */
	if (s->n && s->pool[s->order[s->n - 1]].from_ms >= tmp.from_ms)
		return false;
	b = bset_get(s, tmp.from_ms, tmp.to_ms);
	if (!b)
		return false;
	*b = tmp;
	return true;
}

static bool parse(struct kpi *k, const uint8_t *blob, size_t len)
{
	struct rd r = {.p = blob, .left = len};
	uint32_t n_iv, n_day;
	uint8_t has[2];

	if (len < 8 || fnv1a(blob, len - 8) != get_u64(&(struct rd){blob + len - 8, 8, false}))
		return false;
	r.left = len - 8;
	if (get_u32(&r) != BLOB_MAGIC || get_u32(&r) != BLOB_VERSION || get_u32(&r) != HIST_BINS ||
	    get_u32(&r) != BIN_MS || (int64_t)get_u64(&r) != k->c.interval_ms)
		return false;
	k->next_ms = (int64_t)get_u64(&r);
	k->next_day = (int64_t)get_u64(&r);
	k->skipped_intervals = get_u64(&r);
	k->skipped_days = get_u64(&r);
	k->dropped = get_u64(&r);
	n_iv = get_u32(&r);
	n_day = get_u32(&r);
	has[0] = get_u8(&r);
	has[1] = get_u8(&r);
	if (r.bad || n_iv > RING_N || n_day > DAYS_N || has[0] > 1 || has[1] > 1 ||
	    k->next_day > k->next_ms || k->next_ms - k->next_day > 26 * 3600000LL)
		return false;
	for (int p = KPI_INTERVAL; p <= KPI_DAY; p++) {
		k->has_last[p] = has[p];
		if (has[p] && !get_figures(&r, (enum kpi_period)p, &k->last[p]))
			return false;
	}
	for (uint32_t i = 0; i < n_iv; i++) {
		if (!get_bucket(&r, &k->iv, k->next_ms, k->c.interval_ms))
			return false;
	}
	for (uint32_t i = 0; i < n_day; i++) {
		if (!get_bucket(&r, &k->day, k->next_day, 26 * 3600000LL))
			return false;
	}
	return !r.bad && r.left == 0;
}

int kpi_load(struct kpi *k, const void *blob, size_t len)
{
	kpi_reset(k);
	if (!blob || !parse(k, blob, len)) {
		kpi_reset(k);
		return -EINVAL;
	}
	return 0;
}
