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
#include <string.h>

#include "daemon.h"
#include "json.h"
#include "log.h"
#include "pricebook.h"

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
	d->inbox_host.changed = NULL; /* the label reconciler hooks in here */
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
	inbox_free(d->inbox);
	d->inbox = NULL;
	pricebook_close(d->prices);
	d->prices = NULL;
}

static cJSON *ts_or_null(int64_t ms)
{
	char ts[TS_BUFSZ];

	if (ms <= 0)
		return cJSON_CreateNull();
	ts_format(ms, ts);
	return cJSON_CreateString(ts);
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
	cJSON_AddItemToObject(o, "promo_until", ts_or_null(row->promo_until_ms));
	cJSON_AddBoolToObject(o, "removed", row->removed);
	cJSON_AddStringToObject(o, "batch", row->batch_id);
	cJSON_AddItemToObject(o, "issued_at", ts_or_null(row->issued_at_ms));
	cJSON_AddItemToObject(o, "updated", ts_or_null(row->updated_ms));
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
	if (is.last_id[0]) {
		cJSON_AddStringToObject(o, "last_id", is.last_id);
		cJSON_AddStringToObject(o, "last_status", is.last_status);
		cJSON_AddItemToObject(o, "last_at", ts_or_null(is.last_ms));
	} else {
		cJSON_AddNullToObject(o, "last_id");
	}
}
