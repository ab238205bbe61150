/*
 * act: the store acting on what it sees (issue 5), the daemon's glue for
 * - guide screens (screens.c): recommendations after a sale, a zone's
 *   content when its footfall rises, a rule's content; "screen" events;
 * - HQ recommendation sets (recs.c), rules.set (rules.c) and markdown.set
 *   (markdown.c): checked, stored in SQLite in the inbox's transaction with
 *   the ack, made live after the commit (inbox.h content_* hooks);
 * - the local rules: every recorded event is matched on its own timestamp,
 *   actions run here (alert, screen, flash, temporary price); the engine's
 *   state is written in the same transaction as the events that changed it;
 * - perishable markdown: each SKU's steps applied on time through the price
 *   table (so labels and integrity follow), offline and across restarts.
 *
 * What is kept (SQLite meta table): "recs.set" (the payload of the live set),
 * "rules.set" (the payload of the live rules.set), "rules.state" (the
 * engine's windows and last firings), "rules.temp" (temporary prices still
 * running, JSON), "md.cfg.<sku>" / "md.state.<sku>" (a SKU's markdown.set
 * payload and its planner state).
 *
 * Prices the gateway sets itself (markdown steps, temporary prices) go
 * through pricebook like an HQ batch with a synthetic id ("md:SKU:MS",
 * "rule:NAME:MS"), issued now (or just after the row's own issued_at when
 * HQ's clock is ahead), so a newer HQ batch still wins over them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "daemon.h"
#include "json.h"
#include "labelbook.h"
#include "log.h"
#include "markdown.h"
#include "pos.h"
#include "pricebook.h"
#include "recs.h"
#include "rules.h"
#include "screens.h"

#define ACT_RECHECK_MS 60000 /* the timer looks again at least this often (clock steps) */
#define ACT_MD_MAX 1000 /* SKUs with a markdown */
#define ACT_TEMP_MAX 1000 /* temporary prices running */
#define ACT_TYPES_MAX 64 /* distinct event types the rules look at */
#define DEFAULT_HEADLINE "You may also like"
#define NO_CURRENCY "XXX" /* ISO 4217's code for "no currency": content without a priced item */
#define MD_STATE_MAGIC 0x31444d53u /* "SMD1": the planner state blob's header */

#define META_RECS "recs.set"
#define META_RULES "rules.set"
#define META_RULES_ROW "rules.st." /* + rule name: that rule's windows and firings */
#define META_TEMP "rules.temp"
#define META_MD_CFG "md.cfg."
#define META_MD_STATE "md.state."

struct act_screen {
	const struct device_conf *conf;
	uint64_t last_version; /* the newest version pushed (or a 409's "shown") */
	uint64_t pushes;
	cJSON *shown; /* the newest content pushed (without its version), NULL: none */
};

struct md_sku {
	struct markdown_cfg cfg;
	struct markdown_state st;
};

struct temp_price {
	char sku[PRICE_SKU_MAX + 1];
	char rule[RULES_NAME_MAX + 1];
	char batch[PRICE_ID_MAX + 1]; /* the id the temporary price was written with */
	int64_t price;
	int64_t prev_price, prev_regular, prev_promo_until;
	int64_t until_ms;
	int64_t retry_ms; /* a failed restore is tried again then (not saved) */
};

#define ACT_CHANGED_MAX 256 /* SKUs whose labels and screens follow at the next turn */

struct md_state_blob {
	uint32_t magic;
	uint32_t size;
	struct markdown_state st;
};

struct act {
	struct shelfd *d;
	/* screens */
	struct screens *screens;
	struct act_screen scr[SCREENS_MAX];
	size_t n_scr;
	/* the live recommendation set, and the one the inbox is checking */
	struct recs_set recs;
	bool has_recs;
	struct recs_set pend_recs;
	uint64_t recs_pushes;
	char last_till[CONF_NAME_MAX + 1], last_receipt[65];
	int64_t last_push_ms;
	/* rules */
	struct rules_engine *rules;
	char rules_id[PRICE_ID_MAX + 1];
	int64_t rules_version; /* 0: none */
	struct rule_set *pend_rules;
	char types[ACT_TYPES_MAX][RULES_EVENT_MAX + 1]; /* event types the rules match */
	size_t n_types;
	bool all_types; /* more than ACT_TYPES_MAX: every event goes to the engine */
	bool in_action; /* events of rule actions are not matched (no rule chains) */
	/* temporary prices */
	struct temp_price temp[ACT_TEMP_MAX];
	size_t n_temp;
	/*
	 * SKUs a rule's price action changed in the middle of some turn: their
	 * labels and screens follow on the timer, in a turn of their own (the
	 * price itself is in the transaction of the firing).
	 */
	char changed[ACT_CHANGED_MAX][PRICE_SKU_MAX + 1];
	size_t n_changed;
	/* markdown */
	struct md_sku *md;
	size_t n_md;
	struct md_sku pend_md; /* the command being checked, with its carried state */
	bool md_rerun; /* a price changed: plan every SKU again */
	int64_t md_next_at; /* the earliest next markdown step (INT64_MAX: none) */
	/* the message being checked (valid during inbox_message only) */
	const char *pend_payload;
	size_t pend_len;
	/* footfall per counter (source): the previous interval's entries */
	char ff_src[CONF_MAX_DEVICES][CONF_NAME_MAX + 1];
	int64_t ff_prev[CONF_MAX_DEVICES];
	size_t n_ff;
	int timer;
	int64_t timer_at; /* wall ms the timer was armed for */
};

static void arm(struct act *a);
static void save_rules(struct act *a);
static int load_rule_rows(struct act *a, struct dynbuf *out);
static void drop_rule_rows(struct act *a);

/* ---- SQLite meta rows ---- */

static int meta_put(struct act *a, const char *key, const void *val, size_t len)
{
	sqlite3 *db = store_db(a->d->store);
	sqlite3_stmt *st = NULL;
	int rc = store_begin(a->d->store);

	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	if (rc)
		log_err("act: cannot store %s: %s", key, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

static int meta_del(struct act *a, const char *key)
{
	sqlite3 *db = store_db(a->d->store);
	sqlite3_stmt *st = NULL;
	int rc = store_begin(a->d->store);

	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(db, "DELETE FROM meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return rc;
}

/* The value of @key into @out (reset first). 1, 0 (none) or -EIO/-ENOMEM. */
static int meta_get(struct act *a, const char *key, struct dynbuf *out)
{
	sqlite3 *db = store_db(a->d->store);
	sqlite3_stmt *st = NULL;
	int rc = 0;

	dynbuf_reset(out);
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		rc = dynbuf_add(out, p ? p : "", (size_t)n);
		if (!rc)
			rc = 1;
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- prices ---- */

/* The live price row of @sku: true when it has a price. */
static bool price_of(struct act *a, const char *sku, struct price_row *row)
{
	return pricebook_get(a->d->prices, sku, row) == 0 && !row->removed;
}

static bool recs_price(void *arg, const char *sku, int64_t *price, char *name, size_t namesz)
{
	struct price_row row;

	if (!price_of(arg, sku, &row))
		return false;
	*price = row.price;
	str_copy(name, namesz, row.name);
	return true;
}

/*
 * Write one price for @sku as the gateway (markdown, temporary price) in the
 * open transaction, keeping the row's name and unit: batch @id, issued now
 * (or just after the row's issued_at if HQ's clock is ahead of ours).
 * Returns 1 (written), 0 (a newer batch holds the SKU) or -errno.
 */
static int price_write(struct act *a, const struct price_row *row, const char *id, int64_t price,
		       int64_t regular, int64_t promo_until)
{
	struct price_item it = {
		.sku = row->sku,
		.price = price,
		.regular = regular,
		.name = row->name[0] ? row->name : NULL,
		.unit = row->unit[0] ? row->unit : NULL,
		.promo_until_ms = promo_until,
	};
	struct price_batch b;
	struct pricebook_result r;
	int64_t now = now_wall_ms();
	int rc;

	memset(&b, 0, sizeof(b));
	str_copy(b.id, sizeof(b.id), id);
	memcpy(b.currency, row->currency, sizeof(b.currency));
	b.issued_at_ms = row->issued_at_ms >= now ? row->issued_at_ms + 1 : now;
	b.items = &it;
	b.n_items = 1;
	pricebook_result_init(&r);
	r.now_ms = now;
	rc = pricebook_apply(a->d->prices, &b, false, &r, NULL, NULL);
	if (!rc)
		rc = r.applied == 1;
	pricebook_result_free(&r);
	return rc;
}

static void screens_reprice(struct act *a, const char *sku);
static struct md_sku *md_find(struct act *a, const char *sku);

/* After a committed price change of @sku: its labels and screens follow. */
static void price_changed(struct act *a, const char *sku)
{
	labels_sku_changed(a->d->labels, sku);
	shelfd_commit(a->d);
	screens_reprice(a, sku);
	if (md_find(a, sku))
		a->md_rerun = true; /* a temporary price came or went: plan it again */
}

/* ---- screens ---- */

static const char *screen_zone(const struct device_conf *c)
{
	return c->zone[0] ? c->zone : "store";
}

static bool screen_has_till(const struct device_conf *c, const char *till)
{
	for (size_t i = 0; i < c->n_tills; i++) {
		if (!strcmp(c->tills[i], till))
			return true;
	}
	return false;
}

/* A content object with the members every push has. */
static cJSON *content_new(struct act *a, size_t i, const char *kind, const char *headline,
			  const char *currency)
{
	cJSON *c = cJSON_CreateObject();

	if (!c)
		return NULL;
	cJSON_AddStringToObject(c, "store", a->d->conf->store_id);
	cJSON_AddStringToObject(c, "screen", a->scr[i].conf->name);
	cJSON_AddStringToObject(c, "zone", screen_zone(a->scr[i].conf));
	cJSON_AddStringToObject(c, "kind", kind);
	cJSON_AddItemToObject(c, "ts", json_ts_item(now_wall_ms()));
	cJSON_AddStringToObject(c, "headline", headline ? headline : "");
	cJSON_AddStringToObject(c, "currency", currency && currency[0] ? currency : NO_CURRENCY);
	cJSON_AddArrayToObject(c, "items");
	return c;
}

static void content_item(cJSON *c, const char *sku, const char *name, int64_t price,
			 const char *headline, const char *image)
{
	cJSON *it = cJSON_CreateObject();

	if (!it)
		return;
	cJSON_AddStringToObject(it, "sku", sku);
	cJSON_AddStringToObject(it, "name", name);
	cJSON_AddNumberToObject(it, "price", (double)price);
	if (headline)
		cJSON_AddStringToObject(it, "headline", headline);
	if (image)
		cJSON_AddStringToObject(it, "image", image);
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(c, "items"), it);
}

/* Hand @c (owned from here on) to screen @i with its next version. 0 or -errno. */
static int push(struct act *a, size_t i, cJSON *c)
{
	struct act_screen *s = &a->scr[i];
	uint64_t v = s->last_version + 1, now = (uint64_t)now_wall_ms();
	char *text;
	int rc;

	/* Epoch ms as the floor: versions keep rising across restarts. */
	if (v < now)
		v = now;
	text = c ? cJSON_PrintUnformatted(c) : NULL;
	if (!text) {
		cJSON_Delete(c);
		return -ENOMEM;
	}
	rc = screens_push(a->screens, i, v, text);
	free(text);
	if (rc < 0) {
		log_warn("screen %s: content not pushed: %s", s->conf->name, strerror(-rc));
		cJSON_Delete(c);
		return rc;
	}
	s->last_version = v;
	s->pushes++;
	cJSON_Delete(s->shown);
	s->shown = c;
	return 0;
}

/*
 * The price of @sku changed: every screen showing it gets its content again
 * with the new price (or without the product, when it has no price now).
 */
static void screens_reprice(struct act *a, const char *sku)
{
	for (size_t i = 0; i < a->n_scr; i++) {
		cJSON *c = a->scr[i].shown, *items, *it, *next;
		struct price_row row;
		bool hit = false, priced;

		items = cJSON_GetObjectItemCaseSensitive(c, "items");
		for (it = items ? items->child : NULL; it; it = it->next)
			hit = hit || !strcmp(cJSON_GetStringValue(
						     cJSON_GetObjectItemCaseSensitive(it, "sku"))
						     ?: "",
					     sku);
		if (!hit)
			continue;
		c = cJSON_Duplicate(c, true);
		items = cJSON_GetObjectItemCaseSensitive(c, "items");
		priced = price_of(a, sku, &row);
		for (it = items ? items->child : NULL; it; it = next) {
			next = it->next;
			if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "sku"))
					   ?: "",
				   sku))
				continue;
			if (!priced) {
				cJSON_Delete(cJSON_DetachItemViaPointer(items, it));
				continue;
			}
			cJSON_ReplaceItemInObjectCaseSensitive(
				it, "price", cJSON_CreateNumber((double)row.price));
			cJSON_ReplaceItemInObjectCaseSensitive(it, "name",
							       cJSON_CreateString(row.name));
		}
		if (c)
			cJSON_ReplaceItemInObjectCaseSensitive(c, "ts",
							       json_ts_item(now_wall_ms()));
		if (c && push(a, i, c) == 0)
			log_info("screen %s: %s changed price; content sent again",
				 a->scr[i].conf->name, sku);
	}
}

static void on_screen_state(void *arg, size_t i, enum screen_state from, enum screen_state to,
			    const struct screen_health *h)
{
	struct act *a = arg;
	const struct device_conf *c = a->scr[i].conf;
	cJSON *b;

	/* A first success is not news; a failure and the recovery from it are. */
	if (from == SCREEN_NEVER && to == SCREEN_OK)
		return;
	b = cJSON_CreateObject();
	if (!b)
		return;
	cJSON_AddStringToObject(b, "screen", c->name);
	cJSON_AddStringToObject(b, "zone", screen_zone(c));
	cJSON_AddStringToObject(b, "state", screens_state_name(to));
	cJSON_AddStringToObject(b, "error", to == SCREEN_OK ? "" : h->last_error);
	if (h->last_http_code)
		cJSON_AddNumberToObject(b, "http", h->last_http_code);
	else
		cJSON_AddNullToObject(b, "http");
	if (h->last_latency_ms >= 0)
		cJSON_AddNumberToObject(b, "latency_ms", (double)h->last_latency_ms);
	else
		cJSON_AddNullToObject(b, "latency_ms");
	cJSON_AddNumberToObject(b, "version", (double)h->version_wanted);
	if (to == SCREEN_OK)
		log_info("screen %s: ok again", c->name);
	else
		log_warn("screen %s: failing: %s", c->name, h->last_error);
	if (shelfd_emit(a->d, c->name, "screen", b, 0) < 0)
		log_warn("screen %s: state event not recorded", c->name);
	cJSON_Delete(b);
}

static void on_screen_result(void *arg, const struct screen_result *r)
{
	struct act *a = arg;
	struct act_screen *s = &a->scr[r->index];

	/* The screen shows a newer version (our counter went back): continue above it. */
	if (r->outcome == SCREEN_STALE && r->shown > s->last_version)
		s->last_version = r->shown;
	if (r->outcome == SCREEN_REJECTED)
		log_warn("screen %s: refused version %" PRIu64 ": %s", s->conf->name, r->version,
			 r->error);
}

/* The zone content of the recs set for zone @zone to its screens. Returns screens pushed. */
static size_t push_zone(struct act *a, const char *zone, const char *kind, const char *headline,
			const struct rules_screen_item *ritems, size_t n_ritems)
{
	const struct recs_zone *z = NULL;
	bool rule = !strcmp(kind, "rule"); /* a rule's own content (maybe a headline only) */
	size_t pushed = 0;

	if (!rule) {
		z = a->has_recs ? recs_zone_find(&a->recs, zone) : NULL;
		if (!z)
			return 0;
		headline = z->headline ? z->headline : "";
	}
	for (size_t i = 0; i < a->n_scr; i++) {
		size_t n = rule ? n_ritems : z->n_items;
		char currency[4] = "";
		cJSON *c;

		if (strcmp(screen_zone(a->scr[i].conf), zone))
			continue;
		c = content_new(a, i, kind, headline, NULL);
		for (size_t k = 0; c && k < n; k++) {
			const char *sku = rule ? ritems[k].sku : z->items[k].sku;
			struct price_row row;

			if (!price_of(a, sku, &row))
				continue; /* no price: not shown */
			if (!currency[0])
				memcpy(currency, row.currency, sizeof(currency));
			content_item(c, sku, row.name, row.price,
				     rule ? ritems[k].headline : z->items[k].headline,
				     rule ? NULL : z->items[k].image);
		}
		if (c && currency[0])
			cJSON_ReplaceItemInObjectCaseSensitive(c, "currency",
							       cJSON_CreateString(currency));
		if (push(a, i, c) == 0)
			pushed++;
	}
	return pushed;
}

/* A sale from till @till: its recommendations to the till's screens. */
static void recommend(struct act *a, const char *till, const struct pos_summary *sum)
{
	const char *basket[POS_LINES_MAX];
	struct recs_pick picks[12];
	size_t n_basket = 0, top = 0;
	bool any = false;
	int n;

	for (size_t i = 0; i < a->n_scr; i++) {
		if (screen_has_till(a->scr[i].conf, till)) {
			any = true;
			if (a->scr[i].conf->max_items > top)
				top = a->scr[i].conf->max_items;
		}
	}
	if (!any || !a->has_recs)
		return;
	if (top > sizeof(picks) / sizeof(picks[0]))
		top = sizeof(picks) / sizeof(picks[0]);
	for (size_t i = 0; i < sum->n_items && n_basket < RECS_MAX_BASKET; i++)
		basket[n_basket++] = sum->items[i].sku;
	n = recs_select(&a->recs, basket, n_basket, recs_price, a, top, picks);
	if (n <= 0)
		return; /* nothing to suggest: the screen keeps what it shows */
	str_copy(a->last_till, sizeof(a->last_till), till);
	str_copy(a->last_receipt, sizeof(a->last_receipt), sum->receipt);
	a->last_push_ms = now_wall_ms();
	a->recs_pushes++;
	for (size_t i = 0; i < a->n_scr; i++) {
		const struct device_conf *sc = a->scr[i].conf;
		struct price_row row;
		cJSON *c;

		if (!screen_has_till(sc, till))
			continue;
		if (!price_of(a, picks[0].sku, &row))
			row.currency[0] = '\0';
		c = content_new(a, i, "recs",
				picks[0].headline ? picks[0].headline : DEFAULT_HEADLINE,
				row.currency);
		for (int k = 0; c && k < n && (unsigned)k < sc->max_items; k++)
			content_item(c, picks[k].sku, picks[k].name, picks[k].price,
				     picks[k].headline, NULL);
		if (c) {
			cJSON_AddStringToObject(c, "till", till);
			cJSON_AddStringToObject(c, "receipt", sum->receipt);
		}
		push(a, i, c);
	}
}

/* ---- rules ---- */

static bool wants_type(const struct act *a, const char *type)
{
	if (a->all_types)
		return true;
	for (size_t i = 0; i < a->n_types; i++) {
		if (!strcmp(a->types[i], type))
			return true;
	}
	return false;
}

static void add_type(struct act *a, const char *type)
{
	if (wants_type(a, type))
		return;
	if (a->n_types == ACT_TYPES_MAX) {
		a->all_types = true;
		return;
	}
	str_copy(a->types[a->n_types++], sizeof(a->types[0]), type);
}

static void note_types(struct act *a)
{
	const struct rule_set *rs = rules_engine_rules(a->rules);

	a->n_types = 0;
	a->all_types = false;
	for (size_t i = 0; rs && i < rs->n_rules; i++) {
		add_type(a, rs->rules[i].when.event);
		if (rs->rules[i].has_unless)
			add_type(a, rs->rules[i].unless.event);
	}
}

static void save_temp(struct act *a)
{
	cJSON *arr = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; arr && i < a->n_temp; i++) {
		const struct temp_price *t = &a->temp[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		cJSON_AddStringToObject(o, "sku", t->sku);
		cJSON_AddStringToObject(o, "rule", t->rule);
		cJSON_AddStringToObject(o, "batch", t->batch);
		cJSON_AddNumberToObject(o, "price", (double)t->price);
		cJSON_AddNumberToObject(o, "prev_price", (double)t->prev_price);
		cJSON_AddNumberToObject(o, "prev_regular", (double)t->prev_regular);
		cJSON_AddNumberToObject(o, "prev_promo_until", (double)t->prev_promo_until);
		cJSON_AddNumberToObject(o, "until", (double)t->until_ms);
		cJSON_AddItemToArray(arr, o);
	}
	text = arr ? cJSON_PrintUnformatted(arr) : NULL;
	if (!text || meta_put(a, META_TEMP, text, strlen(text)) < 0)
		log_err("rules: the temporary prices could not be saved");
	free(text);
	cJSON_Delete(arr);
}

static void load_temp(struct act *a, const char *buf, size_t len)
{
	cJSON *arr = cJSON_ParseWithLength(buf, len), *o;

	cJSON_ArrayForEach(o, arr)
	{
		struct temp_price *t;
		const char *sku = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "sku"));
		const char *rule =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "rule"));
		const char *batch =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "batch"));

		if (a->n_temp == ACT_TEMP_MAX || !sku || !rule || !batch)
			continue;
		t = &a->temp[a->n_temp];
		memset(t, 0, sizeof(*t));
		str_copy(t->sku, sizeof(t->sku), sku);
		str_copy(t->rule, sizeof(t->rule), rule);
		str_copy(t->batch, sizeof(t->batch), batch);
		if (json_get_int(o, "price", &t->price) < 0 ||
		    json_get_int(o, "prev_price", &t->prev_price) < 0 ||
		    json_get_int(o, "prev_regular", &t->prev_regular) < 0 ||
		    json_get_int(o, "prev_promo_until", &t->prev_promo_until) < 0 ||
		    json_get_int(o, "until", &t->until_ms) < 0)
			continue;
		a->n_temp++;
	}
	cJSON_Delete(arr);
}

struct flash_ctx {
	struct act *a;
	int n;
};

static void flash_one(void *arg, const struct label_row *r)
{
	struct flash_ctx *f = arg;

	if (f->a->d->esl_dev && esl_flash(f->a->d->esl_dev, r->id) == 0)
		f->n++;
}

/*
 * Action price: the temporary price, written in the open transaction (the
 * one of the events that fired the rule: the firing, the price, its restore
 * point and the "rule" event are committed together), remembered to be
 * restored at its end. Returns 0 or -errno with @why.
 */
static int temp_price_set(struct act *a, const struct rules_fire *f, cJSON *ev, char *why,
			  size_t whysz)
{
	const struct rules_action *act = &f->rule->then;
	struct temp_price nt, *t;
	struct price_row row;
	size_t i;
	int rc;

	if (!price_of(a, act->sku, &row)) {
		snprintf(why, whysz, "no price for %s: a temporary price needs one", act->sku);
		return -ENOENT;
	}
	cJSON_AddNumberToObject(ev, "previous", (double)row.price);
	for (i = 0; i < a->n_temp && strcmp(a->temp[i].sku, act->sku); i++)
		;
	if (i == a->n_temp && a->n_temp == ACT_TEMP_MAX) {
		snprintf(why, whysz, "too many temporary prices running (%d)", ACT_TEMP_MAX);
		return -ENOSPC;
	}
	memset(&nt, 0, sizeof(nt));
	str_copy(nt.sku, sizeof(nt.sku), act->sku);
	if (i < a->n_temp && !strcmp(row.batch_id, a->temp[i].batch)) {
		/* Still our temporary price: the new one restores what the first one would. */
		nt.prev_price = a->temp[i].prev_price;
		nt.prev_regular = a->temp[i].prev_regular;
		nt.prev_promo_until = a->temp[i].prev_promo_until;
	} else {
		/* Something else set the price since (HQ, a markdown): that is what comes back. */
		nt.prev_price = row.price;
		nt.prev_regular = row.regular;
		nt.prev_promo_until = row.promo_until_ms;
	}
	str_copy(nt.rule, sizeof(nt.rule), f->rule->name);
	snprintf(nt.batch, sizeof(nt.batch), "rule:%s:%lld", f->rule->name,
		 (long long)now_wall_ms());
	nt.price = act->price;
	nt.until_ms = f->until_ms;
	rc = store_begin(a->d->store);
	if (!rc)
		rc = price_write(a, &row, nt.batch, act->price,
				 act->price < nt.prev_price ? nt.prev_price : nt.prev_regular,
				 f->until_ms);
	if (rc <= 0) {
		if (rc == 0)
			snprintf(why, whysz, "a newer price batch holds %s", act->sku);
		else
			snprintf(why, whysz, "the price could not be stored (%s)", strerror(-rc));
		return rc ? rc : -ESTALE;
	}
	t = &a->temp[i];
	*t = nt;
	if (i == a->n_temp)
		a->n_temp++;
	save_temp(a);
	if (a->n_changed < ACT_CHANGED_MAX)
		str_copy(a->changed[a->n_changed++], sizeof(a->changed[0]), act->sku);
	else
		log_warn("rule %s: too many price changes at once; the labels of %s follow at "
			 "the next start",
			 f->rule->name, act->sku);
	return 0;
}

/* The common members of a "rule" event. */
static cJSON *rule_event(const char *rule, const char *action, int64_t trigger_ms, int64_t due_ms,
			 int64_t now)
{
	cJSON *ev = cJSON_CreateObject();

	if (!ev)
		return NULL;
	cJSON_AddStringToObject(ev, "rule", rule);
	cJSON_AddStringToObject(ev, "action", action);
	cJSON_AddItemToObject(ev, "trigger_ts", json_ts_item(trigger_ms));
	cJSON_AddNumberToObject(ev, "late_ms", (double)(now > due_ms ? now - due_ms : 0));
	return ev;
}

/* The labels and screens of the SKUs the price actions changed (a turn of their own). */
static void run_changed(struct act *a)
{
	size_t n = a->n_changed;

	if (!n || shelfd_commit(a->d) < 0)
		return;
	a->n_changed = 0;
	for (size_t i = 0; i < n; i++)
		price_changed(a, a->changed[i]);
}

/* Run one firing's action and record it ("rule" event, plus "alert" for alerts). */
static void run_fire(struct act *a, const struct rules_fire *f, int64_t now)
{
	const struct rules_action *act = &f->rule->then;
	cJSON *ev;

	ev = rule_event(f->rule->name, rules_action_name(act->kind), f->trigger_ms, f->due_ms, now);
	if (!ev)
		return;
	switch (act->kind) {
	case RULES_ALERT: {
		cJSON *al = cJSON_CreateObject();

		cJSON_AddStringToObject(ev, "message", act->message);
		if (al) {
			cJSON_AddStringToObject(al, "alert", "rule");
			cJSON_AddStringToObject(al, "rule", f->rule->name);
			cJSON_AddStringToObject(al, "message", act->message);
			if (shelfd_emit(a->d, "rules", "alert", al, f->at_ms) < 0)
				log_warn("rule %s: alert not recorded", f->rule->name);
			cJSON_Delete(al);
		}
		log_info("rule %s fired: alert: %s", f->rule->name, act->message);
		break;
	}
	case RULES_SCREEN:
		cJSON_AddStringToObject(ev, "zone", act->zone);
		cJSON_AddNumberToObject(ev, "screens",
					(double)push_zone(a, act->zone, "rule", act->headline,
							  act->items, act->n_items));
		log_info("rule %s fired: content for zone %s", f->rule->name, act->zone);
		break;
	case RULES_FLASH: {
		struct flash_ctx fc = {a, 0};

		cJSON_AddStringToObject(ev, "sku", act->sku);
		labelbook_foreach_sku(a->d->labelbook, act->sku, flash_one, &fc);
		cJSON_AddNumberToObject(ev, "labels", fc.n);
		log_info("rule %s fired: %d label(s) of %s flash", f->rule->name, fc.n, act->sku);
		break;
	}
	case RULES_PRICE: {
		char why[160] = "";

		cJSON_AddStringToObject(ev, "sku", act->sku);
		cJSON_AddNumberToObject(ev, "price", (double)act->price);
		cJSON_AddItemToObject(ev, "until", json_ts_item(f->until_ms));
		if (temp_price_set(a, f, ev, why, sizeof(why)) < 0) {
			cJSON_AddStringToObject(ev, "error", why);
			log_warn("rule %s: %s", f->rule->name, why);
		} else {
			log_info("rule %s fired: %s at %lld until %lld", f->rule->name, act->sku,
				 (long long)act->price, (long long)f->until_ms);
		}
		break;
	}
	}
	if (shelfd_emit(a->d, "rules", "rule", ev, f->at_ms) < 0)
		log_warn("rule %s: firing not recorded", f->rule->name);
	cJSON_Delete(ev);
}

static void run_fires(struct act *a, const struct rules_fire *fires, size_t n, int64_t now)
{
	a->in_action = true;
	for (size_t i = 0; i < n; i++)
		run_fire(a, &fires[i], now);
	a->in_action = false;
}

/* Temporary prices whose end came: the price before, unless someone changed it since. */
static void temp_prices_due(struct act *a, int64_t now)
{
	for (size_t i = 0; i < a->n_temp;) {
		struct temp_price *t = &a->temp[i], done;
		struct price_row row;
		bool priced, ours, restored = false;
		char id[PRICE_ID_MAX + 1];
		cJSON *ev;
		int rc;

		if (t->until_ms > now || t->retry_ms > now) {
			i++;
			continue;
		}
		/* One transaction: the price back, the "rule" event, the entry gone. */
		if (shelfd_commit(a->d) < 0 || store_begin(a->d->store) < 0) {
			t->retry_ms = now + ACT_RECHECK_MS;
			i++;
			continue;
		}
		priced = price_of(a, t->sku, &row);
		ours = priced && !strcmp(row.batch_id, t->batch);
		if (ours) {
			snprintf(id, sizeof(id), "%.120s:end", t->batch);
			rc = price_write(a, &row, id, t->prev_price, t->prev_regular,
					 t->prev_promo_until > now ? t->prev_promo_until : 0);
			if (rc < 0) {
				store_rollback(a->d->store);
				log_err("rule %s: the price of %s could not be restored (%s); "
					"tried "
					"again in a minute",
					t->rule, t->sku, strerror(-rc));
				t->retry_ms = now + ACT_RECHECK_MS;
				i++;
				continue;
			}
			restored = rc == 1;
		}
		done = *t;
		a->temp[i] = a->temp[--a->n_temp];
		save_temp(a);
		ev = cJSON_CreateObject();
		if (ev) {
			cJSON_AddStringToObject(ev, "rule", done.rule);
			cJSON_AddStringToObject(ev, "action", "price_end");
			cJSON_AddStringToObject(ev, "sku", done.sku);
			if (restored || priced)
				cJSON_AddNumberToObject(
					ev, "price",
					(double)(restored ? done.prev_price : row.price));
			else
				cJSON_AddNullToObject(ev, "price");
			cJSON_AddBoolToObject(ev, "restored", restored);
			a->in_action = true;
			shelfd_emit(a->d, "rules", "rule", ev, done.until_ms);
			a->in_action = false;
			cJSON_Delete(ev);
		}
		log_info("rule %s: temporary price of %s ended%s", done.rule, done.sku,
			 restored ? ": previous price back"
				  : "; the price was changed since, left alone");
		if (shelfd_commit(a->d) == 0 && restored)
			price_changed(a, done.sku);
	}
}

/* Feed one recorded event to the rules. */
static void rules_feed(struct act *a, const char *type, const cJSON *fields, int64_t ts)
{
	const struct rules_fire *fires;
	size_t n;
	int64_t now = now_wall_ms();

	if (ts < 0 || ts > RULES_TS_MAX)
		return;
	if (rules_event(a->rules, type, ts, fields, now, &fires, &n) == 0 && n)
		run_fires(a, fires, n, now);
	arm(a);
}

/* ---- markdown ---- */

static struct md_sku *md_find(struct act *a, const char *sku)
{
	for (size_t i = 0; i < a->n_md; i++) {
		if (!strcmp(a->md[i].cfg.sku, sku))
			return &a->md[i];
	}
	return NULL;
}

static int md_save_state(struct act *a, const struct md_sku *m)
{
	struct md_state_blob b = {MD_STATE_MAGIC, sizeof(b.st), m->st};
	char key[sizeof(META_MD_STATE) + PRICE_SKU_MAX + 1];

	snprintf(key, sizeof(key), META_MD_STATE "%s", m->cfg.sku);
	return meta_put(a, key, &b, sizeof(b));
}

/*
 * Was a change due now held back by yesterday's (or an earlier day's) daily
 * limit? The planner, asked just before today began, then says "delayed".
 */
static bool md_was_blocked(const struct md_sku *m, int64_t current, int64_t now)
{
	int64_t today = local_day_start_ms(now);
	struct markdown_step prev;

	return m->st.day_ms && m->st.day_ms < today &&
	       markdown_next(&m->cfg, &m->st, current, today - 1, &prev) != MARKDOWN_NONE &&
	       prev.delayed;
}

/*
 * When @step became due by the plan: a markdown at its row's hours-left
 * mark, a return to regular at its lot's expiry (or now: sold out). It is
 * earlier than the time it is applied when shelfd was down or the daily
 * limit held it back.
 */
static int64_t md_due(const struct md_sku *m, const struct markdown_step *step, int64_t now)
{
	const struct markdown_lot *lot;

	if (step->lot < 0 || (size_t)step->lot >= m->cfg.n_lots)
		return now;
	lot = &m->cfg.lots[step->lot];
	if (step->kind == MARKDOWN_RESTORE)
		return lot->expires_at_ms < now ? lot->expires_at_ms : now;
	for (size_t r = 0; r < m->cfg.n_rows; r++) {
		int64_t at = lot->expires_at_ms - (int64_t)m->cfg.rows[r].hours_left * 3600000;

		/* Not before the command was issued (a first step due at once). */
		if (m->cfg.rows[r].percent == step->percent && at <= now)
			return at > m->cfg.issued_at_ms || m->cfg.issued_at_ms > now
				       ? at
				       : m->cfg.issued_at_ms;
	}
	return now;
}

/* md_run's *next for a markdown that is over: every lot ended, nothing to restore. */
#define MD_FINISHED INT64_MIN

static bool md_finished(const struct md_sku *m, int64_t now)
{
	for (size_t j = 0; j < m->cfg.n_lots; j++) {
		if (markdown_lot_live(&m->cfg, &m->st, j, now))
			return false;
	}
	return true;
}

/*
 * Forget the markdown @i (its command and state rows, in a transaction of
 * their own), so SKUs marked down once do not take a slot for ever.
 */
static void md_remove(struct act *a, size_t i)
{
	char key[sizeof(META_MD_STATE) + PRICE_SKU_MAX + 1];
	const char *sku = a->md[i].cfg.sku;
	int rc = shelfd_commit(a->d);

	snprintf(key, sizeof(key), META_MD_CFG "%s", sku);
	if (!rc)
		rc = meta_del(a, key);
	snprintf(key, sizeof(key), META_MD_STATE "%s", sku);
	if (!rc)
		rc = meta_del(a, key);
	if (!rc)
		rc = shelfd_commit(a->d);
	if (rc) {
		store_rollback(a->d->store);
		log_err("markdown %s: over, but its rows could not be removed; tried again later",
			sku);
		return;
	}
	log_info("markdown %s: every lot has ended; the markdown is over", sku);
	a->md[i] = a->md[--a->n_md];
}

/* Apply the due steps of @m; the time of its next step into *@next (INT64_MAX: none). */
static void md_run(struct act *a, struct md_sku *m, int64_t *next)
{
	*next = INT64_MAX;
	for (int guard = 0; guard < 4; guard++) {
		int64_t now = now_wall_ms();
		struct markdown_step step;
		struct price_row row;
		char id[PRICE_ID_MAX + 1];
		cJSON *ev;
		int rc;

		if (!price_of(a, m->cfg.sku, &row))
			return; /* no price (removed): nothing to mark down */
		if (markdown_next(&m->cfg, &m->st, row.price, now, &step) == MARKDOWN_NONE) {
			if (md_finished(m, now))
				*next = MD_FINISHED;
			return;
		}
		if (step.at_ms > now) {
			*next = step.at_ms;
			return;
		}
		snprintf(id, sizeof(id), "md:%s:%lld", m->cfg.sku, (long long)now);
		rc = shelfd_commit(a->d);
		if (!rc)
			rc = store_begin(a->d->store);
		if (!rc)
			rc = price_write(a, &row, id, step.price,
					 step.price < m->cfg.regular ? m->cfg.regular : -1, 0);
		if (rc <= 0) {
			store_rollback(a->d->store);
			log_err("markdown %s: step to %lld not applied (%s); retried in a minute",
				m->cfg.sku, (long long)step.price,
				rc ? strerror(-rc) : "a newer price batch holds the SKU");
			*next = now + ACT_RECHECK_MS;
			return;
		}
		step.delayed = step.delayed || md_was_blocked(m, row.price, now);
		markdown_applied(&m->st, &step, now);
		md_save_state(a, m);
		ev = cJSON_CreateObject();
		if (ev) {
			cJSON_AddStringToObject(ev, "sku", m->cfg.sku);
			cJSON_AddStringToObject(ev, "step", markdown_kind_name(step.kind));
			if (step.lot >= 0 && (size_t)step.lot < m->cfg.n_lots)
				cJSON_AddStringToObject(ev, "lot", m->cfg.lots[step.lot].id);
			else
				cJSON_AddNullToObject(ev, "lot");
			cJSON_AddNumberToObject(ev, "percent", step.percent);
			cJSON_AddNumberToObject(ev, "price", (double)step.price);
			cJSON_AddNumberToObject(ev, "previous", (double)row.price);
			cJSON_AddBoolToObject(ev, "floored", step.floored);
			cJSON_AddBoolToObject(ev, "delayed", step.delayed);
			cJSON_AddItemToObject(ev, "due", json_ts_item(md_due(m, &step, now)));
			cJSON_AddNumberToObject(ev, "changes_today", m->st.changes);
			cJSON_AddNumberToObject(ev, "max_changes", m->cfg.max_changes_per_day);
			cJSON_AddStringToObject(ev, "batch", id);
			shelfd_emit(a->d, "markdown", "markdown", ev, now);
			cJSON_Delete(ev);
		}
		if (shelfd_commit(a->d) < 0)
			return;
		log_info("markdown %s: %s %lld -> %lld (%u%%%s%s)", m->cfg.sku,
			 markdown_kind_name(step.kind), (long long)row.price, (long long)step.price,
			 step.percent, step.floored ? ", floored" : "",
			 step.delayed ? ", delayed by the daily limit" : "");
		price_changed(a, m->cfg.sku);
	}
}

/* Every SKU: apply what is due; the earliest next step into *@next. */
static void md_run_all(struct act *a, int64_t *next)
{
	*next = INT64_MAX;
	a->md_rerun = false;
	for (size_t i = 0; i < a->n_md;) {
		int64_t n;

		md_run(a, &a->md[i], &n);
		if (n == MD_FINISHED) {
			md_remove(a, i);
			continue;
		}
		if (n < *next)
			*next = n;
		i++;
	}
}

/* ---- the timer ---- */

static void run_due(struct act *a)
{
	const struct rules_fire *fires;
	int64_t now = now_wall_ms(), next;
	size_t n;

	if (a->rules && rules_next_deadline(a->rules) <= now &&
	    rules_advance(a->rules, now, &fires, &n) == 0 && n)
		run_fires(a, fires, n, now);
	run_changed(a);
	temp_prices_due(a, now);
	md_run_all(a, &next);
	a->md_next_at = next;
}

static void on_timer(struct loop *l, void *arg)
{
	struct act *a = arg;

	a->timer = 0;
	run_due(a);
	arm(a);
}

/* Arm the timer for the next rule deadline, temporary price end or markdown step. */
static void arm(struct act *a)
{
	int64_t now = now_wall_ms(), at = now + ACT_RECHECK_MS, delay;
	int64_t rd = a->rules ? rules_next_deadline(a->rules) : INT64_MAX; /* O(rules): once */
	bool any = a->n_temp || a->n_md;

	/* An open window is due maybe hours ahead: the timer looks every minute (clock steps). */
	if (rd != INT64_MAX) {
		any = true;
		if (rd < at)
			at = rd;
	}
	for (size_t i = 0; i < a->n_temp; i++) {
		int64_t t = a->temp[i].until_ms > a->temp[i].retry_ms ? a->temp[i].until_ms
								      : a->temp[i].retry_ms;

		if (t < at)
			at = t;
	}
	if (a->md_rerun || a->n_changed)
		at = now;
	if (a->md_next_at < at)
		at = a->md_next_at;
	if (!any && !a->md_rerun && !a->n_changed) {
		loop_timer_del(a->d->loop, a->timer);
		a->timer = 0;
		return;
	}
	/* An earlier timer stays: it re-arms when it fires. */
	if (a->timer && a->timer_at <= at)
		return;
	loop_timer_del(a->d->loop, a->timer);
	delay = at - now;
	if (delay < 0)
		delay = 0;
	a->timer_at = at;
	a->timer = loop_timer_add(a->d->loop, delay, on_timer, a);
}

/* ---- the inbox's content hooks ---- */

static int check_content(void *arg, enum inbox_content kind, const char *payload, size_t len,
			 bool fleet, bool *for_us, struct price_errors *errs, char *ref)
{
	struct shelfd *d = arg;
	struct act *a = d->act;
	int rc;

	a->pend_payload = payload;
	a->pend_len = len;
	switch (kind) {
	case INBOX_RECS:
		recs_set_free(&a->pend_recs);
		rc = recs_set_parse(payload, len, &a->pend_recs, errs);
		str_copy(ref, PRICE_ID_MAX + 1, a->pend_recs.id);
		if (rc == 0 && fleet && a->pend_recs.has_stores) {
			*for_us = false;
			for (size_t i = 0; i < a->pend_recs.n_stores; i++)
				*for_us = *for_us ||
					  !strcmp(a->pend_recs.stores[i], d->conf->store_id);
		}
		return rc == -EMSGSIZE ? -EINVAL : rc;
	case INBOX_RULES:
		rules_set_free(a->pend_rules);
		a->pend_rules = NULL;
		rc = rules_parse(payload, len, &a->pend_rules, errs, ref);
		if (rc == 0)
			str_copy(ref, PRICE_ID_MAX + 1, a->pend_rules->id);
		return rc == -EMSGSIZE ? -EINVAL : rc;
	case INBOX_MARKDOWN:
		rc = markdown_cmd_parse(payload, len, &a->pend_md.cfg, errs);
		str_copy(ref, PRICE_ID_MAX + 1, a->pend_md.cfg.id);
		return rc == -EMSGSIZE ? -EINVAL : rc;
	}
	return -EINVAL;
}

static void version_error(struct price_errors *errs, int64_t v, int64_t cur, const char *cur_id)
{
	price_errors_add(
		errs, "version",
		"version %lld is not newer than the current version %lld (set %s): ignored",
		(long long)v, (long long)cur, cur_id);
}

static int stage_markdown(struct act *a, struct dynbuf *ack, struct price_errors *errs)
{
	struct md_sku *m = &a->pend_md, *old = md_find(a, m->cfg.sku);
	char key[sizeof(META_MD_CFG) + PRICE_SKU_MAX + 1];
	struct markdown_step step;
	struct price_row row;
	char ts[TS_BUFSZ];
	int rc;

	if (!price_of(a, m->cfg.sku, &row)) {
		price_errors_add(errs, "sku", "no price for this SKU: price it first");
		return -ESTALE;
	}
	if (old && m->cfg.issued_at_ms < old->cfg.issued_at_ms) {
		ts_format(old->cfg.issued_at_ms, ts);
		price_errors_add(errs, "issued_at",
				 "older than the current markdown of this SKU (%s, issued %s): "
				 "ignored",
				 old->cfg.id, ts);
		return -ESTALE;
	}
	if (!old && a->n_md == ACT_MD_MAX) {
		price_errors_add(errs, "sku", "too many SKUs with a markdown: at most %d",
				 ACT_MD_MAX);
		return -ESTALE;
	}
	if (old)
		markdown_state_carry(&old->cfg, &old->st, &m->cfg, &m->st);
	else
		markdown_state_init(&m->st);
	snprintf(key, sizeof(key), META_MD_CFG "%s", m->cfg.sku);
	rc = meta_put(a, key, a->pend_payload, a->pend_len);
	if (!rc)
		rc = md_save_state(a, m);
	if (rc)
		return rc;
	rc = dynbuf_adds(ack, ",\"sku\":");
	if (!rc)
		rc = dynbuf_add_json_str(ack, m->cfg.sku);
	if (!rc &&
	    markdown_next(&m->cfg, &m->st, row.price, now_wall_ms(), &step) != MARKDOWN_NONE) {
		ts_format(step.at_ms, ts);
		rc = dynbuf_addf(ack,
				 ",\"next\":{\"kind\":\"%s\",\"at\":\"%s\",\"price\":%lld,"
				 "\"percent\":%u}",
				 markdown_kind_name(step.kind), ts, (long long)step.price,
				 step.percent);
	} else if (!rc) {
		rc = dynbuf_adds(ack, ",\"next\":null");
	}
	return rc;
}

static int stage_content(void *arg, enum inbox_content kind, struct dynbuf *ack,
			 struct price_errors *errs)
{
	struct shelfd *d = arg;
	struct act *a = d->act;
	int rc;

	switch (kind) {
	case INBOX_RECS:
		if (a->has_recs && a->pend_recs.version <= a->recs.version) {
			version_error(errs, a->pend_recs.version, a->recs.version, a->recs.id);
			return -ESTALE;
		}
		rc = meta_put(a, META_RECS, a->pend_payload, a->pend_len);
		if (!rc)
			rc = dynbuf_addf(ack,
					 ",\"version\":%lld,\"rules\":%zu,\"usable\":%zu,"
					 "\"zones\":%zu",
					 (long long)a->pend_recs.version, a->pend_recs.n_rules,
					 a->pend_recs.n_usable, a->pend_recs.n_zones);
		return rc;
	case INBOX_RULES:
		if (a->rules_version && a->pend_rules->version <= a->rules_version) {
			version_error(errs, a->pend_rules->version, a->rules_version, a->rules_id);
			return -ESTALE;
		}
		rc = meta_put(a, META_RULES, a->pend_payload, a->pend_len);
		if (!rc)
			rc = dynbuf_addf(ack, ",\"version\":%lld,\"rules\":%zu",
					 (long long)a->pend_rules->version, a->pend_rules->n_rules);
		return rc;
	case INBOX_MARKDOWN:
		return stage_markdown(a, ack, errs);
	}
	return -EINVAL;
}

static void install_rules(struct act *a, struct rule_set *rs)
{
	char id[PRICE_ID_MAX + 1];
	int64_t version = rs->version;

	str_copy(id, sizeof(id), rs->id);
	if (rules_engine_set(a->rules, rs) < 0) {
		log_err("rules: out of memory; the previous rules stay");
		return;
	}
	str_copy(a->rules_id, sizeof(a->rules_id), id);
	a->rules_version = version;
	note_types(a);
}

static void done_content(void *arg, enum inbox_content kind, bool ok)
{
	struct shelfd *d = arg;
	struct act *a = d->act;
	struct md_sku *m;

	a->pend_payload = NULL;
	a->pend_len = 0;
	switch (kind) {
	case INBOX_RECS:
		if (ok) {
			recs_set_free(&a->recs);
			a->recs = a->pend_recs;
			a->has_recs = true;
			memset(&a->pend_recs, 0, sizeof(a->pend_recs));
			log_info("recs: set %s version %lld live: %zu rules (%zu usable), %zu "
				 "zones",
				 a->recs.id, (long long)a->recs.version, a->recs.n_rules,
				 a->recs.n_usable, a->recs.n_zones);
		}
		recs_set_free(&a->pend_recs);
		break;
	case INBOX_RULES:
		if (ok) {
			install_rules(a, a->pend_rules);
			drop_rule_rows(a);
			shelfd_commit(a->d); /* with every rule's row written afresh */
			log_info("rules: set %s version %lld live: %zu rules", a->rules_id,
				 (long long)a->rules_version, rules_count(a->rules));
		} else {
			rules_set_free(a->pend_rules);
		}
		a->pend_rules = NULL;
		break;
	case INBOX_MARKDOWN:
		if (!ok)
			break;
		m = md_find(a, a->pend_md.cfg.sku);
		if (!m) {
			struct md_sku *n = realloc(a->md, (a->n_md + 1) * sizeof(*n));

			if (!n) {
				log_err("markdown %s: out of memory; applied at the next start",
					a->pend_md.cfg.sku);
				break;
			}
			a->md = n;
			m = &a->md[a->n_md++];
		}
		*m = a->pend_md;
		a->md_rerun = true;
		log_info("markdown %s: %s live (%zu lots)", m->cfg.sku, m->cfg.id, m->cfg.n_lots);
		break;
	}
	arm(a);
}

/* ---- restart ---- */

static void load_markdown(struct act *a)
{
	sqlite3 *db = store_db(a->d->store);
	sqlite3_stmt *st = NULL;
	struct price_errors *errs = malloc(sizeof(*errs));
	struct dynbuf sb;

	dynbuf_init(&sb, 4096);
	if (!errs || sqlite3_prepare_v2(db, "SELECT key, value FROM meta WHERE key LIKE 'md.cfg.%'",
					-1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW && a->n_md < ACT_MD_MAX) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		const void *p = sqlite3_column_blob(st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		struct md_sku *m, *grown = realloc(a->md, (a->n_md + 1) * sizeof(*grown));
		char skey[sizeof(META_MD_STATE) + PRICE_SKU_MAX + 1];
		const struct md_state_blob *b;

		if (!grown)
			break;
		a->md = grown;
		m = &a->md[a->n_md];
		if (markdown_cmd_parse(p, n, &m->cfg, errs) < 0) {
			log_err("markdown: the stored command %s no longer parses; dropped", key);
			continue;
		}
		markdown_state_init(&m->st);
		snprintf(skey, sizeof(skey), META_MD_STATE "%s", m->cfg.sku);
		if (meta_get(a, skey, &sb) == 1 && sb.len == sizeof(*b) &&
		    (b = (const void *)sb.buf) && b->magic == MD_STATE_MAGIC &&
		    b->size == sizeof(b->st))
			memcpy(&m->st, &b->st, sizeof(m->st));
		else
			log_warn("markdown %s: no usable saved state; starting it afresh",
				 m->cfg.sku);
		a->n_md++;
	}
out:
	sqlite3_finalize(st);
	dynbuf_free(&sb);
	free(errs);
}

static void load_all(struct act *a)
{
	struct price_errors *errs = malloc(sizeof(*errs));
	struct dynbuf b;
	char ref[PRICE_ID_MAX + 1];

	dynbuf_init(&b, RECS_SET_MAX);
	if (!errs)
		goto out;
	if (meta_get(a, META_RECS, &b) == 1) {
		if (recs_set_parse(b.buf, b.len, &a->recs, errs) == 0) {
			a->has_recs = true;
			log_info("recs: set %s version %lld restored", a->recs.id,
				 (long long)a->recs.version);
		} else {
			recs_set_free(&a->recs);
			log_err("recs: the stored set no longer parses; waiting for HQ's next one");
		}
	}
	if (meta_get(a, META_RULES, &b) == 1) {
		struct rule_set *rs = NULL;

		if (rules_parse(b.buf, b.len, &rs, errs, ref) == 0) {
			install_rules(a, rs);
			if (load_rule_rows(a, &b) < 0 ||
			    rules_state_load(a->rules, b.buf, b.len) < 0)
				log_err("rules: the saved windows are not readable; starting "
					"without them");
			log_info("rules: set %s version %lld restored (%zu rules)", a->rules_id,
				 (long long)a->rules_version, rules_count(a->rules));
		} else {
			log_err("rules: the stored set no longer parses; waiting for HQ's next "
				"one");
		}
	}
	if (meta_get(a, META_TEMP, &b) == 1)
		load_temp(a, b.buf, b.len);
	load_markdown(a);
out:
	dynbuf_free(&b);
	free(errs);
}

/* ---- the daemon's side ---- */

int shelfd_act_init(struct shelfd *d)
{
	const struct config *conf = d->conf;
	struct screen_cfg cfg[SCREENS_MAX];
	struct act *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	d->act = a;
	a->d = d;
	a->md_next_at = INT64_MAX;
	a->rules = rules_engine_new(-1);
	if (!a->rules)
		return -ENOMEM;
	for (size_t i = 0; i < conf->n_devices; i++) {
		const struct device_conf *c = &conf->devices[i];

		if (c->kind != DEV_SCREEN)
			continue;
		if (a->n_scr == SCREENS_MAX) {
			log_err("screens: more than %d; %s and later ones are not driven",
				SCREENS_MAX, c->name);
			break;
		}
		cfg[a->n_scr].name = c->name;
		cfg[a->n_scr].url = c->url;
		cfg[a->n_scr].zone = screen_zone(c);
		a->scr[a->n_scr++].conf = c;
	}
	if (a->n_scr) {
		struct screens_opts o = {
			.timeout_ms = conf->screens.timeout_ms,
			.backoff_min_ms = conf->screens.backoff_min_ms,
			.backoff_max_ms = conf->screens.backoff_max_ms,
		};
		struct screens_cbs cbs = {on_screen_state, on_screen_result};

		rc = screens_new(d->loop, cfg, a->n_scr, &o, &cbs, a, &a->screens);
		if (rc < 0) {
			log_err("screens: %s", strerror(-rc));
			return rc;
		}
	}
	d->inbox_host.content_check = check_content;
	d->inbox_host.content_stage = stage_content;
	d->inbox_host.content_done = done_content;
	load_all(a);
	/* What fell due while shelfd was down runs at the first loop turn. */
	a->md_rerun = true;
	arm(a);
	return 0;
}

void shelfd_act_fini(struct shelfd *d)
{
	struct act *a = d->act;

	if (!a)
		return;
	save_rules(a);
	loop_timer_del(d->loop, a->timer);
	screens_free(a->screens);
	for (size_t i = 0; i < a->n_scr; i++)
		cJSON_Delete(a->scr[i].shown);
	recs_set_free(&a->recs);
	recs_set_free(&a->pend_recs);
	rules_set_free(a->pend_rules);
	rules_engine_free(a->rules);
	free(a->md);
	free(a);
	d->act = NULL;
}

/*
 * Write the rules' state into the open transaction, so it is committed with
 * the events that changed it: one meta row per rule ("rules.st.NAME"), and
 * only the rules that changed are written (a busy store changes a few rules
 * per sale, not the whole state).
 */
static void save_rules(struct act *a)
{
	char key[sizeof(META_RULES_ROW) + RULES_NAME_MAX + 1];
	struct dynbuf row;
	const struct rule_set *rs = rules_engine_rules(a->rules);
	int rc = 0;

	if (!a->rules || !rules_state_dirty(a->rules))
		return;
	dynbuf_init(&row, RULES_STATE_MAX);
	for (size_t i = 0; rc == 0 && rs && i < rs->n_rules; i++) {
		if (!rules_rule_dirty(a->rules, i))
			continue;
		dynbuf_reset(&row);
		snprintf(key, sizeof(key), META_RULES_ROW "%s", rs->rules[i].name);
		rc = rules_state_save_rule(a->rules, i, &row);
		if (rc == 0)
			rc = row.len ? meta_put(a, key, row.buf, row.len) : meta_del(a, key);
	}
	dynbuf_free(&row);
	if (rc < 0)
		log_err("rules: the windows could not be saved (%s)", strerror(-rc));
	else
		rules_state_mark_saved(a->rules);
}

/* The saved rows of every rule, joined into one state for rules_state_load(). */
static int load_rule_rows(struct act *a, struct dynbuf *out)
{
	sqlite3 *db = store_db(a->d->store);
	sqlite3_stmt *st = NULL;
	bool first = true;
	int rc;

	dynbuf_reset(out);
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key GLOB 'rules.st.*'", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	rc = dynbuf_adds(out, "{\"v\":1,\"rules\":[");
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		if (!p || n <= 0)
			continue;
		if (!first)
			rc = dynbuf_add(out, ",", 1);
		if (rc == 0)
			rc = dynbuf_add(out, p, (size_t)n);
		first = false;
	}
	if (rc == 0)
		rc = dynbuf_adds(out, "]}");
	sqlite3_finalize(st);
	return rc;
}

/* A new rules.set is live: the rows of the old one go; every rule is written afresh. */
static void drop_rule_rows(struct act *a)
{
	sqlite3 *db = store_db(a->d->store);

	if (store_begin(a->d->store) < 0 ||
	    sqlite3_exec(db, "DELETE FROM meta WHERE key GLOB 'rules.st.*'", NULL, NULL, NULL) !=
		    SQLITE_OK)
		log_err("rules: the old rules' rows could not be removed");
}

void shelfd_act_flush(struct shelfd *d)
{
	if (d->act)
		save_rules(d->act);
}

void shelfd_act_event(struct shelfd *d, const char *source, const char *type, const cJSON *body,
		      const char *members, size_t len, int64_t ts_ms)
{
	struct act *a = d->act;
	int64_t in;

	if (!a || a->in_action)
		return;
	/* Interval counts only: the closing-time record holds the day's totals. */
	if (body && !strcmp(type, "footfall") && a->n_scr && json_get_int(body, "in", &in) == 0 &&
	    !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "period")) ?: "",
		    "interval")) {
		const char *zone =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "zone"));
		size_t i;

		for (i = 0; i < a->n_ff && strcmp(a->ff_src[i], source); i++)
			;
		if (i == a->n_ff && a->n_ff < CONF_MAX_DEVICES)
			str_copy(a->ff_src[a->n_ff++], sizeof(a->ff_src[0]), source);
		if (i < a->n_ff) {
			if (zone && in >= d->conf->screens.zone_rise_min &&
			    in >= 2 * a->ff_prev[i] && push_zone(a, zone, "zone", NULL, NULL, 0))
				log_info("zone %s: footfall %lld (was %lld): zone content pushed",
					 zone, (long long)in, (long long)a->ff_prev[i]);
			a->ff_prev[i] = in;
		}
	}
	if (!rules_count(a->rules) || !wants_type(a, type))
		return;
	if (body) {
		rules_feed(a, type, body, ts_ms);
	} else {
		/* A record written as text (sales): parsed only when a rule looks at its type. */
		struct dynbuf t;
		cJSON *o;

		dynbuf_init(&t, len + 3);
		if (dynbuf_add(&t, "{", 1) || dynbuf_add(&t, members, len) ||
		    dynbuf_add(&t, "}", 1)) {
			dynbuf_free(&t);
			return;
		}
		o = cJSON_ParseWithLength(t.buf, t.len);
		dynbuf_free(&t);
		if (o)
			rules_feed(a, type, o, ts_ms);
		cJSON_Delete(o);
	}
}

void shelfd_act_sale(struct shelfd *d, struct device *dev, const struct pos_summary *sum)
{
	struct act *a = d->act;
	int64_t t = sum->ts_ms ? sum->ts_ms : now_wall_ms();
	bool md = false;

	if (!a || strcmp(sum->kind, "sale"))
		return;
	recommend(a, dev->conf->name, sum);
	for (size_t i = 0; a->n_md && i < sum->n_items; i++) {
		struct md_sku *m = md_find(a, sum->items[i].sku);

		if (m && sum->items[i].qty > 0 &&
		    markdown_sale(&m->cfg, &m->st, sum->items[i].qty, t) >= 0) {
			md_save_state(a, m);
			md = true;
		}
	}
	if (md) {
		a->md_rerun = true;
		arm(a);
	}
}

void shelfd_act_price_changed(struct shelfd *d, const char *sku)
{
	struct act *a = d->act;

	if (!a)
		return;
	screens_reprice(a, sku);
	if (md_find(a, sku)) {
		a->md_rerun = true;
		arm(a);
	}
}

/* ---- shelfctl ---- */

const char *shelfd_act_screen_state(struct shelfd *d, const char *name)
{
	struct screen_health h;
	int i = d->act && d->act->screens ? screens_find(d->act->screens, name) : -ENOENT;

	if (i < 0 || screens_health(d->act->screens, (size_t)i, &h) < 0)
		return "unknown";
	return screens_state_name(h.state);
}

static cJSON *ts_or_null(int64_t ms)
{
	return ms > 0 && ms != INT64_MAX ? json_ts_item(ms) : cJSON_CreateNull();
}

int shelfd_cmd_screens(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	struct act *a = d->act;
	cJSON *arr = cJSON_AddArrayToObject(r, "screens");

	for (size_t i = 0; a && i < a->n_scr; i++) {
		const struct device_conf *c = a->scr[i].conf;
		struct screen_health h;
		cJSON *o = cJSON_CreateObject(), *t;

		if (!o || screens_health(a->screens, i, &h) < 0) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", c->name);
		cJSON_AddStringToObject(o, "zone", screen_zone(c));
		cJSON_AddStringToObject(o, "url", c->url);
		t = cJSON_AddArrayToObject(o, "tills");
		for (size_t k = 0; k < c->n_tills; k++)
			cJSON_AddItemToArray(t, cJSON_CreateString(c->tills[k]));
		cJSON_AddStringToObject(o, "state", screens_state_name(h.state));
		cJSON_AddItemToObject(o, "last_success", ts_or_null(h.last_success_ms));
		cJSON_AddItemToObject(o, "last_error_at", ts_or_null(h.last_error_ms));
		cJSON_AddStringToObject(o, "last_error", h.last_error);
		if (h.last_http_code)
			cJSON_AddNumberToObject(o, "http", h.last_http_code);
		else
			cJSON_AddNullToObject(o, "http");
		if (h.last_latency_ms >= 0)
			cJSON_AddNumberToObject(o, "latency_ms", (double)h.last_latency_ms);
		else
			cJSON_AddNullToObject(o, "latency_ms");
		cJSON_AddNumberToObject(o, "attempts", (double)h.attempts);
		cJSON_AddNumberToObject(o, "failures", (double)h.consecutive_failures);
		cJSON_AddNumberToObject(o, "version_shown", (double)h.version_shown);
		cJSON_AddNumberToObject(o, "version_wanted", (double)h.version_wanted);
		cJSON_AddBoolToObject(o, "in_flight", h.in_flight);
		cJSON_AddBoolToObject(o, "pending", h.pending);
		cJSON_AddNumberToObject(o, "retry_in_ms", (double)h.retry_in_ms);
		cJSON_AddNumberToObject(o, "pushes", (double)a->scr[i].pushes);
	}
	return 0;
}

int shelfd_cmd_recs(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	struct act *a = d->act;
	cJSON *z;

	if (a && a->has_recs) {
		cJSON_AddStringToObject(r, "id", a->recs.id);
		cJSON_AddNumberToObject(r, "version", (double)a->recs.version);
		cJSON_AddItemToObject(r, "issued_at", json_ts_item(a->recs.issued_at_ms));
	} else {
		cJSON_AddNullToObject(r, "id");
		cJSON_AddNullToObject(r, "version");
		cJSON_AddNullToObject(r, "issued_at");
	}
	cJSON_AddNumberToObject(r, "rules", a && a->has_recs ? (double)a->recs.n_rules : 0);
	cJSON_AddNumberToObject(r, "usable", a && a->has_recs ? (double)a->recs.n_usable : 0);
	z = cJSON_AddArrayToObject(r, "zones");
	for (size_t i = 0; a && a->has_recs && i < a->recs.n_zones; i++)
		cJSON_AddItemToArray(z, cJSON_CreateString(a->recs.zones[i].name));
	cJSON_AddNumberToObject(r, "pushes", a ? (double)a->recs_pushes : 0);
	if (a && a->recs_pushes) {
		cJSON *l = cJSON_AddObjectToObject(r, "last");

		cJSON_AddStringToObject(l, "till", a->last_till);
		cJSON_AddStringToObject(l, "receipt", a->last_receipt);
		cJSON_AddItemToObject(l, "at", json_ts_item(a->last_push_ms));
	} else {
		cJSON_AddNullToObject(r, "last");
	}
	return 0;
}

static void trigger_text(const struct rules_trigger *t, char *out, size_t sz)
{
	size_t len;

	snprintf(out, sz, "%s", t->event);
	for (size_t i = 0; i < t->n_conds; i++) {
		const struct rules_cond *c = &t->conds[i];

		len = strlen(out);
		if (c->op == RULES_OP_IN)
			snprintf(out + len, sz - len, " %s in[%zu]", c->field, c->n_set);
		else if (c->v.s)
			snprintf(out + len, sz - len, " %s %s \"%s\"", c->field,
				 rules_op_name(c->op), c->v.s);
		else
			snprintf(out + len, sz - len, " %s %s %lld", c->field, rules_op_name(c->op),
				 (long long)c->v.i);
	}
}

int shelfd_cmd_rules(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	struct act *a = d->act;
	cJSON *arr, *tp;
	char text[512];

	if (a && a->rules_version) {
		cJSON_AddStringToObject(r, "id", a->rules_id);
		cJSON_AddNumberToObject(r, "version", (double)a->rules_version);
	} else {
		cJSON_AddNullToObject(r, "id");
		cJSON_AddNullToObject(r, "version");
	}
	arr = cJSON_AddArrayToObject(r, "rules");
	for (size_t i = 0; a && i < rules_count(a->rules); i++) {
		struct rules_info in;
		cJSON *o;

		if (!rules_info(a->rules, i, &in))
			break;
		o = cJSON_CreateObject();
		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", in.rule->name);
		trigger_text(&in.rule->when, text, sizeof(text));
		cJSON_AddStringToObject(o, "when", text);
		if (in.rule->has_unless) {
			trigger_text(&in.rule->unless, text, sizeof(text));
			cJSON_AddStringToObject(o, "unless", text);
			cJSON_AddNumberToObject(o, "within_ms", (double)in.rule->within_ms);
		} else {
			cJSON_AddNullToObject(o, "unless");
			cJSON_AddNullToObject(o, "within_ms");
		}
		cJSON_AddStringToObject(o, "action", rules_action_name(in.rule->then.kind));
		cJSON_AddNumberToObject(o, "fired", (double)in.fired);
		cJSON_AddItemToObject(o, "last_fired", ts_or_null(in.has_fired ? in.last_ms : 0));
		cJSON_AddItemToObject(o, "last_fired_wall",
				      ts_or_null(in.has_fired ? in.last_wall_ms : 0));
		cJSON_AddNumberToObject(o, "windows", (double)in.windows);
		cJSON_AddItemToObject(o, "next_due", ts_or_null(in.next_due_ms));
		cJSON_AddNumberToObject(o, "cancelled", (double)in.cancelled);
		cJSON_AddNumberToObject(o, "suppressed", (double)in.suppressed);
		cJSON_AddNumberToObject(o, "late", (double)in.late);
		cJSON_AddNumberToObject(o, "dropped", (double)in.dropped);
	}
	tp = cJSON_AddArrayToObject(r, "temp_prices");
	for (size_t i = 0; a && i < a->n_temp; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(tp, o);
		cJSON_AddStringToObject(o, "sku", a->temp[i].sku);
		cJSON_AddNumberToObject(o, "price", (double)a->temp[i].price);
		cJSON_AddNumberToObject(o, "previous", (double)a->temp[i].prev_price);
		cJSON_AddItemToObject(o, "until", json_ts_item(a->temp[i].until_ms));
		cJSON_AddStringToObject(o, "rule", a->temp[i].rule);
	}
	return 0;
}

int shelfd_cmd_markdown(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	struct act *a = d->act;
	cJSON *arr = cJSON_AddArrayToObject(r, "skus");
	int64_t now = now_wall_ms();

	for (size_t i = 0; a && i < a->n_md; i++) {
		const struct md_sku *m = &a->md[i];
		struct markdown_step step;
		struct price_row row;
		bool priced = price_of(a, m->cfg.sku, &row);
		cJSON *o = cJSON_CreateObject(), *lots;

		if (!o)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "sku", m->cfg.sku);
		cJSON_AddStringToObject(o, "id", m->cfg.id);
		cJSON_AddNumberToObject(o, "regular", (double)m->cfg.regular);
		cJSON_AddNumberToObject(o, "floor", (double)m->cfg.floor);
		cJSON_AddNumberToObject(o, "max_changes_per_day", m->cfg.max_changes_per_day);
		if (priced)
			cJSON_AddNumberToObject(o, "price", (double)row.price);
		else
			cJSON_AddNullToObject(o, "price");
		cJSON_AddNumberToObject(o, "changes_today",
					m->st.day_ms == local_day_start_ms(now) ? m->st.changes
										: 0);
		if (m->st.applied_price >= 0)
			cJSON_AddNumberToObject(o, "applied_price", (double)m->st.applied_price);
		else
			cJSON_AddNullToObject(o, "applied_price");
		lots = cJSON_AddArrayToObject(o, "lots");
		for (size_t j = 0; j < m->cfg.n_lots; j++) {
			cJSON *l = cJSON_CreateObject();

			if (!l)
				return -ENOMEM;
			cJSON_AddItemToArray(lots, l);
			cJSON_AddStringToObject(l, "lot", m->cfg.lots[j].id);
			cJSON_AddItemToObject(l, "expires_at",
					      json_ts_item(m->cfg.lots[j].expires_at_ms));
			cJSON_AddNumberToObject(l, "quantity", (double)m->cfg.lots[j].quantity);
			cJSON_AddNumberToObject(l, "sold", (double)m->st.sold[j]);
			cJSON_AddBoolToObject(l, "live",
					      markdown_lot_live(&m->cfg, &m->st, j, now));
		}
		if (priced &&
		    markdown_next(&m->cfg, &m->st, row.price, now, &step) != MARKDOWN_NONE) {
			cJSON *n = cJSON_AddObjectToObject(o, "next");

			cJSON_AddStringToObject(n, "kind", markdown_kind_name(step.kind));
			cJSON_AddItemToObject(n, "at", json_ts_item(step.at_ms));
			cJSON_AddNumberToObject(n, "price", (double)step.price);
			cJSON_AddNumberToObject(n, "percent", step.percent);
			if (step.lot >= 0 && (size_t)step.lot < m->cfg.n_lots)
				cJSON_AddStringToObject(n, "lot", m->cfg.lots[step.lot].id);
			else
				cJSON_AddNullToObject(n, "lot");
			cJSON_AddBoolToObject(n, "delayed", step.delayed);
		} else {
			cJSON_AddNullToObject(o, "next");
		}
	}
	return 0;
}
