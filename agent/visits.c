/*
 * visits: sessionization of pseudonymous sightings. See visits.h.
 *
 * Data structures, all allocated once in visits_new (nothing grows later):
 *  - a session pool of conf.max_sessions entries (64 bytes each), handed out
 *    from a free list or, before the pool was ever full, from a high-water
 *    mark (so untouched pages of a large pool stay out of the RSS);
 *  - an open-addressing hash (linear probing, backward-shift deletion, no
 *    tombstones) from the day pseudonym to the session index, at most half
 *    full;
 *  - an LRU list of the open sessions by last sighting: each sighting moves
 *    its session to the tail, so visits_advance closes from the head and
 *    stops at the first session that is not silent long enough;
 *  - the repeat table: the same hash + LRU layout, keyed by the repeat
 *    pseudonym, holding the end of the last visitor/engaged visit; entries
 *    older than repeat_window_ms are pruned from the head, and when it is
 *    full the least recently refreshed entry is forgotten;
 *  - the presence table for staff detection: day pseudonym -> summed dwell
 *    of its closed sessions today (only sessions longer than engaged_min_ms,
 *    which keeps it small), PRESENCE_MAX entries, cleared at local midnight.
 *    Classification is final at close: the sessions of a staff member that
 *    closed before the day's sum reached the share stay visitor/engaged. A
 *    full table only turns the share rule off for pseudonyms not in it.
 * A repeat also needs the earlier visit to have ended at least silence_ms
 * before this one began: a visit split at midnight (grace over) is one
 * visit, not a repeat.
 * Every operation per sighting is O(1) (amortised, hash probing).
 *
 * A late sighting (older than its session's last) does not move its session
 * in the LRU; it widens first when older still, and still counts for the
 * inside flag, the strongest RSSI and the zone. Sightings out of order
 * across sessions can leave the LRU slightly unsorted: a session then closes
 * a little later than it could, never with a wrong dwell (last - first).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "visits.h"

#define NIL UINT32_MAX
#define PRESENCE_MAX 4096
#define PRESENCE_SLOTS (2 * PRESENCE_MAX)
#define DAY_MS 86400000LL

struct session {
	uint64_t key; /* day pseudonym */
	uint64_t rep, rep_prev; /* from the latest sighting */
	int64_t first_ms, last_ms;
	uint32_t prev, next; /* LRU by last sighting; next = free list link */
	uint32_t sightings;
	int32_t max_rssi;
	uint16_t zone; /* of the strongest sighting */
	bool has_rep_prev;
	bool inside; /* had a sighting >= rssi_in */
	bool randomized;
	bool staff; /* known staff (presence over the share before midnight) */
};

struct rep_entry {
	uint64_t key;
	int64_t last_end_ms;
	uint32_t prev, next; /* LRU by refresh; next = free list link */
};

struct presence {
	uint64_t key;
	int64_t dwell_ms; /* 0 = free slot (only dwell > 0 is entered) */
};

/* An index hash: slots hold index + 1 (0 = empty), keys live in the entries. */
struct ihash {
	uint32_t *slot;
	size_t mask;
};

struct lru {
	uint32_t head, tail;
};

struct visits {
	struct visits_conf c;
	int64_t share_ms; /* presence that makes a pseudonym staff; 0 = off */

	struct session *s;
	uint32_t s_hw, s_free; /* high-water mark, free list */
	struct ihash s_hash;
	struct lru s_lru;

	struct rep_entry *r;
	uint32_t r_hw, r_free;
	size_t r_count;
	struct ihash r_hash;
	struct lru r_lru;

	struct presence *p;
	size_t p_count;
	int64_t day_start, day_next; /* the local day of the presence table */
	bool day_known;

	struct visits_stats st;
};

_Static_assert(offsetof(struct session, key) == 0, "key first");
_Static_assert(offsetof(struct rep_entry, key) == 0, "key first");

static const char *const class_names[] = {
	[VISIT_PASSER] = "passer_by",
	[VISIT_VISITOR] = "visitor",
	[VISIT_ENGAGED] = "engaged",
	[VISIT_STAFF] = "staff",
};

const char *visit_class_name(enum visit_class c)
{
	return (unsigned)c < ARRAY_SIZE(class_names) ? class_names[c] : "passer_by";
}

void visits_conf_defaults(struct visits_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->rssi_in = -70;
	c->silence_ms = 15 * 60000;
	c->passer_max_ms = 2 * 60000;
	c->engaged_min_ms = 10 * 60000;
	c->staff_dwell_ms = 4 * 3600000LL;
	c->staff_share_pct = 50;
	c->open_ms = 8 * 3600000LL;
	c->close_ms = 22 * 3600000LL;
	c->repeat_window_ms = 30 * DAY_MS;
	c->max_sessions = 20000;
	c->max_repeat = 65536;
}

/* Pseudonyms are HMAC outputs already; mix anyway so test keys spread too. */
static size_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (size_t)x;
}

static int ihash_init(struct ihash *h, size_t entries)
{
	size_t n = 16;

	while (n < 2 * entries)
		n *= 2;
	h->slot = calloc(n, sizeof(*h->slot));
	h->mask = n - 1;
	return h->slot ? 0 : -1;
}

/* Both entry kinds start with their uint64_t key (asserted below). */
static uint64_t key_at(const void *arr, size_t stride, uint32_t slot)
{
	return *(const uint64_t *)((const char *)arr + (size_t)(slot - 1) * stride);
}

/*
 * The slot holding @key (*found) or the empty slot where it would go; the
 * key of a slot is read from the entry it points to in @arr.
 */
static size_t ihash_find(const struct ihash *h, const void *arr, size_t stride, uint64_t key,
			 bool *found)
{
	size_t pos = mix(key) & h->mask;

	*found = false;
	while (h->slot[pos]) {
		if (key_at(arr, stride, h->slot[pos]) == key) {
			*found = true;
			break;
		}
		pos = (pos + 1) & h->mask;
	}
	return pos;
}

/* Empty the slot at @pos, shifting later members of its probe run back. */
static void ihash_del(struct ihash *h, const void *arr, size_t stride, size_t pos)
{
	size_t i = pos, j = pos, k;

	for (;;) {
		j = (j + 1) & h->mask;
		if (!h->slot[j])
			break;
		k = mix(key_at(arr, stride, h->slot[j])) & h->mask;
		/* j stays if its home k lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		h->slot[i] = h->slot[j];
		i = j;
	}
	h->slot[i] = 0;
}

#define LRU_UNLINK(l, arr, i)                                                                      \
	do {                                                                                       \
		uint32_t p_ = (arr)[i].prev, n_ = (arr)[i].next;                                   \
		if (p_ != NIL)                                                                     \
			(arr)[p_].next = n_;                                                       \
		else                                                                               \
			(l)->head = n_;                                                            \
		if (n_ != NIL)                                                                     \
			(arr)[n_].prev = p_;                                                       \
		else                                                                               \
			(l)->tail = p_;                                                            \
	} while (0)

#define LRU_APPEND(l, arr, i)                                                                      \
	do {                                                                                       \
		(arr)[i].prev = (l)->tail;                                                         \
		(arr)[i].next = NIL;                                                               \
		if ((l)->tail != NIL)                                                              \
			(arr)[(l)->tail].next = (i);                                               \
		else                                                                               \
			(l)->head = (i);                                                           \
		(l)->tail = (i);                                                                   \
	} while (0)

struct visits *visits_new(const struct visits_conf *c)
{
	struct visits *v;
	int64_t hours;

	if (!c || !c->max_sessions || c->max_sessions > UINT32_MAX / 4 ||
	    c->max_repeat > UINT32_MAX / 4)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->c = *c;
	hours = c->close_ms > c->open_ms ? c->close_ms - c->open_ms : DAY_MS;
	if (c->staff_share_pct)
		v->share_ms = hours * c->staff_share_pct / 100;
	v->s = calloc(c->max_sessions, sizeof(*v->s));
	v->p = calloc(PRESENCE_SLOTS, sizeof(*v->p));
	if (!v->s || !v->p || ihash_init(&v->s_hash, c->max_sessions))
		goto err_free;
	if (c->max_repeat) {
		v->r = calloc(c->max_repeat, sizeof(*v->r));
		if (!v->r || ihash_init(&v->r_hash, c->max_repeat))
			goto err_free;
	}
	v->s_free = v->r_free = NIL;
	v->s_lru.head = v->s_lru.tail = NIL;
	v->r_lru.head = v->r_lru.tail = NIL;
	return v;

err_free:
	visits_free(v);
	return NULL;
}

void visits_free(struct visits *v)
{
	if (!v)
		return;
	free(v->s);
	free(v->s_hash.slot);
	free(v->r);
	free(v->r_hash.slot);
	free(v->p);
	free(v);
}

/* ---- presence (staff by daily share) ---- */

static struct presence *presence_find(const struct visits *v, uint64_t key, bool *found)
{
	size_t pos = mix(key) & (PRESENCE_SLOTS - 1);

	*found = false;
	while (v->p[pos].dwell_ms) {
		if (v->p[pos].key == key) {
			*found = true;
			break;
		}
		pos = (pos + 1) & (PRESENCE_SLOTS - 1);
	}
	return &v->p[pos];
}

static int64_t presence_of(const struct visits *v, uint64_t key)
{
	bool found;
	struct presence *e = presence_find(v, key, &found);

	return found ? e->dwell_ms : 0;
}

/* Add a closed session's dwell; a full table only loses the share rule. */
static void presence_add(struct visits *v, uint64_t key, int64_t dwell)
{
	bool found;
	struct presence *e;

	if (dwell <= v->c.engaged_min_ms || dwell <= 0)
		return;
	e = presence_find(v, key, &found);
	if (found) {
		e->dwell_ms += dwell;
	} else if (v->p_count < PRESENCE_MAX) {
		e->key = key;
		e->dwell_ms = dwell;
		v->p_count++;
	}
}

/* ---- classification ---- */

static enum visit_class classify(const struct visits *v, const struct session *s, int64_t dwell)
{
	if (s->staff || dwell >= v->c.staff_dwell_ms ||
	    (v->share_ms && presence_of(v, s->key) + dwell >= v->share_ms))
		return VISIT_STAFF;
	if (!s->inside || dwell < v->c.passer_max_ms)
		return VISIT_PASSER;
	if (dwell > v->c.engaged_min_ms)
		return VISIT_ENGAGED;
	return VISIT_VISITOR;
}

/* ---- repeat table ---- */

static void rep_remove(struct visits *v, uint32_t i)
{
	bool found;
	size_t pos = ihash_find(&v->r_hash, v->r, sizeof(*v->r), v->r[i].key, &found);

	if (found)
		ihash_del(&v->r_hash, v->r, sizeof(*v->r), pos);
	LRU_UNLINK(&v->r_lru, v->r, i);
	v->r[i].next = v->r_free;
	v->r_free = i;
	v->r_count--;
}

static uint32_t rep_lookup(const struct visits *v, uint64_t key)
{
	bool found;
	size_t pos = ihash_find(&v->r_hash, v->r, sizeof(*v->r), key, &found);

	return found ? v->r_hash.slot[pos] - 1 : NIL;
}

static void rep_insert(struct visits *v, uint64_t key, int64_t end)
{
	size_t pos;
	bool found;
	uint32_t i;

	if (v->r_count == v->c.max_repeat)
		rep_remove(v, v->r_lru.head); /* forget the oldest */
	if (v->r_free != NIL) {
		i = v->r_free;
		v->r_free = v->r[i].next;
	} else {
		i = v->r_hw++;
	}
	v->r[i].key = key;
	v->r[i].last_end_ms = end;
	pos = ihash_find(&v->r_hash, v->r, sizeof(*v->r), key, &found);
	v->r_hash.slot[pos] = i + 1;
	LRU_APPEND(&v->r_lru, v->r, i);
	v->r_count++;
}

/*
 * An earlier visit of @key ended at most repeat_window_ms before @first. It
 * must also have ended at least silence_ms before: a shorter gap is one
 * visit split in two (midnight without grace), not a second visit.
 */
static bool rep_hit(const struct visits *v, uint32_t i, int64_t first)
{
	int64_t gap;

	if (i == NIL)
		return false;
	gap = first - v->r[i].last_end_ms;
	return gap >= v->c.silence_ms && gap <= v->c.repeat_window_ms;
}

static bool repeat_update(struct visits *v, const struct session *s)
{
	uint32_t i, ip = NIL;
	bool hit;

	if (!v->c.max_repeat)
		return false;
	i = rep_lookup(v, s->rep);
	if (s->has_rep_prev && s->rep_prev != s->rep)
		ip = rep_lookup(v, s->rep_prev);
	hit = rep_hit(v, i, s->first_ms) || rep_hit(v, ip, s->first_ms);
	if (ip != NIL && i == NIL) {
		/* Carry the entry over to the current repeat key. */
		int64_t end = v->r[ip].last_end_ms;

		rep_remove(v, ip);
		rep_insert(v, s->rep, end);
		i = rep_lookup(v, s->rep);
	} else if (ip != NIL) {
		rep_remove(v, ip);
	}
	if (i == NIL) {
		rep_insert(v, s->rep, s->last_ms);
	} else {
		if (s->last_ms > v->r[i].last_end_ms)
			v->r[i].last_end_ms = s->last_ms;
		LRU_UNLINK(&v->r_lru, v->r, i);
		LRU_APPEND(&v->r_lru, v->r, i);
	}
	return hit;
}

/* ---- sessions ---- */

static uint32_t session_lookup(const struct visits *v, uint64_t key, size_t *pos)
{
	bool found;

	*pos = ihash_find(&v->s_hash, v->s, sizeof(*v->s), key, &found);
	return found ? v->s_hash.slot[*pos] - 1 : NIL;
}

static void session_close(struct visits *v, uint32_t i, visits_cb cb, void *arg)
{
	struct session *s = &v->s[i];
	int64_t dwell = s->last_ms - s->first_ms;
	struct visit vis = {
		.pseudonym = s->key,
		.first_ms = s->first_ms,
		.last_ms = s->last_ms,
		.max_rssi = s->max_rssi,
		.zone = s->zone,
		.sightings = s->sightings,
		.randomized = s->randomized,
	};
	size_t pos;

	vis.cls = classify(v, s, dwell);
	presence_add(v, s->key, dwell);
	if ((vis.cls == VISIT_VISITOR || vis.cls == VISIT_ENGAGED) && !s->randomized)
		vis.repeat = repeat_update(v, s);
	v->st.closed[vis.cls]++;
	if (vis.repeat)
		v->st.repeats++;
	if (s->inside)
		v->st.open_inside--;
	v->st.open--;

	if (session_lookup(v, s->key, &pos) == i)
		ihash_del(&v->s_hash, v->s, sizeof(*v->s), pos);
	LRU_UNLINK(&v->s_lru, v->s, i);
	s->next = v->s_free;
	v->s_free = i;
	/* The session is gone before the caller sees the visit. */
	if (cb)
		cb(arg, &vis);
}

/*
 * The table is full: forget one of the EVICT_SCAN sessions silent the
 * longest that had a single sighting (a flood of random MACs is made of
 * those), so a flood cannot lock real visitors out for the whole silence
 * time. Returns true if a slot was freed. Nothing is reported for it
 * (counted as evicted).
 */
#define EVICT_SCAN 16

static bool session_evict(struct visits *v)
{
	uint32_t i = v->s_lru.head;
	struct session *s;
	size_t pos;

	for (int n = 0; i != NIL && v->s[i].sightings > 1; n++) {
		if (n == EVICT_SCAN)
			return false;
		i = v->s[i].next;
	}
	if (i == NIL)
		return false;
	s = &v->s[i];
	if (s->inside)
		v->st.open_inside--;
	v->st.open--;
	v->st.evicted++;
	if (session_lookup(v, s->key, &pos) == i)
		ihash_del(&v->s_hash, v->s, sizeof(*v->s), pos);
	LRU_UNLINK(&v->s_lru, v->s, i);
	s->next = v->s_free;
	v->s_free = i;
	return true;
}

static void session_fill(struct visits *v, struct session *s, const struct visits_sighting *sg)
{
	s->rep = sg->ids.rep;
	s->rep_prev = sg->ids.rep_prev;
	s->has_rep_prev = sg->ids.has_rep_prev;
	if (sg->randomized)
		s->randomized = true;
	if (s->sightings < UINT32_MAX)
		s->sightings++;
	if (sg->rssi > s->max_rssi) {
		s->max_rssi = sg->rssi;
		s->zone = sg->zone;
	}
	if (!s->inside && sg->rssi >= v->c.rssi_in) {
		s->inside = true;
		v->st.open_inside++;
	}
}

void visits_sighting(struct visits *v, const struct visits_sighting *sg)
{
	struct session *s;
	size_t pos, pos_prev;
	uint32_t i;

	i = session_lookup(v, sg->ids.day, &pos);
	if (i == NIL && sg->ids.has_day_prev && sg->ids.day_prev != sg->ids.day) {
		i = session_lookup(v, sg->ids.day_prev, &pos_prev);
		if (i != NIL) {
			/* A visit across midnight: continue it under today's key. */
			ihash_del(&v->s_hash, v->s, sizeof(*v->s), pos_prev);
			v->s[i].key = sg->ids.day;
			session_lookup(v, sg->ids.day, &pos); /* the deletion moved slots */
			v->s_hash.slot[pos] = i + 1;
			v->st.midnight_joins++;
		}
	}
	if (i == NIL) {
		if (v->st.open == v->c.max_sessions) {
			if (!session_evict(v)) {
				v->st.table_full++;
				return;
			}
			session_lookup(v, sg->ids.day, &pos); /* the eviction moved slots */
		}
		if (v->s_free != NIL) {
			i = v->s_free;
			v->s_free = v->s[i].next;
		} else {
			i = v->s_hw++;
		}
		s = &v->s[i];
		memset(s, 0, sizeof(*s));
		s->key = sg->ids.day;
		s->first_ms = s->last_ms = sg->t_ms;
		s->max_rssi = sg->rssi;
		s->zone = sg->zone;
		v->s_hash.slot[pos] = i + 1;
		LRU_APPEND(&v->s_lru, v->s, i);
		v->st.open++;
	} else {
		s = &v->s[i];
		if (sg->t_ms < s->last_ms) {
			/* Out of order: widen, but keep its place in the LRU. */
			v->st.late++;
			if (sg->t_ms < s->first_ms)
				s->first_ms = sg->t_ms;
		} else {
			s->last_ms = sg->t_ms;
			LRU_UNLINK(&v->s_lru, v->s, i);
			LRU_APPEND(&v->s_lru, v->s, i);
		}
	}
	session_fill(v, s, sg);
	v->st.sightings++;
}

/*
 * A new local day: sessions whose pseudonym was over the share keep their
 * staff mark (the table is about to forget it), then the table is cleared.
 * O(open sessions), once a day.
 */
static void new_day(struct visits *v, int64_t now_ms)
{
	if (v->share_ms && v->p_count) {
		for (uint32_t i = v->s_lru.head; i != NIL; i = v->s[i].next) {
			struct session *s = &v->s[i];

			if (presence_of(v, s->key) + (s->last_ms - s->first_ms) >= v->share_ms)
				s->staff = true;
		}
	}
	memset(v->p, 0, PRESENCE_SLOTS * sizeof(*v->p));
	v->p_count = 0;
	v->day_start = local_day_start_ms(now_ms);
	v->day_next = local_day_next_ms(now_ms);
	v->day_known = true;
}

void visits_advance(struct visits *v, int64_t now_ms, visits_cb cb, void *arg)
{
	/* Sessions that ended yesterday count towards yesterday's presence. */
	while (v->s_lru.head != NIL && v->s[v->s_lru.head].last_ms <= now_ms - v->c.silence_ms)
		session_close(v, v->s_lru.head, cb, arg);
	if (!v->day_known || now_ms >= v->day_next || now_ms < v->day_start)
		new_day(v, now_ms);
	/*
	 * Forget repeat entries no closing visit can match: a visitor's visit
	 * that closes now began at most staff_dwell + silence ago.
	 */
	while (v->r_lru.head != NIL &&
	       v->r[v->r_lru.head].last_end_ms <
		       now_ms - v->c.repeat_window_ms - v->c.staff_dwell_ms - v->c.silence_ms)
		rep_remove(v, v->r_lru.head);
}

void visits_flush(struct visits *v, visits_cb cb, void *arg)
{
	while (v->s_lru.head != NIL)
		session_close(v, v->s_lru.head, cb, arg);
}

void visits_get_stats(const struct visits *v, struct visits_stats *st)
{
	*st = v->st;
	st->repeat_entries = v->r_count;
}

void visits_open_classes(const struct visits *v, int64_t now_ms, uint64_t *counts)
{
	memset(counts, 0, VISIT_CLASS_N * sizeof(*counts));
	for (uint32_t i = v->s_lru.head; i != NIL; i = v->s[i].next)
		counts[classify(v, &v->s[i], v->s[i].last_ms - v->s[i].first_ms)]++;
}
