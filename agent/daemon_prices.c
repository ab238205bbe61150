/*
 * daemon_prices: the daemon's price wiring. HQ messages arrive through
 * hqlink's message hook into the inbox (validate, apply or schedule, ack);
 * the `prices` control verb reads the price table for the technician.
 *
 *   {"cmd":"prices","args":["get","SKU"]}            one SKU (removed ones too)
 *   {"cmd":"prices","args":["list","AFTER"],"n":N}   live SKUs in order
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "json.h"
#include "log.h"
#include "pricebook.h"
#include "labels.h"

#define LIST_DEFAULT 50
#define LIST_MAX 1000

static void host_note(void *arg, const char *type)
{
	shelfd_note_type(arg, type);
}

static int host_commit(void *arg)
{
	return shelfd_commit(arg);
}

static void host_changed(void *arg, const char *sku)
{
	struct shelfd *d = arg;

	labels_sku_changed(d->labels, sku);
	shelfd_act_price_changed(d, sku);
}

static int host_bind(void *arg, const char *label, const char *sku)
{
	struct shelfd *d = arg;

	return labels_bind_in_txn(d->labels, label, sku);
}

static int host_unbind(void *arg, const char *label)
{
	struct shelfd *d = arg;

	return labels_unbind_in_txn(d->labels, label);
}

static int labels_emit(void *arg, const char *type, cJSON *body)
{
	return shelfd_emit(arg, "shelfd", type, body, 0);
}

static void host_kick(void *arg)
{
	struct shelfd *d = arg;

	esl_kick(d->esl_dev);
}

/* --- the ESL driver's host: the label reconciler --- */

static int esl_take_job(void *arg, struct esl_job *job, uint8_t *buf)
{
	struct shelfd *d = arg;
	struct label_row r;
	int rc = labels_take_job(d->labels, &r, &job->img, buf);

	if (rc <= 0)
		return rc;
	str_copy(job->label, sizeof(job->label), r.id);
	job->type = (uint8_t)r.type;
	job->hash = strtoull(r.job.hash, NULL, 16);
	return 1;
}

static void esl_result(void *arg, const char *label, uint64_t hash, bool delivered,
		       const char *reason, bool retryable)
{
	struct shelfd *d = arg;
	char hex[LABELJOB_HASH_LEN + 1];

	labels_hash_hex(hash, hex);
	labels_result(d->labels, label, hex, delivered, reason, retryable);
}

static void esl_checkin(void *arg, const struct esl_checkin_report *c)
{
	struct shelfd *d = arg;
	char hex[LABELJOB_HASH_LEN + 1];
	struct label_checkin ci = {
		.id = c->label,
		.type = c->type,
		.battery_mv = c->battery_mv,
		.temp_c = c->temp_c,
		.rssi = c->rssi,
		.lqi = c->lqi,
		.now_ms = now_wall_ms(),
	};

	if (c->hash) {
		labels_hash_hex(c->hash, hex);
		ci.shown_hash = hex;
	}
	labels_checkin(d->labels, &ci);
}

static void esl_reset(void *arg)
{
	struct shelfd *d = arg;

	labels_link_reset(d->labels);
}

static void esl_flash_result(void *arg, const char *label, bool ok, const char *reason)
{
	if (ok)
		log_info("label %s: command done (flash or page)", label);
	else
		log_warn("label %s: command failed: %s", label, reason);
}

void shelfd_attach_esl(struct shelfd *d, struct device *dev)
{
	if (d->esl_dev) {
		log_warn("device %s: only one ESL base station is supported; %s is used",
			 dev->conf->name, d->esl_dev->conf->name);
		dev->ops = NULL;
		return;
	}
	d->esl_host.arg = d;
	d->esl_host.take_job = esl_take_job;
	d->esl_host.result = esl_result;
	d->esl_host.checkin = esl_checkin;
	d->esl_host.reset = esl_reset;
	d->esl_host.flash_result = esl_flash_result;
	dev->kind_host = &d->esl_host;
	d->esl_dev = dev;
}

static void on_hq_message(void *arg, const char *topic, const void *payload, size_t len)
{
	struct shelfd *d = arg;

	inbox_message(d->inbox, topic, payload, len);
}

int shelfd_prices_init(struct shelfd *d)
{
	int rc = pricebook_open(d->store, &d->prices);

	if (rc < 0) {
		log_err("prices: cannot open the price tables: %s", strerror(-rc));
		return rc;
	}
	d->inbox_host.arg = d;
	d->inbox_host.note = host_note;
	d->inbox_host.commit = host_commit;
	d->inbox_host.changed = host_changed;
	d->inbox_host.bind = host_bind;
	d->inbox_host.unbind = host_unbind;
	rc = labelbook_open(d->store, &d->labelbook);
	if (rc < 0) {
		log_err("labels: cannot open the label tables: %s", strerror(-rc));
		return rc;
	}
	d->labels_host.arg = d;
	d->labels_host.emit = labels_emit;
	d->labels_host.commit = host_commit;
	d->labels_host.kick = host_kick;
	rc = labels_new(d->loop, d->store, d->prices, d->labelbook, &d->labels_host,
			(int64_t)d->conf->prices.label_summary_min * 60 * 1000, &d->labels);
	if (rc < 0) {
		log_err("labels: %s", strerror(-rc));
		return rc;
	}
	/* After a restart nothing is in flight any more: sent jobs go again. */
	labels_link_reset(d->labels);
	if (labels_reconcile_all(d->labels) < 0)
		log_err("labels: could not check every label against the prices");
	rc = inbox_new(d->conf, d->loop, d->store, d->prices, &d->inbox_host, &d->inbox);
	if (rc < 0) {
		log_err("prices: inbox: %s", strerror(-rc));
		return rc;
	}
	hqlink_set_message_cb(d->hq, on_hq_message, d);
	return 0;
}

void shelfd_prices_fini(struct shelfd *d)
{
	labels_free(d->labels);
	d->labels = NULL;
	labelbook_close(d->labelbook);
	d->labelbook = NULL;
	inbox_free(d->inbox);
	d->inbox = NULL;
	pricebook_close(d->prices);
	d->prices = NULL;
}

static cJSON *row_json(const struct price_row *row)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "sku", row->sku);
	if (row->removed) {
		cJSON_AddNullToObject(o, "price");
	} else {
		json_add_int(o, "price", row->price);
	}
	if (row->regular >= 0 && !row->removed)
		json_add_int(o, "regular", row->regular);
	else
		cJSON_AddNullToObject(o, "regular");
	cJSON_AddStringToObject(o, "currency", row->currency);
	cJSON_AddStringToObject(o, "name", row->name);
	cJSON_AddStringToObject(o, "unit", row->unit);
	cJSON_AddItemToObject(o, "promo_until", json_ts_item(row->promo_until_ms));
	cJSON_AddBoolToObject(o, "removed", row->removed);
	cJSON_AddStringToObject(o, "batch", row->batch_id);
	cJSON_AddItemToObject(o, "issued_at", json_ts_item(row->issued_at_ms));
	cJSON_AddItemToObject(o, "updated", json_ts_item(row->updated_ms));
	return o;
}

static void add_row(void *arg, const struct price_row *row)
{
	cJSON *o = row_json(row);

	if (o)
		cJSON_AddItemToArray(arg, o);
}

int shelfd_cmd_prices(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "args");
	const char *op = cJSON_GetStringValue(cJSON_GetArrayItem(args, 0));
	const char *arg1 = cJSON_GetStringValue(cJSON_GetArrayItem(args, 1));
	int64_t limit = LIST_DEFAULT;
	int rc;

	if (op && !strcmp(op, "get") && arg1 && cJSON_GetArraySize(args) == 2) {
		struct price_row row;

		rc = pricebook_get(d->prices, arg1, &row);
		if (rc == -ENOENT) {
			snprintf(err, errsz, "no price for SKU %.64s", arg1);
			return rc;
		}
		if (rc < 0)
			return rc;
		cJSON_AddItemToObject(r, "price", row_json(&row));
		return 0;
	}
	if (op && !strcmp(op, "list") && cJSON_GetArraySize(args) <= 2) {
		const cJSON *jl = cJSON_GetObjectItemCaseSensitive(req, "n");
		cJSON *arr = cJSON_AddArrayToObject(r, "prices");

		if (jl && (json_get_int(req, "n", &limit) < 0 || limit < 1 || limit > LIST_MAX)) {
			snprintf(err, errsz, "limit must be 1..%d", LIST_MAX);
			return -EINVAL;
		}
		rc = pricebook_list(d->prices, arg1 ? arg1 : "", (size_t)limit, add_row, arr);
		if (rc < 0)
			return rc;
		cJSON_AddNumberToObject(r, "count", rc);
		cJSON_AddNumberToObject(r, "total", (double)pricebook_count(d->prices));
		return 0;
	}
	snprintf(err, errsz, "usage: prices get SKU | prices list [AFTER_SKU]");
	return -EINVAL;
}

/* The "labels" section of `status`. */
static void add_label_counts(struct shelfd *d, cJSON *r)
{
	struct labelbook_counts c;
	cJSON *o;

	if (labelbook_counts(d->labelbook, now_wall_ms(), &c) < 0)
		return;
	o = cJSON_AddObjectToObject(r, "labels");
	cJSON_AddNumberToObject(o, "total", (double)c.total);
	cJSON_AddNumberToObject(o, "bound", (double)c.bound);
	cJSON_AddNumberToObject(o, "queued", (double)c.queued);
	cJSON_AddNumberToObject(o, "sent", (double)c.sent);
	cJSON_AddNumberToObject(o, "delivered", (double)c.delivered);
	cJSON_AddNumberToObject(o, "failed", (double)c.failed);
	cJSON_AddNumberToObject(o, "low_battery", (double)c.low_battery);
	cJSON_AddNumberToObject(o, "not_seen", (double)c.not_seen);
}

/* The "prices" section of `status`. */
void shelfd_prices_status(struct shelfd *d, cJSON *r)
{
	struct inbox_stats is;
	cJSON *o = cJSON_AddObjectToObject(r, "prices");

	if (!o || !d->inbox)
		return;
	inbox_get_stats(d->inbox, &is);
	cJSON_AddNumberToObject(o, "skus", (double)pricebook_count(d->prices));
	cJSON_AddNumberToObject(o, "scheduled", pricebook_scheduled_count(d->prices));
	cJSON_AddNumberToObject(o, "received", (double)is.received);
	cJSON_AddNumberToObject(o, "applied", (double)is.applied);
	cJSON_AddNumberToObject(o, "rejected", (double)is.rejected);
	cJSON_AddNumberToObject(o, "duplicates", (double)is.duplicates);
	cJSON_AddNumberToObject(o, "failed", (double)is.failed);
	add_label_counts(d, r);
	if (is.last_id[0]) {
		cJSON_AddStringToObject(o, "last_id", is.last_id);
		cJSON_AddStringToObject(o, "last_status", is.last_status);
		cJSON_AddItemToObject(o, "last_at", json_ts_item(is.last_ms));
	} else {
		cJSON_AddNullToObject(o, "last_id");
	}
}

/* --- labels --- */

static cJSON *label_json(const struct label_row *r)
{
	cJSON *o = cJSON_CreateObject();
	uint16_t w, h;
	uint8_t planes;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "label", r->id);
	if (r->sku[0])
		cJSON_AddStringToObject(o, "sku", r->sku);
	else
		cJSON_AddNullToObject(o, "sku");
	if (r->type && esl_label_geometry((uint8_t)r->type, &w, &h, &planes) == 0) {
		char t[32];

		snprintf(t, sizeof(t), "%ux%u%s", w, h, planes > 1 ? " b/w/red" : " b/w");
		cJSON_AddStringToObject(o, "type", t);
	} else {
		cJSON_AddNullToObject(o, "type");
	}
	cJSON_AddStringToObject(o, "state", labeljob_state_name(r->job.state));
	if (r->shown_known && !r->shown_nfs)
		json_add_int(o, "shows_price", r->shown_price);
	else
		cJSON_AddNullToObject(o, "shows_price");
	cJSON_AddStringToObject(o, "shown_hash", r->shown_hash);
	cJSON_AddStringToObject(o, "job_hash", r->job.hash);
	json_add_int(o, "attempts", r->job.attempts);
	if (r->job.reason[0])
		cJSON_AddStringToObject(o, "reason", r->job.reason);
	else
		cJSON_AddNullToObject(o, "reason");
	json_add_int(o, "superseded", r->job.superseded);
	json_add_int(o, "battery_mv", r->battery_mv);
	json_add_int(o, "temp_c", r->temp_c);
	json_add_int(o, "rssi", r->rssi);
	json_add_int(o, "lqi", r->lqi);
	cJSON_AddItemToObject(o, "last_seen", json_ts_item(r->last_seen_ms));
	return o;
}

static void add_label(void *arg, const struct label_row *r)
{
	cJSON *o = label_json(r);

	if (o)
		cJSON_AddItemToArray(arg, o);
}

/* What the label should show now, for `labels preview` (shelfctl renders it). */
static int label_preview(struct shelfd *d, const struct label_row *r, cJSON *out, char *err,
			 size_t errsz)
{
	static uint8_t buf[ESL_IMG_MAX_BYTES];
	struct label_content c;
	struct price_row row;
	struct esl_image img;
	char hash[LABELJOB_HASH_LEN + 1];
	int64_t price;
	bool nfs;
	int rc;
	cJSON *o;

	rc = labels_content(d->labels, r, &c, &row);
	if (rc == -ENOENT) {
		snprintf(err, errsz, "label %s is not bound to a SKU", r->id);
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	if (!r->type) {
		snprintf(err, errsz, "label %s has not checked in yet: its type is unknown", r->id);
		return -EINVAL;
	}
	rc = labels_render(d->labels, r, &img, buf, hash, &price, &nfs);
	if (rc < 0)
		return rc;
	cJSON_AddNumberToObject(out, "type_code", r->type);
	cJSON_AddStringToObject(out, "hash", hash);
	o = cJSON_AddObjectToObject(out, "content");
	cJSON_AddStringToObject(o, "sku", c.sku);
	if (c.name)
		cJSON_AddStringToObject(o, "name", c.name);
	json_add_int(o, "price", c.price);
	json_add_int(o, "regular", c.regular);
	cJSON_AddStringToObject(o, "currency", c.currency);
	if (c.unit)
		cJSON_AddStringToObject(o, "unit", c.unit);
	json_add_int(o, "promo_until_ms", c.promo_until_ms);
	cJSON_AddBoolToObject(o, "not_for_sale", c.not_for_sale);
	return 0;
}

static int label_arg(const char *s, char id[LABEL_ID_LEN + 1], char *err, size_t errsz)
{
	if (!label_id_parse(s, id)) {
		snprintf(err, errsz, "label ids are 8 hex digits (e.g. E1000001), got \"%.32s\"",
			 s ? s : "");
		return -EINVAL;
	}
	return 0;
}

int shelfd_cmd_labels(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "args");
	const char *op = cJSON_GetStringValue(cJSON_GetArrayItem(args, 0));
	const char *a1 = cJSON_GetStringValue(cJSON_GetArrayItem(args, 1));
	const char *a2 = cJSON_GetStringValue(cJSON_GetArrayItem(args, 2));
	int n = cJSON_GetArraySize(args);
	char id[LABEL_ID_LEN + 1];
	struct label_row row;
	int rc;

	if (!op)
		op = "";
	if (!strcmp(op, "list") && n == 1) {
		const char *st =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "state"));
		enum labeljob_state s = labeljob_state_parse(st);
		cJSON *arr = cJSON_AddArrayToObject(r, "labels");

		if (st && s == LABELJOB_NONE && strcmp(st, "none")) {
			snprintf(err, errsz, "--state is one of queued, sent, delivered, failed");
			return -EINVAL;
		}
		rc = labelbook_foreach(d->labelbook, s, add_label, arr);
		if (rc < 0)
			return rc;
		cJSON_AddNumberToObject(r, "count", rc);
		return 0;
	}
	if (!strcmp(op, "refresh") && n == 2 && a1 && !strcmp(a1, "--all")) {
		rc = labels_refresh(d->labels, NULL);
		cJSON_AddStringToObject(r, "refreshed", "all");
		return rc;
	}
	if (n >= 2 && (rc = label_arg(a1, id, err, errsz)) < 0)
		return rc;
	if (!strcmp(op, "bind") && n == 3 && a2) {
		if (!a2[0] || strlen(a2) > PRICE_SKU_MAX) {
			snprintf(err, errsz, "a SKU is 1..%d bytes", PRICE_SKU_MAX);
			return -EINVAL;
		}
		rc = labels_bind(d->labels, id, a2);
		if (rc < 0)
			return rc;
	} else if (!strcmp(op, "unbind") && n == 2) {
		rc = labels_unbind(d->labels, id);
		if (rc == -ENOENT)
			snprintf(err, errsz, "no label %s", id);
		if (rc < 0)
			return rc;
	} else if (!strcmp(op, "refresh") && n == 2) {
		rc = labels_refresh(d->labels, id);
		if (rc == -ENOENT)
			snprintf(err, errsz, "no label %s", id);
		else if (rc == -EINVAL)
			snprintf(err, errsz, "label %s is not bound to a SKU", id);
		if (rc < 0)
			return rc;
	} else if (((!strcmp(op, "show") || !strcmp(op, "preview") || !strcmp(op, "flash")) &&
		    n == 2) ||
		   (!strcmp(op, "page") && n == 3 && a2)) {
		/* handled below, after the lookup */
	} else {
		snprintf(err, errsz,
			 "usage: labels list | show LABEL | bind LABEL SKU | unbind LABEL | "
			 "flash LABEL | page LABEL N | refresh LABEL|--all | preview LABEL");
		return -EINVAL;
	}
	rc = labelbook_get(d->labelbook, id, &row);
	if (rc == -ENOENT) {
		snprintf(err, errsz, "no label %s", id);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (!strcmp(op, "preview"))
		return label_preview(d, &row, r, err, errsz);
	if (!strcmp(op, "page")) {
		long long page = 0;

		if (!d->esl_dev) {
			snprintf(err, errsz, "no ESL base station is configured");
			return -ENODEV;
		}
		if (parse_ll(a2, 0, 255, &page) < 0) {
			snprintf(err, errsz, "page is a number 0..255 (0 = the main image)");
			return -EINVAL;
		}
		rc = esl_page(d->esl_dev, id, (unsigned)page, 0);
		if (rc == -ENOTCONN)
			snprintf(err, errsz, "the ESL base station is not connected");
		if (rc < 0)
			return rc;
		cJSON_AddStringToObject(r, "page", id);
		return 0;
	}
	if (!strcmp(op, "flash")) {
		if (!d->esl_dev) {
			snprintf(err, errsz, "no ESL base station is configured");
			return -ENODEV;
		}
		rc = esl_flash(d->esl_dev, id);
		if (rc == -ENOTCONN)
			snprintf(err, errsz, "the ESL base station is not connected");
		else if (rc == -ENOSPC)
			snprintf(err, errsz, "too many flash requests pending; try again");
		if (rc < 0)
			return rc;
		cJSON_AddStringToObject(r, "flash", id);
		return 0;
	}
	cJSON_AddItemToObject(r, "label", label_json(&row));
	return 0;
}

int shelfd_cmd_integrity(struct shelfd *d, const cJSON *req, cJSON *r, char *err, size_t errsz)
{
	return labels_integrity_json(d->labels, r);
}
