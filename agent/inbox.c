/*
 * inbox: HQ price batches and commands, validated, applied or scheduled in
 * one transaction with their ack. See inbox.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fetch.h"
#include "inbox.h"
#include "labelbook.h"
#include "log.h"
#include "prices.h"
#include "util.h"

#define INBOX_TOPIC_MAX 256
#define INBOX_RECHECK_MS 60000 /* re-arm the schedule timer at most this far ahead */
/* A snapshot download holds its scheduled row this long (then, after a crash, it resumes). */
#define SNAP_LEASE_MS ((int64_t)(FETCH_DEFAULT_TIMEOUT_S + 60) * 1000)
#define SNAP_RETRY_MIN_MS 15000
#define SNAP_RETRY_MAX_MS (15 * 60 * 1000)
#define ACK_MAX (256 * 1024)
#define CMD_BIND_MAX 20000
#define CHANGED_MAX ((size_t)PRICE_MAX_ITEMS * (PRICE_SKU_MAX + 1) * 2)

enum topic_kind { T_OTHER, T_PRICES, T_CMD, T_RECS };

struct inbox {
	const struct config *conf;
	struct loop *loop;
	struct store *store;
	struct pricebook *pb;
	const struct inbox_host *host;
	int timer;
	struct inbox_stats st;
	struct dynbuf ack; /* the ack being built */
	struct dynbuf changed; /* SKUs changed by the open transaction, NUL-separated */
	struct dynbuf due; /* payload of a scheduled batch being applied */
	char t_prices[INBOX_TOPIC_MAX], t_fleet_prices[INBOX_TOPIC_MAX];
	char t_cmd[INBOX_TOPIC_MAX], t_fleet_cmd[INBOX_TOPIC_MAX];
	char t_recs[INBOX_TOPIC_MAX], t_fleet_recs[INBOX_TOPIC_MAX];
	/* The snapshot being downloaded (one at a time). */
	struct fetch *fetch;
	char snap_id[PRICE_ID_MAX + 1]; /* "" when none */
	char snap_path[4096];
	int snap_fetch_id;
	unsigned snap_failures;
};

static void arm_timer(struct inbox *ib);

static enum topic_kind classify(const struct inbox *ib, const char *topic, bool *fleet)
{
	*fleet = false;
	if (!strcmp(topic, ib->t_prices))
		return T_PRICES;
	if (!strcmp(topic, ib->t_cmd))
		return T_CMD;
	if (!strcmp(topic, ib->t_recs))
		return T_RECS;
	*fleet = true;
	if (!strcmp(topic, ib->t_fleet_recs))
		return T_RECS;
	if (!strcmp(topic, ib->t_fleet_prices))
		return T_PRICES;
	if (!strcmp(topic, ib->t_fleet_cmd))
		return T_CMD;
	return T_OTHER;
}

static void count_status(struct inbox *ib, const char *id, const char *status)
{
	if (!strcmp(status, "applied"))
		ib->st.applied++;
	else if (!strcmp(status, "scheduled"))
		ib->st.scheduled++;
	else if (!strcmp(status, "rejected"))
		ib->st.rejected++;
	else if (!strcmp(status, "duplicate"))
		ib->st.duplicates++;
	str_copy(ib->st.last_id, sizeof(ib->st.last_id), id);
	str_copy(ib->st.last_status, sizeof(ib->st.last_status), status);
	ib->st.last_ms = now_wall_ms();
}

/*
 * Start an ack: {"store":..,"ref":..,"status":..,"ts":..  (the caller adds
 * members, then ack_finish closes it).
 */
static int ack_begin(struct inbox *ib, const char *ref, const char *status)
{
	char ts[TS_BUFSZ];
	int rc;

	dynbuf_reset(&ib->ack);
	ts_format(now_wall_ms(), ts);
	rc = dynbuf_adds(&ib->ack, "{\"store\":");
	if (!rc)
		rc = dynbuf_add_json_str(&ib->ack, ib->conf->store_id);
	if (!rc)
		rc = dynbuf_adds(&ib->ack, ",\"ref\":");
	if (!rc)
		rc = dynbuf_add_json_str(&ib->ack, ref);
	if (!rc)
		rc = dynbuf_addf(&ib->ack, ",\"status\":\"%s\",\"ts\":\"%s\"", status, ts);
	return rc;
}

/* Close the ack and append it to the outbox (in the open transaction). */
static int ack_finish(struct inbox *ib, const char *errors_json)
{
	int rc = dynbuf_adds(&ib->ack, ",\"errors\":");

	if (!rc)
		rc = dynbuf_adds(&ib->ack, errors_json ? errors_json : "[]");
	if (!rc)
		rc = dynbuf_add(&ib->ack, "}", 1);
	if (!rc)
		rc = store_append(ib->store, "ack", ib->ack.buf, ib->ack.len, now_wall_ms(), NULL);
	if (!rc)
		ib->host->note(ib->host->arg, "ack");
	return rc;
}

/*
 * Commit; on success tell the host which SKUs changed. Its label jobs are
 * queued in one more transaction (one fsync for a whole batch, not one per
 * SKU); a crash between the two is repaired by the reconciler at start.
 */
static int commit(struct inbox *ib)
{
	int rc = ib->host->commit(ib->host->arg);

	if (rc == 0 && ib->host->changed && ib->changed.len && store_begin(ib->store) == 0) {
		for (size_t off = 0; off < ib->changed.len;) {
			const char *sku = ib->changed.buf + off;

			ib->host->changed(ib->host->arg, sku);
			off += strlen(sku) + 1;
		}
		if (ib->host->commit(ib->host->arg) < 0)
			log_err("inbox: label jobs for changed prices not stored; the reconciler "
				"retries at the next start");
	}
	dynbuf_reset(&ib->changed);
	return rc;
}

static void fail(struct inbox *ib, const char *id, int rc)
{
	store_rollback(ib->store);
	dynbuf_reset(&ib->changed);
	ib->st.failed++;
	log_err("inbox: %s: could not be stored (%s); not acked, HQ will send it again", id,
		strerror(-rc));
}

/* An ack on its own (rejected / duplicate): one small transaction. */
static void ack_only(struct inbox *ib, const char *id, const char *status, const char *errors,
		     const char *extra)
{
	int rc = store_begin(ib->store);

	if (!rc)
		rc = ack_begin(ib, id, status);
	if (!rc && extra)
		rc = dynbuf_adds(&ib->ack, extra);
	if (!rc)
		rc = ack_finish(ib, errors);
	if (!rc)
		rc = commit(ib);
	if (rc) {
		fail(ib, id, rc);
		return;
	}
	count_status(ib, id, status);
}

static void on_changed(void *arg, const char *sku)
{
	struct inbox *ib = arg;

	/* Bounded by the largest batch; past it the reconciler rescans anyway. */
	dynbuf_add(&ib->changed, sku, strlen(sku) + 1);
}

/* Append a JSON array member "@name":[@list] when @list (array items text) is not empty. */
static int ack_list(struct inbox *ib, const char *name, const struct dynbuf *list)
{
	int rc;

	if (!list->len)
		return 0;
	rc = dynbuf_addf(&ib->ack, ",\"%s\":[", name);
	if (!rc)
		rc = dynbuf_add(&ib->ack, list->buf, list->len);
	return rc ? rc : dynbuf_add(&ib->ack, "]", 1);
}

/* What an applied batch did, into the ack: counts, superseded and removed SKUs. */
static int ack_counts(struct inbox *ib, const struct pricebook_result *r)
{
	int rc = dynbuf_addf(&ib->ack, ",\"applied\":%zu,\"removed\":%zu,\"superseded_count\":%zu",
			     r->applied, r->removed, r->superseded);

	if (!rc)
		rc = ack_list(ib, "superseded", &r->superseded_skus);
	return rc ? rc : ack_list(ib, "removed_skus", &r->removed_skus);
}

struct stream_ctx {
	struct inbox *ib;
	const struct price_batch *hdr;
	struct pricebook_result *r;
};

static int stream_item(void *arg, const struct price_item *it)
{
	struct stream_ctx *c = arg;

	return pricebook_apply_item(c->ib->pb, c->hdr, it, c->r, on_changed, c->ib);
}

/*
 * Apply the items of the validated batch (or snapshot file) in @buf one by
 * one (prices.h price_foreach_item: the items are never all in memory at
 * once), then its remove list (and, for a snapshot, the SKUs it lacks).
 */
static int apply_stream(struct inbox *ib, const struct price_batch *hdr, const char *buf,
			size_t len, bool snapshot, struct pricebook_result *r)
{
	struct stream_ctx c = {.ib = ib, .hdr = hdr, .r = r};
	int rc = price_foreach_item(buf, len, snapshot, stream_item, &c);
	/* prices.snapshot_missing: "not_for_sale" removes what the catalogue lacks. */
	bool remove_missing = snapshot && ib->conf->prices.snapshot_remove_missing;

	return rc ? rc : pricebook_apply_rest(ib->pb, hdr, remove_missing, r, on_changed, ib);
}

/* Apply a validated batch, record its id and ack it: the caller commits. */
static int apply_batch(struct inbox *ib, const struct price_batch *b, const char *buf, size_t len,
		       bool already_recorded)
{
	struct pricebook_result r;
	int rc;

	pricebook_result_init(&r);
	rc = apply_stream(ib, b, buf, len, false, &r);
	if (!rc)
		rc = pricebook_record(ib->pb, b->id, "prices", "applied");
	if (!rc)
		rc = ack_begin(ib, b->id, "applied");
	if (!rc)
		rc = ack_counts(ib, &r);
	if (!rc && b->effective_at_ms) {
		char ts[TS_BUFSZ];

		ts_format(b->effective_at_ms, ts);
		rc = dynbuf_addf(&ib->ack, ",\"effective_at\":\"%s\"", ts);
	}
	if (!rc)
		rc = ack_finish(ib, NULL);
	if (!rc)
		log_info("prices: batch %s applied: %zu set, %zu removed, %zu superseded by newer "
			 "batches%s",
			 b->id, r.applied, r.removed, r.superseded,
			 already_recorded ? " (scheduled)" : "");
	pricebook_result_free(&r);
	return rc;
}

static bool names_us(const struct inbox *ib, const struct price_batch *b)
{
	if (!b->has_stores)
		return true;
	for (size_t i = 0; i < b->n_stores; i++) {
		if (!strcmp(b->stores[i], ib->conf->store_id))
			return true;
	}
	return false;
}

static void on_prices(struct inbox *ib, const char *payload, size_t len, bool fleet)
{
	struct price_batch b = {0};
	struct price_errors *errs;
	struct dynbuf ej;
	char seen[16];
	int rc;

	errs = malloc(sizeof(*errs));
	if (!errs) {
		log_err("inbox: out of memory for a price batch");
		ib->st.failed++;
		return;
	}
	rc = price_batch_validate(payload, len, &b, errs);
	if (rc == -ENOMEM) {
		/* Not the batch's fault: no ack, HQ sends it again. */
		fail(ib, b.id[0] ? b.id : "(no id)", rc);
		goto out;
	}
	if (rc == 0 && fleet && !names_us(ib, &b)) {
		log_debug("prices: fleet batch %s is for other stores", b.id);
		ib->st.ignored++;
		goto out;
	}
	if (b.id[0]) {
		rc = pricebook_seen(ib->pb, b.id, seen, sizeof(seen));
		if (rc == 1) {
			char extra[64];

			snprintf(extra, sizeof(extra), ",\"original\":\"%s\"", seen);
			log_info("prices: batch %s again: duplicate (was %s)", b.id, seen);
			ack_only(ib, b.id, "duplicate", NULL, extra);
			goto out;
		}
		if (rc < 0) {
			fail(ib, b.id, rc);
			goto out;
		}
	}
	if (errs->total) {
		dynbuf_init(&ej, ACK_MAX / 2);
		if (price_errors_json(errs, &ej) < 0)
			dynbuf_adds(&ej, "[{\"at\":\"\",\"error\":\"too many errors to list\"}]");
		log_warn("prices: batch %s rejected: %zu error%s, first: %s: %s",
			 b.id[0] ? b.id : "(no id)", errs->total, errs->total == 1 ? "" : "s",
			 errs->e[0].at[0] ? errs->e[0].at : "(payload)", errs->e[0].error);
		ack_only(ib, b.id, "rejected", ej.buf, NULL);
		dynbuf_free(&ej);
		goto out;
	}
	if (b.has_snapshot) {
		/*
		 * A catalogue to download: kept as a scheduled batch (so a restart
		 * resumes it), acked "scheduled" now, and "applied" or "rejected"
		 * once the file is in and checked.
		 */
		int64_t when =
			b.effective_at_ms > now_wall_ms() ? b.effective_at_ms : now_wall_ms();
		char ts[TS_BUFSZ];

		ts_format(when, ts);
		rc = ib->host->commit(ib->host->arg);
		if (!rc)
			rc = store_begin(ib->store);
		if (!rc)
			rc = pricebook_schedule(ib->pb, b.id, when, b.issued_at_ms, fleet, payload,
						len);
		if (!rc)
			rc = pricebook_record(ib->pb, b.id, "prices", "scheduled");
		if (!rc)
			rc = ack_begin(ib, b.id, "scheduled");
		if (!rc)
			rc = dynbuf_addf(&ib->ack,
					 ",\"effective_at\":\"%s\",\"snapshot\":{\"size\":%lld,"
					 "\"sha256\":\"%s\"}",
					 ts, (long long)b.snapshot_size, b.snapshot_sha256);
		if (!rc)
			rc = ack_finish(ib, NULL);
		if (!rc)
			rc = commit(ib);
		if (rc) {
			fail(ib, b.id, rc);
			goto out;
		}
		log_info("prices: snapshot batch %s accepted: %lld bytes to download", b.id,
			 (long long)b.snapshot_size);
		count_status(ib, b.id, "scheduled");
		arm_timer(ib);
		goto out;
	}

	/* Valid and new: one transaction with the ack, after the pending events. */
	rc = ib->host->commit(ib->host->arg);
	if (!rc)
		rc = store_begin(ib->store);
	if (!rc && b.effective_at_ms > now_wall_ms()) {
		char ts[TS_BUFSZ];

		ts_format(b.effective_at_ms, ts);
		rc = pricebook_schedule(ib->pb, b.id, b.effective_at_ms, b.issued_at_ms, fleet,
					payload, len);
		if (!rc)
			rc = pricebook_record(ib->pb, b.id, "prices", "scheduled");
		if (!rc)
			rc = ack_begin(ib, b.id, "scheduled");
		if (!rc)
			rc = dynbuf_addf(&ib->ack, ",\"effective_at\":\"%s\",\"items\":%zu", ts,
					 b.n_items);
		if (!rc)
			rc = ack_finish(ib, NULL);
		if (!rc)
			rc = commit(ib);
		if (rc) {
			fail(ib, b.id, rc);
			goto out;
		}
		log_info("prices: batch %s scheduled for %s (%zu items)", b.id, ts, b.n_items);
		count_status(ib, b.id, "scheduled");
		arm_timer(ib);
		goto out;
	}
	if (!rc)
		rc = apply_batch(ib, &b, payload, len, false);
	if (!rc)
		rc = commit(ib);
	if (rc) {
		fail(ib, b.id, rc);
		goto out;
	}
	count_status(ib, b.id, "applied");
out:
	price_batch_free(&b);
	free(errs);
}

/* One-error "errors" array text, for the small validators here. Caller frees. */
static char *one_error(const char *at, const char *msg)
{
	cJSON *arr = cJSON_CreateArray(), *e = cJSON_CreateObject();
	char *out;

	cJSON_AddStringToObject(e, "at", at);
	cJSON_AddStringToObject(e, "error", msg);
	cJSON_AddItemToArray(arr, e);
	out = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return out;
}

/*
 * labels.bind {"bindings":[{"label","sku"}]} / labels.unbind {"labels":[...]}:
 * every entry checked first (errors listed with their paths), then all
 * applied in one transaction with the ack.
 */
static void on_labels_cmd(struct inbox *ib, const char *ref, const cJSON *root, bool bind)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, bind ? "bindings" : "labels");
	struct price_errors *errs = malloc(sizeof(*errs));
	const char *key = bind ? "bindings" : "labels";
	struct dynbuf ej;
	const cJSON *e, *list;
	char canon[LABEL_ID_LEN + 1];
	size_t i = 0, done = 0;
	int rc = 0;

	if (!errs) {
		ib->st.failed++;
		return;
	}
	price_errors_init(errs);
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1)
		price_errors_add(errs, key, "required: a non-empty array");
	else if (cJSON_GetArraySize(arr) > CMD_BIND_MAX)
		price_errors_add(errs, key, "too many entries: %d > %d", cJSON_GetArraySize(arr),
				 CMD_BIND_MAX);
	else if ((bind && !ib->host->bind) || (!bind && !ib->host->unbind))
		price_errors_add(errs, "action", "not available on this gateway");
	list = errs->total ? NULL : arr;
	cJSON_ArrayForEach(e, list)
	{
		char at[64];
		const char *label = cJSON_GetStringValue(
			bind ? cJSON_GetObjectItemCaseSensitive(e, "label") : e);
		const char *sku = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "sku"));

		snprintf(at, sizeof(at), bind ? "%s[%zu].label" : "%s[%zu]", key, i);
		if (!label || !label_id_parse(label, canon))
			price_errors_add(errs, at, "must be a label id of 8 hex digits");
		snprintf(at, sizeof(at), "%s[%zu].sku", key, i);
		if (bind && !price_sku_valid(sku))
			price_errors_add(errs, at, "must be a SKU of 1..64 of [A-Za-z0-9._-]");
		i++;
	}
	dynbuf_init(&ej, ACK_MAX / 2);
	if (errs->total) {
		if (price_errors_json(errs, &ej) < 0)
			dynbuf_adds(&ej, "[]");
		log_warn("cmd %s: %s rejected: %zu error(s), first: %s: %s", ref,
			 bind ? "labels.bind" : "labels.unbind", errs->total, errs->e[0].at,
			 errs->e[0].error);
		ack_only(ib, ref, "rejected", ej.buf, NULL);
		goto out;
	}
	rc = ib->host->commit(ib->host->arg);
	if (!rc)
		rc = store_begin(ib->store);
	list = rc ? NULL : arr;
	cJSON_ArrayForEach(e, list)
	{
		if (bind) {
			rc = ib->host->bind(
				ib->host->arg,
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "label")),
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "sku")));
		} else {
			rc = ib->host->unbind(ib->host->arg, cJSON_GetStringValue(e));
			if (rc == -ENOENT)
				rc = 0; /* not bound anyway */
			else if (!rc)
				done++;
		}
		if (rc)
			break;
		if (bind)
			done++;
	}
	if (!rc)
		rc = pricebook_record(ib->pb, ref, "cmd", "applied");
	if (!rc)
		rc = ack_begin(ib, ref, "applied");
	if (!rc)
		rc = dynbuf_addf(&ib->ack, ",\"%s\":%zu", bind ? "bound" : "unbound", done);
	if (!rc)
		rc = ack_finish(ib, NULL);
	if (!rc)
		rc = commit(ib);
	if (rc) {
		fail(ib, ref, rc);
		goto out;
	}
	log_info("cmd %s: %zu label(s) %s", ref, done, bind ? "bound" : "unbound");
	count_status(ib, ref, "applied");
out:
	dynbuf_free(&ej);
	free(errs);
}

static const char *const content_names[] = {
	[INBOX_RECS] = "recs",
	[INBOX_RULES] = "rules.set",
	[INBOX_MARKDOWN] = "markdown.set",
};

/*
 * A recommendation set, rules.set or markdown.set: checked by the host,
 * deduplicated, then stored by the host in one transaction with the ack.
 */
static void on_content(struct inbox *ib, enum inbox_content kind, const char *payload, size_t len,
		       bool fleet)
{
	const struct inbox_host *h = ib->host;
	const char *what = content_names[kind];
	struct price_errors *errs = malloc(sizeof(*errs));
	char ref[PRICE_ID_MAX + 1] = "", seen[16];
	bool for_us = true, held;
	struct dynbuf ej;
	int rc;

	if (!errs) {
		log_err("inbox: out of memory for %s", what);
		ib->st.failed++;
		return;
	}
	memset(errs, 0, sizeof(*errs));
	if (!h->content_check || !h->content_stage || !h->content_done) {
		price_errors_add(errs, "", "not available on this gateway");
		rc = -EINVAL;
	} else {
		rc = h->content_check(h->arg, kind, payload, len, fleet, &for_us, errs, ref);
	}
	held = rc == 0;
	if (rc == -ENOMEM) {
		fail(ib, ref[0] ? ref : "(no id)", rc);
		goto out;
	}
	if (rc == 0 && !for_us) {
		log_debug("%s: fleet message %s is for other stores", what, ref);
		ib->st.ignored++;
		goto done;
	}
	if (ref[0]) {
		int s = pricebook_seen(ib->pb, ref, seen, sizeof(seen));

		if (s == 1) {
			char extra[64];

			snprintf(extra, sizeof(extra), ",\"original\":\"%s\"", seen);
			log_info("%s: %s again: duplicate (was %s)", what, ref, seen);
			ack_only(ib, ref, "duplicate", NULL, extra);
			goto done;
		}
		if (s < 0) {
			fail(ib, ref, s);
			goto done;
		}
	}
	if (rc == 0) {
		rc = h->commit(h->arg);
		if (!rc)
			rc = store_begin(ib->store);
		if (!rc)
			rc = ack_begin(ib, ref, "applied");
		if (!rc)
			rc = h->content_stage(h->arg, kind, &ib->ack, errs);
		if (!rc)
			rc = pricebook_record(ib->pb, ref, kind == INBOX_RECS ? "recs" : "cmd",
					      "applied");
		if (!rc)
			rc = ack_finish(ib, NULL);
		if (!rc)
			rc = commit(ib);
		if (!rc) {
			h->content_done(h->arg, kind, true);
			count_status(ib, ref, "applied");
			goto out;
		}
		if (rc != -ESTALE) {
			fail(ib, ref, rc);
			goto done;
		}
		store_rollback(ib->store);
	}
	/* Invalid, or not newer than what the gateway has: rejected, nothing changed. */
	dynbuf_init(&ej, ACK_MAX / 2);
	if (price_errors_json(errs, &ej) < 0)
		dynbuf_adds(&ej, "[{\"at\":\"\",\"error\":\"too many errors to list\"}]");
	log_warn("%s: %s rejected: %zu error%s, first: %s: %s", what, ref[0] ? ref : "(no id)",
		 errs->total, errs->total == 1 ? "" : "s",
		 errs->total && errs->e[0].at[0] ? errs->e[0].at : "(payload)",
		 errs->total ? errs->e[0].error : "?");
	ack_only(ib, ref, "rejected", ej.buf, NULL);
	dynbuf_free(&ej);
done:
	if (held)
		h->content_done(h->arg, kind, false);
out:
	free(errs);
}

/* Commands: {"id","issued_at","action",...}. */
static void on_cmd(struct inbox *ib, const char *payload, size_t len, bool fleet)
{
	cJSON *root = cJSON_ParseWithLength(payload, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(root, "action");
	const char *ref = "";
	char seen[16], *errors;

	if (cJSON_IsString(id) && id->valuestring[0] && strlen(id->valuestring) <= PRICE_ID_MAX)
		ref = id->valuestring;
	if (!cJSON_IsObject(root)) {
		errors = one_error("", "not a JSON object");
	} else if (!ref[0]) {
		errors = one_error("id", "required: a string of 1..128 bytes");
	} else if (pricebook_seen(ib->pb, ref, seen, sizeof(seen)) == 1) {
		char extra[64];

		snprintf(extra, sizeof(extra), ",\"original\":\"%s\"", seen);
		ack_only(ib, ref, "duplicate", NULL, extra);
		cJSON_Delete(root);
		return;
	} else if (!cJSON_IsString(action)) {
		errors = one_error("action", "required: a string");
	} else if (!strcmp(action->valuestring, "labels.bind") ||
		   !strcmp(action->valuestring, "labels.unbind")) {
		on_labels_cmd(ib, ref, root, !strcmp(action->valuestring, "labels.bind"));
		cJSON_Delete(root);
		return;
	} else if (!strcmp(action->valuestring, "rules.set") ||
		   !strcmp(action->valuestring, "markdown.set")) {
		enum inbox_content kind =
			action->valuestring[0] == 'r' ? INBOX_RULES : INBOX_MARKDOWN;

		cJSON_Delete(root);
		on_content(ib, kind, payload, len, fleet);
		return;
	} else {
		char msg[128];

		snprintf(msg, sizeof(msg), "unknown action \"%.64s\"", action->valuestring);
		errors = one_error("action", msg);
	}
	log_warn("cmd: %s rejected: %s", ref[0] ? ref : "(no id)", errors ? errors : "?");
	ack_only(ib, ref, "rejected", errors ? errors : "[]", NULL);
	free(errors);
	cJSON_Delete(root);
}

void inbox_message(struct inbox *ib, const char *topic, const void *payload, size_t len)
{
	bool fleet;

	ib->st.received++;
	switch (classify(ib, topic, &fleet)) {
	case T_PRICES:
		on_prices(ib, payload, len, fleet);
		break;
	case T_CMD:
		on_cmd(ib, payload, len, fleet);
		break;
	case T_RECS:
		on_content(ib, INBOX_RECS, payload, len, fleet);
		break;
	default:
		log_debug("inbox: ignoring a message on %s", topic);
		ib->st.ignored++;
		break;
	}
}

static void snapshot_done(void *arg, int status, const char *why, uint64_t bytes);

/* Reject snapshot batch @id for good: unschedule and ack with @at / @msg. */
/*
 * A scheduled batch (a snapshot) turned out unusable: unschedule it, record
 * its id and ack it "rejected" with @errs, in one transaction.
 */
static void reject_scheduled(struct inbox *ib, const char *id, const struct price_errors *errs)
{
	struct dynbuf ej;
	int rc;

	log_warn("prices: snapshot batch %s rejected: %zu error(s), first: %s%s%s", id, errs->total,
		 errs->e[0].at, errs->e[0].at[0] ? ": " : "", errs->e[0].error);
	dynbuf_init(&ej, ACK_MAX / 2);
	if (price_errors_json(errs, &ej) < 0)
		dynbuf_adds(&ej, "[]");
	rc = store_begin(ib->store);
	if (!rc)
		rc = pricebook_unschedule(ib->pb, id);
	if (!rc)
		rc = pricebook_record(ib->pb, id, "prices", "rejected");
	if (!rc)
		rc = ack_begin(ib, id, "rejected");
	if (!rc)
		rc = ack_finish(ib, ej.buf);
	if (!rc)
		rc = commit(ib);
	if (rc)
		fail(ib, id, rc);
	else
		count_status(ib, id, "rejected");
	dynbuf_free(&ej);
}

/* The same with one error, @at / @msg. */
static void snapshot_reject(struct inbox *ib, const char *id, const char *at, const char *msg)
{
	struct price_errors *errs = malloc(sizeof(*errs));

	if (!errs) {
		fail(ib, id, -ENOMEM);
		return;
	}
	price_errors_init(errs);
	price_errors_add(errs, at, "%s", msg);
	reject_scheduled(ib, id, errs);
	free(errs);
}

/* Start downloading the snapshot of batch @b (scheduled row @id). */
static void snapshot_start(struct inbox *ib, const struct price_batch *b, const char *id)
{
	struct fetch_req r = {0};
	int rc;

	if (ib->snap_id[0]) {
		/* One at a time: look again when the current one is done. */
		store_begin(ib->store);
		pricebook_reschedule(ib->pb, id, now_wall_ms() + SNAP_RETRY_MIN_MS);
		ib->host->commit(ib->host->arg);
		return;
	}
	if (!ib->fetch && fetch_new(ib->loop, &ib->fetch) < 0) {
		log_err("prices: cannot start the downloader");
		return;
	}
	snprintf(ib->snap_path, sizeof(ib->snap_path), "%s/snapshots/%s.json", ib->conf->data_dir,
		 b->snapshot_sha256);
	{
		char dir[sizeof(ib->snap_path)];

		snprintf(dir, sizeof(dir), "%s/snapshots", ib->conf->data_dir);
		mkdir(dir, 0750);
	}
	r.url = b->snapshot_url;
	r.ca_file = ib->conf->hq.tls_ca[0] ? ib->conf->hq.tls_ca : NULL;
	r.dest = ib->snap_path;
	r.max_bytes = (uint64_t)b->snapshot_size;
	r.expect_size = (uint64_t)b->snapshot_size;
	r.expect_sha256 = b->snapshot_sha256;
	/* Hold the row while the download runs; after a crash it is picked up again. */
	store_begin(ib->store);
	pricebook_reschedule(ib->pb, id, now_wall_ms() + SNAP_LEASE_MS);
	ib->host->commit(ib->host->arg);
	rc = fetch_start(ib->fetch, &r, snapshot_done, ib, &ib->snap_fetch_id);
	if (rc < 0) {
		log_err("prices: snapshot %s: cannot start the download: %s", id, strerror(-rc));
		return;
	}
	str_copy(ib->snap_id, sizeof(ib->snap_id), id);
	log_info("prices: snapshot %s: downloading %lld bytes", id, (long long)b->snapshot_size);
}

/* Read the downloaded file, check it, apply it as the whole price table. */
static void snapshot_apply(struct inbox *ib, const char *id)
{
	struct price_errors *errs = malloc(sizeof(*errs));
	struct price_batch hdr = {0}, snap = {0};
	struct pricebook_result r;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	pricebook_result_init(&r);
	if (!errs)
		goto out;
	/* The batch's own header (id, issued_at, currency) from its scheduled row. */
	if (pricebook_get_scheduled(ib->pb, id, &ib->due) != 1 ||
	    price_batch_validate(ib->due.buf, ib->due.len, &hdr, errs)) {
		log_err("prices: snapshot %s: its batch is gone", id);
		goto out;
	}
	f = fopen(ib->snap_path, "rb");
	if (f) {
		struct stat sb;

		if (fstat(fileno(f), &sb) == 0 && sb.st_size >= 0 &&
		    (uint64_t)sb.st_size <= PRICE_SNAPSHOT_MAX) {
			len = (size_t)sb.st_size;
			text = malloc(len ? len : 1);
			if (text && fread(text, 1, len, f) != len) {
				free(text);
				text = NULL;
			}
		}
		fclose(f);
	}
	if (!text) {
		snapshot_reject(ib, id, "snapshot", "the downloaded file cannot be read");
		goto out;
	}
	rc = price_snapshot_validate(text, len, &snap, errs);
	if (rc == -EINVAL) {
		reject_scheduled(ib, id, errs);
		goto out_free;
	}
	if (rc < 0) {
		log_err("prices: snapshot %s: %s", id, strerror(-rc));
		goto out_free;
	}
	/* The file's items under the batch's identity. */
	str_copy(snap.id, sizeof(snap.id), hdr.id);
	snap.issued_at_ms = hdr.issued_at_ms;
	memcpy(snap.currency, hdr.currency, sizeof(snap.currency));
	rc = ib->host->commit(ib->host->arg);
	if (!rc)
		rc = store_begin(ib->store);
	if (!rc)
		rc = apply_stream(ib, &snap, text, len, true, &r);
	if (!rc)
		rc = pricebook_unschedule(ib->pb, id);
	if (!rc)
		rc = pricebook_record(ib->pb, id, "prices", "applied");
	if (!rc)
		rc = ack_begin(ib, id, "applied");
	if (!rc)
		rc = ack_counts(ib, &r);
	if (!rc)
		rc = dynbuf_adds(&ib->ack, ",\"snapshot\":true");
	if (!rc)
		rc = ack_finish(ib, NULL);
	if (!rc)
		rc = commit(ib);
	if (rc) {
		fail(ib, id, rc);
		goto out_free;
	}
	log_info("prices: snapshot %s applied: %zu set, %zu removed (not in the catalogue), %zu "
		 "superseded",
		 id, r.applied, r.removed, r.superseded);
	count_status(ib, id, "applied");
	unlink(ib->snap_path);
out_free:
	price_batch_free(&snap);
out:
	free(text);
	price_batch_free(&hdr);
	pricebook_result_free(&r);
	free(errs);
}

static void snapshot_done(void *arg, int status, const char *why, uint64_t bytes)
{
	struct inbox *ib = arg;
	char id[PRICE_ID_MAX + 1];

	str_copy(id, sizeof(id), ib->snap_id);
	ib->snap_id[0] = '\0';
	if (status == 0) {
		ib->snap_failures = 0;
		snapshot_apply(ib, id);
	} else if (status == -EFBIG || status == -EBADMSG || status == -EPROTO) {
		/* The file itself is wrong: HQ must send another batch. */
		ib->snap_failures = 0;
		snapshot_reject(ib, id, "snapshot.url", why);
	} else {
		/* Network trouble: try again later, resuming what we have. */
		int64_t delay = SNAP_RETRY_MIN_MS;

		for (unsigned i = 0; i < ib->snap_failures && delay < SNAP_RETRY_MAX_MS; i++)
			delay *= 2;
		if (delay > SNAP_RETRY_MAX_MS)
			delay = SNAP_RETRY_MAX_MS;
		ib->snap_failures++;
		log_warn("prices: snapshot %s: download failed after %llu bytes (%s); retrying in "
			 "%lld s",
			 id, (unsigned long long)bytes, why, (long long)(delay / 1000));
		store_begin(ib->store);
		pricebook_reschedule(ib->pb, id, now_wall_ms() + delay);
		ib->host->commit(ib->host->arg);
	}
	arm_timer(ib);
}

void inbox_run_due(struct inbox *ib)
{
	char id[PRICE_ID_MAX + 1];
	struct price_errors *errs = NULL;
	bool fleet;
	int rc;

	for (;;) {
		struct price_batch b = {0};

		rc = pricebook_take_due(ib->pb, now_wall_ms(), &ib->due, id, sizeof(id), &fleet);
		if (rc <= 0)
			break;
		if (!errs)
			errs = malloc(sizeof(*errs));
		if (!errs)
			break;
		rc = price_batch_validate(ib->due.buf, ib->due.len, &b, errs);
		if (!rc && b.has_snapshot) {
			/* Its download holds the row (a lease), then applies it. */
			snapshot_start(ib, &b, id);
			price_batch_free(&b);
			continue;
		}
		if (!rc)
			rc = ib->host->commit(ib->host->arg);
		if (!rc)
			rc = store_begin(ib->store);
		if (!rc)
			rc = apply_batch(ib, &b, ib->due.buf, ib->due.len, true);
		if (!rc)
			rc = pricebook_unschedule(ib->pb, id);
		if (!rc)
			rc = commit(ib);
		if (rc == -EINVAL) {
			/* It was valid when it came: only a newer shelfd could see it so. */
			log_err("prices: scheduled batch %s no longer parses; dropping it", id);
			store_begin(ib->store);
			pricebook_unschedule(ib->pb, id);
			commit(ib);
		} else if (rc) {
			fail(ib, id, rc);
			price_batch_free(&b);
			break; /* retried by the timer */
		} else {
			count_status(ib, id, "applied");
		}
		price_batch_free(&b);
	}
	free(errs);
	arm_timer(ib);
}

static void due_timer(struct loop *l, void *arg)
{
	struct inbox *ib = arg;

	ib->timer = 0;
	inbox_run_due(ib);
}

static void arm_timer(struct inbox *ib)
{
	int64_t when, delay;
	int rc;

	loop_timer_del(ib->loop, ib->timer);
	ib->timer = 0;
	rc = pricebook_next_due(ib->pb, &when);
	if (rc < 0) {
		delay = INBOX_RECHECK_MS; /* try again later */
	} else if (rc == 0) {
		return;
	} else {
		delay = when - now_wall_ms();
		if (delay < 0)
			delay = 0;
		if (delay > INBOX_RECHECK_MS)
			delay = INBOX_RECHECK_MS;
	}
	ib->timer = loop_timer_add(ib->loop, delay, due_timer, ib);
}

static int topic(char *buf, const char *prefix, const char *who, const char *what)
{
	int n = snprintf(buf, INBOX_TOPIC_MAX, "%s/%s/%s", prefix, who, what);

	return (n < 0 || n >= INBOX_TOPIC_MAX) ? -EINVAL : 0;
}

int inbox_new(const struct config *conf, struct loop *loop, struct store *store,
	      struct pricebook *pb, const struct inbox_host *host, struct inbox **out)
{
	struct inbox *ib = calloc(1, sizeof(*ib));
	const char *p = conf->hq.topic_prefix;

	*out = NULL;
	if (!ib)
		return -ENOMEM;
	if (topic(ib->t_prices, p, conf->store_id, "prices") ||
	    topic(ib->t_fleet_prices, p, "fleet", "prices") ||
	    topic(ib->t_cmd, p, conf->store_id, "cmd") ||
	    topic(ib->t_fleet_cmd, p, "fleet", "cmd") ||
	    topic(ib->t_recs, p, conf->store_id, "recs") ||
	    topic(ib->t_fleet_recs, p, "fleet", "recs")) {
		free(ib);
		return -EINVAL;
	}
	ib->conf = conf;
	ib->loop = loop;
	ib->store = store;
	ib->pb = pb;
	ib->host = host;
	dynbuf_init(&ib->ack, ACK_MAX);
	dynbuf_init(&ib->changed, CHANGED_MAX);
	dynbuf_init(&ib->due, PRICE_BATCH_MAX);
	/* Batches that fell due while we were down are applied right away. */
	ib->timer = loop_timer_add(loop, 0, due_timer, ib);
	*out = ib;
	return 0;
}

void inbox_free(struct inbox *ib)
{
	if (!ib)
		return;
	loop_timer_del(ib->loop, ib->timer);
	fetch_free(ib->fetch);
	dynbuf_free(&ib->ack);
	dynbuf_free(&ib->changed);
	dynbuf_free(&ib->due);
	free(ib);
}

void inbox_get_stats(const struct inbox *ib, struct inbox_stats *st)
{
	*st = ib->st;
}
