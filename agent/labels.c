/*
 * labels: reconciler (desired content -> jobs), job outcomes, summaries and
 * price integrity. See labels.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "labels.h"
#include "log.h"
#include "util.h"

#define MISMATCH_MAX 1024 /* unresolved integrity findings kept for `shelfctl integrity` */

struct mismatch {
	char sku[PRICE_SKU_MAX + 1];
	char source[64];
	char receipt[65];
	int64_t till_price;
	int64_t label_price;
	int64_t ts_ms;
	int n_labels;
};

struct labels {
	struct loop *loop;
	struct store *store;
	struct pricebook *pb;
	struct labelbook *lb;
	const struct labels_host *host;
	int64_t summary_ms;
	int summary_timer;
	uint8_t img_buf[ESL_IMG_MAX_BYTES];
	struct mismatch *mm; /* MISMATCH_MAX slots */
	size_t n_mm;
	uint64_t integrity_events;
};

void labels_hash_hex(uint64_t h, char out[LABELJOB_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = LABELJOB_HASH_LEN - 1; i >= 0; i--) {
		out[i] = hex[h & 0xf];
		h >>= 4;
	}
	out[LABELJOB_HASH_LEN] = '\0';
}

int labels_content(struct labels *l, const struct label_row *r, struct label_content *c,
		   struct price_row *row)
{
	int rc;

	if (!r->sku[0])
		return -ENOENT;
	memset(c, 0, sizeof(*c));
	c->sku = r->sku;
	rc = pricebook_get(l->pb, r->sku, row);
	if (rc == -ENOENT || (rc == 0 && row->removed)) {
		/* No price (never set, or removed by HQ): the shelf must not show one. */
		c->not_for_sale = true;
		c->currency = rc == 0 && row->currency[0] ? row->currency : "EUR";
		c->name = rc == 0 && row->name[0] ? row->name : NULL;
		c->regular = -1;
		return 0;
	}
	if (rc < 0)
		return rc;
	c->name = row->name[0] ? row->name : NULL;
	c->price = row->price;
	c->regular = row->regular > row->price ? row->regular : -1;
	c->currency = row->currency;
	c->unit = row->unit[0] ? row->unit : NULL;
	c->promo_until_ms = row->promo_until_ms;
	return 0;
}

int labels_render(struct labels *l, const struct label_row *r, struct esl_image *img, uint8_t *buf,
		  char hash[LABELJOB_HASH_LEN + 1], int64_t *price, bool *nfs)
{
	struct label_content c;
	struct price_row row;
	int rc;

	if (!r->sku[0])
		return -ENOENT;
	if (!r->type)
		return -EAGAIN;
	rc = labels_content(l, r, &c, &row);
	if (rc < 0)
		return rc;
	rc = render_label((uint8_t)r->type, &c, img, buf, ESL_IMG_MAX_BYTES);
	if (rc < 0)
		return rc;
	labels_hash_hex(esl_img_hash(img), hash);
	*price = c.not_for_sale ? 0 : c.price;
	*nfs = c.not_for_sale;
	return 0;
}

static int emit_label_event(struct labels *l, const struct label_row *r, const char *result)
{
	cJSON *b = cJSON_CreateObject();
	int rc;

	if (!b)
		return -ENOMEM;
	cJSON_AddStringToObject(b, "label", r->id);
	cJSON_AddStringToObject(b, "sku", r->sku);
	cJSON_AddStringToObject(b, "result", result);
	cJSON_AddStringToObject(b, "hash", r->job.hash);
	if (r->job_nfs)
		cJSON_AddBoolToObject(b, "not_for_sale", true);
	else
		json_add_int(b, "price", r->job_price);
	if (r->job.reason[0] && strcmp(result, "delivered"))
		cJSON_AddStringToObject(b, "reason", r->job.reason);
	json_add_int(b, "attempts", r->job.attempts);
	rc = l->host->emit(l->host->arg, "label", b);
	cJSON_Delete(b);
	return rc;
}

/* Apply one job event to @r, store it and report what it says. */
static int step(struct labels *l, struct label_row *r, const struct labeljob_input *in)
{
	unsigned res = labeljob_step(&r->job, in);
	int rc = 0;

	if (!(res & LABELJOB_R_CHANGED))
		return 0;
	rc = labelbook_save_job(l->lb, r);
	if (!rc && (res & LABELJOB_R_DELIVERED)) {
		rc = labelbook_set_shown(l->lb, r->id, r->job.hash, r->job_price, r->job_nfs);
		if (!rc)
			rc = emit_label_event(l, r, "delivered");
	}
	if (!rc && (res & LABELJOB_R_FAILED)) {
		log_warn("label %s (%s): giving up after %d attempt(s): %s", r->id, r->sku,
			 r->job.attempts, r->job.reason);
		rc = emit_label_event(l, r, "failed");
	}
	if (!rc && r->job.state == LABELJOB_QUEUED && l->host->kick)
		l->host->kick(l->host->arg);
	return rc;
}

/* Compute @r's desired content and feed it to its job. */
static int reconcile(struct labels *l, struct label_row *r)
{
	struct esl_image img;
	struct labeljob_input in = {.ev = LABELJOB_EV_CONTENT, .now_ms = now_wall_ms()};
	char hash[LABELJOB_HASH_LEN + 1];
	int64_t price;
	bool nfs;
	int rc;

	rc = labels_render(l, r, &img, l->img_buf, hash, &price, &nfs);
	if (rc == -ENOENT || rc == -EAGAIN)
		return 0; /* unbound, or not seen yet: its check-in will bring it here */
	if (rc < 0)
		return rc;
	in.hash = hash;
	in.shown_hash = r->shown_hash[0] ? r->shown_hash : NULL;
	in.checkin_ms = r->checkin_ms;
	if (strcmp(r->job.hash, hash)) {
		r->job_price = price;
		r->job_nfs = nfs;
	}
	return step(l, r, &in);
}

static void reconcile_cb(void *arg, const struct label_row *r)
{
	struct labels *l = arg;
	struct label_row copy = *r;

	if (reconcile(l, &copy) < 0)
		log_err("label %s: could not queue its new content", r->id);
}

static int begin(struct labels *l)
{
	return store_begin(l->store);
}

static int commit(struct labels *l)
{
	return l->host->commit(l->host->arg);
}

void labels_sku_changed(struct labels *l, const char *sku)
{
	if (!labelbook_sku_has_labels(l->lb, sku))
		return;
	if (begin(l) == 0)
		labelbook_foreach_sku(l->lb, sku, reconcile_cb, l);
}

static void reconcile_all_cb(void *arg, const struct label_row *r)
{
	struct labels *l = arg;

	if (r->sku[0] && r->type)
		reconcile_cb(l, r);
}

int labels_reconcile_all(struct labels *l)
{
	int rc = begin(l);

	if (!rc)
		rc = labelbook_foreach(l->lb, LABELJOB_NONE, reconcile_all_cb, l);
	if (rc >= 0)
		rc = commit(l);
	return rc;
}

int labels_bind_in_txn(struct labels *l, const char *id, const char *sku)
{
	char canon[LABEL_ID_LEN + 1];
	struct label_row r;
	int rc;

	if (!label_id_parse(id, canon))
		return -EINVAL;
	rc = labelbook_bind(l->lb, canon, sku, now_wall_ms());
	if (!rc)
		rc = labelbook_get(l->lb, canon, &r);
	if (!rc)
		rc = reconcile(l, &r);
	return rc;
}

int labels_unbind_in_txn(struct labels *l, const char *id)
{
	char canon[LABEL_ID_LEN + 1];

	if (!label_id_parse(id, canon))
		return -EINVAL;
	return labelbook_unbind(l->lb, canon);
}

int labels_bind(struct labels *l, const char *id, const char *sku)
{
	struct label_row r;
	int rc = begin(l);

	if (!rc)
		rc = labelbook_bind(l->lb, id, sku, now_wall_ms());
	if (!rc)
		rc = labelbook_get(l->lb, id, &r);
	if (!rc)
		rc = reconcile(l, &r);
	if (!rc)
		rc = commit(l);
	else
		store_rollback(l->store);
	return rc;
}

int labels_unbind(struct labels *l, const char *id)
{
	int rc = begin(l);

	if (!rc)
		rc = labelbook_unbind(l->lb, id);
	if (!rc)
		rc = commit(l);
	else
		store_rollback(l->store);
	return rc;
}

static void refresh_cb(void *arg, const struct label_row *r)
{
	struct labels *l = arg;
	struct label_row copy = *r;
	struct labeljob_input in = {.ev = LABELJOB_EV_REFRESH, .now_ms = now_wall_ms()};

	if (!copy.sku[0])
		return;
	if (copy.job.state == LABELJOB_NONE)
		reconcile(l, &copy);
	else
		step(l, &copy, &in);
}

int labels_refresh(struct labels *l, const char *id)
{
	struct label_row r;
	int rc = begin(l);

	if (rc)
		return rc;
	if (id) {
		rc = labelbook_get(l->lb, id, &r);
		if (!rc && !r.sku[0])
			rc = -EINVAL;
		if (!rc) {
			/* Re-derive first (the price may have changed), then force a resend. */
			rc = reconcile(l, &r);
			if (!rc)
				refresh_cb(l, &r);
		}
	} else {
		rc = labelbook_foreach(l->lb, LABELJOB_NONE, refresh_cb, l);
		rc = rc < 0 ? rc : 0;
	}
	if (!rc)
		rc = commit(l);
	else
		store_rollback(l->store);
	return rc;
}

void labels_checkin(struct labels *l, const struct label_checkin *c)
{
	struct label_row r;
	struct labeljob_input in = {.ev = LABELJOB_EV_CHECKIN, .now_ms = c->now_ms};
	bool first;

	struct label_checkin ci = *c;

	if (begin(l) < 0)
		return;
	first = labelbook_get(l->lb, c->id, &r) != 0 || !r.type || r.type != c->type;
	/*
	 * The protocol does not say how often a label wakes: learn it from the
	 * gaps between its check-ins (smoothed), for the retry backoff.
	 */
	if (!first && r.last_seen_ms > 0 && !ci.checkin_ms) {
		int64_t dt = ci.now_ms - r.last_seen_ms;

		if (dt >= 1000 && dt <= 3600 * 1000)
			ci.checkin_ms = r.checkin_ms ? (3 * r.checkin_ms + dt) / 4 : dt;
	}
	if (labelbook_checkin(l->lb, &ci) < 0 || labelbook_get(l->lb, c->id, &r) < 0) {
		store_rollback(l->store);
		return;
	}
	if (r.job.state == LABELJOB_FAILED)
		step(l, &r, &in);
	/* A label seen for the first time (or with a new type) gets its content now. */
	if (first || r.job.state == LABELJOB_NONE)
		reconcile(l, &r);
	commit(l);
}

void labels_result(struct labels *l, const char *id, const char *hash, bool delivered,
		   const char *reason, bool retryable)
{
	struct label_row r;
	struct labeljob_input in = {
		.now_ms = now_wall_ms(), .hash = hash, .reason = reason, .retryable = retryable};

	if (begin(l) < 0)
		return;
	if (labelbook_get(l->lb, id, &r) == 0) {
		in.ev = delivered ? LABELJOB_EV_DELIVERED : LABELJOB_EV_FAILED;
		in.checkin_ms = r.checkin_ms;
		if (delivered && strcmp(hash, r.job.hash))
			/* Older content landed: record what the label shows now. */
			labelbook_set_shown(l->lb, id, hash, 0, false);
		step(l, &r, &in);
	}
	commit(l);
}

static void reset_cb(void *arg, const struct label_row *r)
{
	struct labels *l = arg;
	struct label_row copy = *r;
	struct labeljob_input in = {.ev = LABELJOB_EV_LINK_RESET, .now_ms = now_wall_ms()};

	step(l, &copy, &in);
}

void labels_link_reset(struct labels *l)
{
	if (begin(l) < 0)
		return;
	labelbook_foreach(l->lb, LABELJOB_SENT, reset_cb, l);
	commit(l);
}

struct take_ctx {
	struct label_row *r;
	bool found;
};

static void take_cb(void *arg, const struct label_row *r)
{
	struct take_ctx *t = arg;

	if (!t->found) {
		*t->r = *r;
		t->found = true;
	}
}

int labels_take_job(struct labels *l, struct label_row *r, struct esl_image *img, uint8_t *buf)
{
	struct labeljob_input in = {.ev = LABELJOB_EV_SEND, .now_ms = now_wall_ms()};
	char hash[LABELJOB_HASH_LEN + 1];
	int64_t price;
	bool nfs;

	for (;;) {
		struct take_ctx t = {.r = r};
		int rc = labelbook_due(l->lb, in.now_ms, 1, take_cb, &t);

		if (rc <= 0)
			return rc;
		if (begin(l) < 0)
			return -EIO;
		rc = labels_render(l, r, img, buf, hash, &price, &nfs);
		if (rc == 0 && !strcmp(hash, r->job.hash)) {
			rc = step(l, r, &in);
			if (!rc)
				rc = commit(l);
			return rc < 0 ? rc : 1;
		}
		/* The desired content moved on (or cannot be drawn): re-derive the job. */
		if (rc == 0) {
			reconcile(l, r);
		} else {
			struct labeljob_input f = {.ev = LABELJOB_EV_SEND, .now_ms = in.now_ms};
			struct labeljob_input g = {
				.ev = LABELJOB_EV_FAILED,
				.now_ms = in.now_ms,
				.reason = "cannot render (unbound or unknown type)"};

			step(l, r, &f);
			step(l, r, &g);
		}
		commit(l);
	}
}

/* --- integrity --- */

struct integ_ctx {
	int64_t till_price;
	int64_t label_price;
	bool mismatch;
	cJSON *ids;
};

static void integ_cb(void *arg, const struct label_row *r)
{
	struct integ_ctx *c = arg;

	if (!r->shown_known || r->shown_nfs)
		return;
	if (r->shown_price != c->till_price) {
		c->mismatch = true;
		c->label_price = r->shown_price;
		cJSON_AddItemToArray(c->ids, cJSON_CreateString(r->id));
	}
}

static void remember_mismatch(struct labels *l, const char *source, const char *receipt,
			      const char *sku, int64_t till, int64_t label, int n)
{
	struct mismatch *m = NULL;

	for (size_t i = 0; i < l->n_mm; i++) {
		if (!strcmp(l->mm[i].sku, sku))
			m = &l->mm[i];
	}
	if (!m && l->n_mm < MISMATCH_MAX)
		m = &l->mm[l->n_mm++];
	if (!m)
		return;
	str_copy(m->sku, sizeof(m->sku), sku);
	str_copy(m->source, sizeof(m->source), source);
	str_copy(m->receipt, sizeof(m->receipt), receipt);
	m->till_price = till;
	m->label_price = label;
	m->n_labels = n;
	m->ts_ms = now_wall_ms();
}

static void forget_mismatch(struct labels *l, const char *sku)
{
	for (size_t i = 0; i < l->n_mm; i++) {
		if (!strcmp(l->mm[i].sku, sku)) {
			l->mm[i] = l->mm[--l->n_mm];
			return;
		}
	}
}

void labels_check_sale_line(struct labels *l, const char *source, const char *receipt,
			    const char *sku, int64_t unit_price)
{
	struct integ_ctx c = {.till_price = unit_price};
	cJSON *b;

	if (!l || !labelbook_sku_has_labels(l->lb, sku))
		return;
	b = cJSON_CreateObject();
	if (!b)
		return;
	c.ids = cJSON_CreateArray();
	labelbook_foreach_sku(l->lb, sku, integ_cb, &c);
	if (!c.mismatch) {
		forget_mismatch(l, sku);
		cJSON_Delete(c.ids);
		cJSON_Delete(b);
		return;
	}
	cJSON_AddStringToObject(b, "sku", sku);
	json_add_int(b, "till_price", unit_price);
	json_add_int(b, "label_price", c.label_price);
	cJSON_AddStringToObject(b, "kind",
				unit_price > c.label_price ? "overcharge" : "undercharge");
	cJSON_AddItemToObject(b, "labels", c.ids);
	cJSON_AddStringToObject(b, "receipt", receipt);
	cJSON_AddStringToObject(b, "till", source);
	log_warn("integrity: %s charged %lld at %s (receipt %s) but its label shows %lld", sku,
		 (long long)unit_price, source, receipt, (long long)c.label_price);
	remember_mismatch(l, source, receipt, sku, unit_price, c.label_price,
			  cJSON_GetArraySize(c.ids));
	l->integrity_events++;
	l->host->emit(l->host->arg, "integrity", b);
	cJSON_Delete(b);
}

static void stale_cb(void *arg, const struct label_row *r)
{
	cJSON *o;

	if (!r->sku[0])
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "label", r->id);
	cJSON_AddStringToObject(o, "sku", r->sku);
	cJSON_AddStringToObject(o, "state", labeljob_state_name(r->job.state));
	if (r->shown_known && !r->shown_nfs)
		json_add_int(o, "shows", r->shown_price);
	else
		cJSON_AddNullToObject(o, "shows");
	if (r->job_nfs)
		cJSON_AddNullToObject(o, "should_show");
	else
		json_add_int(o, "should_show", r->job_price);
	if (r->job.reason[0])
		cJSON_AddStringToObject(o, "reason", r->job.reason);
	cJSON_AddItemToArray(arg, o);
}

int labels_integrity_json(struct labels *l, cJSON *out)
{
	cJSON *mm = cJSON_AddArrayToObject(out, "mismatches");
	cJSON *stale = cJSON_AddArrayToObject(out, "stale_labels");
	char ts[TS_BUFSZ];

	for (size_t i = 0; i < l->n_mm; i++) {
		const struct mismatch *m = &l->mm[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "sku", m->sku);
		json_add_int(o, "till_price", m->till_price);
		json_add_int(o, "label_price", m->label_price);
		cJSON_AddStringToObject(
			o, "kind", m->till_price > m->label_price ? "overcharge" : "undercharge");
		cJSON_AddStringToObject(o, "till", m->source);
		cJSON_AddStringToObject(o, "receipt", m->receipt);
		cJSON_AddNumberToObject(o, "labels", m->n_labels);
		ts_format(m->ts_ms, ts);
		cJSON_AddStringToObject(o, "at", ts);
		cJSON_AddItemToArray(mm, o);
	}
	/* Labels not showing what they should: jobs not delivered. */
	if (labelbook_foreach(l->lb, LABELJOB_QUEUED, stale_cb, stale) < 0 ||
	    labelbook_foreach(l->lb, LABELJOB_SENT, stale_cb, stale) < 0 ||
	    labelbook_foreach(l->lb, LABELJOB_FAILED, stale_cb, stale) < 0)
		return -EIO;
	cJSON_AddNumberToObject(out, "integrity_events", (double)l->integrity_events);
	return 0;
}

/* --- the periodic summary --- */

static void summary_tick(struct loop *loop, void *arg)
{
	struct labels *l = arg;
	struct labelbook_counts c;
	cJSON *b, *s;

	l->summary_timer = loop_timer_add(loop, l->summary_ms, summary_tick, l);
	if (labelbook_counts(l->lb, now_wall_ms(), &c) < 0 || !c.total)
		return;
	b = cJSON_CreateObject();
	s = cJSON_AddObjectToObject(b, "summary");
	json_add_int(s, "labels", (int64_t)c.total);
	json_add_int(s, "bound", (int64_t)c.bound);
	json_add_int(s, "updated", (int64_t)c.delivered);
	json_add_int(s, "in_progress", (int64_t)(c.queued + c.sent));
	json_add_int(s, "failed", (int64_t)c.failed);
	json_add_int(s, "low_battery", (int64_t)c.low_battery);
	json_add_int(s, "not_seen", (int64_t)c.not_seen);
	l->host->emit(l->host->arg, "label", b);
	cJSON_Delete(b);
}

int labels_new(struct loop *loop, struct store *store, struct pricebook *pb, struct labelbook *lb,
	       const struct labels_host *host, int64_t summary_ms, struct labels **out)
{
	struct labels *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->mm = calloc(MISMATCH_MAX, sizeof(*l->mm));
	if (!l->mm) {
		free(l);
		return -ENOMEM;
	}
	l->loop = loop;
	l->store = store;
	l->pb = pb;
	l->lb = lb;
	l->host = host;
	l->summary_ms = summary_ms > 0 ? summary_ms : 15 * 60 * 1000;
	l->summary_timer = loop_timer_add(loop, l->summary_ms, summary_tick, l);
	*out = l;
	return 0;
}

void labels_free(struct labels *l)
{
	if (!l)
		return;
	loop_timer_del(l->loop, l->summary_timer);
	free(l->mm);
	free(l);
}
