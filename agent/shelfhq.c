/*
 * shelfhq: the HQ engineer's tool. Publishes a price batch to one store, a
 * list of stores or the whole fleet, then waits for each store's ack and
 * prints, per store, applied / scheduled / duplicate / rejected (with the
 * errors) / no answer.
 *
 *   shelfhq [connection options] prices FILE (--store S | --stores S1,S2 | --fleet)
 *           [--id ID] [--currency CUR] [--effective-at TS] [--timeout SECS] [--json]
 *
 * FILE is a batch in JSON (the DESIGN §5.1 payload; id and issued_at are
 * filled in when missing) or CSV with a header line naming the columns:
 *   sku, and either price (major units with the currency's decimals, e.g.
 *   12.90) or price_minor (integer minor units, e.g. 1290), and optionally
 *   regular / regular_minor, name, unit, promo_until.
 * The batch is validated here with the gateway's own validator before
 * anything is sent, so a bad file never reaches a store.
 *
 * The stores to hear from: the listed ones, or for --fleet every store with
 * a retained status message (online or offline) unless --stores narrows it
 * (then the fleet batch carries a "stores" filter).
 *
 * Exit: 0 every store applied or scheduled it (or had it already), 1 some
 * store rejected it or did not answer within the timeout, 2 usage or a bad
 * file, 3 the broker is unreachable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "json.h"
#include "prices.h"
#include "util.h"

#define MAX_STORES 10000
#define FILE_MAX (64u * 1024 * 1024)
#define TOPIC_MAX 256

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct store_ack {
	char store[65];
	char status[16]; /* "" = no answer yet */
	char *errors; /* JSON text of the errors array, malloc'd */
	int64_t applied, superseded;
	bool online; /* from the retained status, fleet discovery only */
};

struct hq {
	const char *host;
	int port;
	const char *prefix;
	const char *ca, *cert, *key, *user, *password_file;
	struct mosquitto *mosq;
	bool connected, subscribed, failed;
	int pending_subs;
	char conn_error[200];

	const char *id;
	bool discover; /* collect stores from retained status messages */
	struct store_ack *stores;
	size_t n_stores;
	size_t answered;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shelfhq [-H HOST] [-p PORT] [--prefix P] [--ca FILE] [--cert FILE --key "
		   "FILE]\n"
		   "               [-u USER] [--password-file FILE]\n"
		   "               prices FILE (--store S | --stores S1,S2,... | --fleet)\n"
		   "               [--id ID] [--currency CUR] [--effective-at RFC3339] [--timeout "
		   "SECS]\n"
		   "               [--json]\n"
		   "FILE: a JSON price batch, or CSV with a header: sku,price|price_minor"
		   "[,regular|regular_minor,name,unit,promo_until]\n"
		   "exit: 0 all applied/scheduled, 1 rejected or no answer, 2 usage/bad file, 3 "
		   "broker "
		   "unreachable\n");
}

static struct store_ack *find_store(struct hq *h, const char *store)
{
	for (size_t i = 0; i < h->n_stores; i++) {
		if (!strcmp(h->stores[i].store, store))
			return &h->stores[i];
	}
	return NULL;
}

static struct store_ack *add_store(struct hq *h, const char *store)
{
	struct store_ack *s = find_store(h, store);

	if (s)
		return s;
	if (h->n_stores == MAX_STORES)
		return NULL;
	s = &h->stores[h->n_stores++];
	memset(s, 0, sizeof(*s));
	str_copy(s->store, sizeof(s->store), store);
	return s;
}

/* "shelf/v1/S042/acks" -> "S042" when it has our prefix and @leaf. */
static bool store_of_topic(const struct hq *h, const char *topic, const char *leaf, char *out,
			   size_t sz)
{
	size_t pl = strlen(h->prefix), ll = strlen(leaf), tl = strlen(topic);

	if (tl <= pl + ll + 2 || strncmp(topic, h->prefix, pl) || topic[pl] != '/' ||
	    strcmp(topic + tl - ll, leaf) || topic[tl - ll - 1] != '/')
		return false;
	if (tl - ll - 1 - (pl + 1) >= sz)
		return false;
	memcpy(out, topic + pl + 1, tl - ll - 1 - (pl + 1));
	out[tl - ll - 1 - (pl + 1)] = '\0';
	return !strchr(out, '/');
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct hq *h = arg;
	char store[65];
	cJSON *body;

	if (!msg->payloadlen)
		return;
	body = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	if (!body)
		return;
	if (h->discover && msg->retain &&
	    store_of_topic(h, msg->topic, "status", store, sizeof(store))) {
		struct store_ack *s = add_store(h, store);
		const char *state =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "state"));

		if (s)
			s->online = state && !strcmp(state, "online");
	} else if (store_of_topic(h, msg->topic, "acks", store, sizeof(store))) {
		const char *ref =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "ref"));
		const char *status =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "status"));
		struct store_ack *s = find_store(h, store);

		/* The first answer counts; a scheduled batch is acked again when applied. */
		if (s && ref && status && !strcmp(ref, h->id) &&
		    (!s->status[0] || !strcmp(s->status, "scheduled"))) {
			if (!s->status[0])
				h->answered++;
			str_copy(s->status, sizeof(s->status), status);
			json_get_int(body, "applied", &s->applied);
			json_get_int(body, "superseded_count", &s->superseded);
			free(s->errors);
			s->errors = cJSON_PrintUnformatted(
				cJSON_GetObjectItemCaseSensitive(body, "errors"));
		}
	}
	cJSON_Delete(body);
}

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct hq *h = arg;
	char t[TOPIC_MAX];

	if (rc) {
		snprintf(h->conn_error, sizeof(h->conn_error), "broker refused: %s",
			 mosquitto_connack_string(rc));
		h->failed = true;
		return;
	}
	h->connected = true;
	snprintf(t, sizeof(t), "%s/+/acks", h->prefix);
	mosquitto_subscribe(m, NULL, t, 1);
	h->pending_subs = 1;
	if (h->discover) {
		snprintf(t, sizeof(t), "%s/+/status", h->prefix);
		mosquitto_subscribe(m, NULL, t, 1);
		h->pending_subs++;
	}
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int n, const int *qos)
{
	struct hq *h = arg;

	if (--h->pending_subs <= 0)
		h->subscribed = true;
}

/* Run the network loop for @ms or until @done(h). */
static void pump(struct hq *h, int64_t ms, bool (*done)(struct hq *h))
{
	int64_t end = now_mono_ms() + ms;

	while (now_mono_ms() < end && !(done && done(h)) && !h->failed) {
		int rc = mosquitto_loop(h->mosq, 100, 1);

		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
			snprintf(h->conn_error, sizeof(h->conn_error), "%s",
				 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
			mosquitto_reconnect(h->mosq);
		}
	}
}

static bool is_subscribed(struct hq *h)
{
	return h->subscribed;
}

static bool all_answered(struct hq *h)
{
	for (size_t i = 0; i < h->n_stores; i++) {
		/* scheduled is an answer, but wait a little for a quick apply: no */
		if (!h->stores[i].status[0])
			return false;
	}
	return true;
}

static int hq_connect(struct hq *h)
{
	char id[64];
	int rc;

	snprintf(id, sizeof(id), "shelfhq-%d-%lld", (int)getpid(), (long long)now_wall_ms());
	h->mosq = mosquitto_new(id, true, h);
	if (!h->mosq)
		return -ENOMEM;
	mosquitto_int_option(h->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_connect_callback_set(h->mosq, on_connect);
	mosquitto_subscribe_callback_set(h->mosq, on_subscribe);
	mosquitto_message_callback_set(h->mosq, on_message);
	if (h->ca && mosquitto_tls_set(h->mosq, h->ca, NULL, h->cert, h->key, NULL))
		return -EINVAL;
	if (h->user) {
		char pw[256] = "";

		if (h->password_file) {
			FILE *f = fopen(h->password_file, "r");

			if (!f || !fgets(pw, sizeof(pw), f)) {
				fprintf(stderr, "shelfhq: cannot read %s\n", h->password_file);
				if (f)
					fclose(f);
				return -EINVAL;
			}
			fclose(f);
			pw[strcspn(pw, "\r\n")] = '\0';
		}
		mosquitto_username_pw_set(h->mosq, h->user, pw[0] ? pw : NULL);
		memset(pw, 0, sizeof(pw));
	}
	rc = mosquitto_connect(h->mosq, h->host, h->port, 30);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(h->conn_error, sizeof(h->conn_error), "%s",
			 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -ECONNREFUSED;
	}
	pump(h, 10000, is_subscribed);
	return h->subscribed ? 0 : -ECONNREFUSED;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct dynbuf d;
	char buf[65536];
	size_t n;

	if (!f)
		return NULL;
	dynbuf_init(&d, FILE_MAX);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (dynbuf_add(&d, buf, n) < 0) {
			fclose(f);
			dynbuf_free(&d);
			errno = EFBIG;
			return NULL;
		}
	}
	fclose(f);
	*len = d.len;
	if (!d.buf)
		return strdup("");
	return d.buf;
}

/* ISO 4217 minor-unit exponent for the few currencies that are not 2. */
static int currency_exponent(const char *cur)
{
	static const char *const zero[] = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"};
	static const char *const three[] = {"BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"};

	for (size_t i = 0; i < ARRAY_SIZE(zero); i++)
		if (!strcmp(cur, zero[i]))
			return 0;
	for (size_t i = 0; i < ARRAY_SIZE(three); i++)
		if (!strcmp(cur, three[i]))
			return 3;
	return 2;
}

/* "12.90" with exponent 2 -> 1290, exactly (no floating point). */
static int parse_major(const char *s, int exp, int64_t *out)
{
	int64_t v = 0;
	int frac = -1;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || frac >= exp || v > PRICE_MONEY_MAX)
			return -EINVAL;
		v = v * 10 + (*s - '0');
		if (frac >= 0)
			frac++;
	}
	for (int k = frac < 0 ? 0 : frac; k < exp; k++)
		v *= 10;
	*out = v;
	return 0;
}

/* Split one CSV line (quotes allowed, "" = a quote) into at most @max fields, in place. */
static size_t csv_split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line, *w;

	while (n < max) {
		bool q = *p == '"';

		f[n++] = w = q ? ++p : p;
		for (;;) {
			if (q && *p == '"' && p[1] == '"') {
				*w++ = '"';
				p += 2;
			} else if (q && *p == '"') {
				q = false;
				p++;
			} else if (!*p || (!q && *p == ',')) {
				break;
			} else {
				*w++ = *p++;
			}
		}
		if (!*p) {
			*w = '\0';
			break;
		}
		*w = '\0';
		p++;
	}
	return n;
}

/* CSV -> a batch JSON object. On error prints "FILE:LINE: ..." and returns NULL. */
static cJSON *csv_to_batch(const char *path, char *text, const char *currency)
{
	enum { C_SKU, C_PRICE, C_PRICE_MINOR, C_REG, C_REG_MINOR, C_NAME, C_UNIT, C_PROMO, C_N };
	static const char *const names[C_N] = {"sku",	  "price",	   "price_minor",
					       "regular", "regular_minor", "name",
					       "unit",	  "promo_until"};
	int col[C_N];
	char *fields[64], *save = NULL, *line;
	cJSON *batch = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(batch, "items");
	int exp = currency_exponent(currency);
	size_t lineno = 0, nf;

	for (int i = 0; i < C_N; i++)
		col[i] = -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *it;

		lineno++;
		line[strcspn(line, "\r")] = '\0';
		if (!line[0])
			continue;
		nf = csv_split(line, fields, ARRAY_SIZE(fields));
		if (col[C_SKU] < 0) {
			for (size_t i = 0; i < nf; i++)
				for (int c = 0; c < C_N; c++)
					if (!strcmp(fields[i], names[c]))
						col[c] = (int)i;
			if (col[C_SKU] < 0 || (col[C_PRICE] < 0) == (col[C_PRICE_MINOR] < 0)) {
				fprintf(stderr,
					"shelfhq: %s:1: the header must name sku and exactly one "
					"of "
					"price (major units) or price_minor (minor units)\n",
					path);
				goto err;
			}
			continue;
		}
		it = cJSON_CreateObject();
		cJSON_AddItemToArray(items, it);
		for (int c = 0; c < C_N; c++) {
			const char *v = col[c] >= 0 && (size_t)col[c] < nf ? fields[col[c]] : "";
			int64_t money;
			long long ll;

			if (!v[0])
				continue;
			switch (c) {
			case C_PRICE:
			case C_REG:
				if (parse_major(v, exp, &money) < 0) {
					fprintf(stderr,
						"shelfhq: %s:%zu: %s \"%s\" is not an amount with "
						"at "
						"most %d decimals for %s\n",
						path, lineno, names[c], v, exp, currency);
					goto err;
				}
				json_add_int(it, c == C_PRICE ? "price" : "regular", money);
				break;
			case C_PRICE_MINOR:
			case C_REG_MINOR:
				if (parse_ll(v, 0, PRICE_MONEY_MAX, &ll) < 0) {
					fprintf(stderr,
						"shelfhq: %s:%zu: %s \"%s\" is not a whole number "
						"of "
						"minor units\n",
						path, lineno, names[c], v);
					goto err;
				}
				json_add_int(it, c == C_PRICE_MINOR ? "price" : "regular", ll);
				break;
			default:
				cJSON_AddStringToObject(it, names[c], v);
			}
		}
	}
	return batch;
err:
	cJSON_Delete(batch);
	return NULL;
}

static void split_list(char *s, char **out, size_t *n, size_t max)
{
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t && *n < max; t = strtok_r(NULL, ",", &save))
		if (*t)
			out[(*n)++] = t;
}

static void print_report(struct hq *h, bool json)
{
	cJSON *arr = json ? cJSON_CreateArray() : NULL;

	if (!json)
		printf("%-20s %-10s %s\n", "STORE", "STATUS", "DETAIL");
	for (size_t i = 0; i < h->n_stores; i++) {
		struct store_ack *s = &h->stores[i];
		const char *st = s->status[0] ? s->status : "no answer";

		if (json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "store", s->store);
			cJSON_AddStringToObject(o, "status", st);
			if (s->errors)
				cJSON_AddItemToObject(o, "errors", cJSON_Parse(s->errors));
			json_add_int(o, "applied", s->applied);
			json_add_int(o, "superseded", s->superseded);
			cJSON_AddItemToArray(arr, o);
			continue;
		}
		if (!strcmp(st, "rejected"))
			printf("%-20s %-10s %s\n", s->store, st, s->errors ? s->errors : "");
		else if (!strcmp(st, "applied") || !strcmp(st, "duplicate"))
			printf("%-20s %-10s %" PRId64 " set, %" PRId64
			       " superseded by newer prices\n",
			       s->store, st, s->applied, s->superseded);
		else if (!s->status[0] && h->discover && !s->online)
			printf("%-20s %-10s store offline (its retained status says so)\n",
			       s->store, st);
		else
			printf("%-20s %-10s\n", s->store, st);
	}
	if (json) {
		char *out;

		json_ints_to_raw(arr);
		out = cJSON_Print(arr);
		puts(out ? out : "[]");
		free(out);
		cJSON_Delete(arr);
	}
}

int main(int argc, char **argv)
{
	struct hq h = {.host = "127.0.0.1", .port = 1883, .prefix = "shelf/v1"};
	const char *file = NULL, *single = NULL, *id = NULL, *currency = NULL, *eff = NULL;
	char *store_list = NULL, *stores[MAX_STORES / 10];
	size_t n_list = 0, len = 0, ok = 0;
	bool fleet = false, json = false;
	long long timeout = 60;
	char idbuf[80], ts[TS_BUFSZ], topic[TOPIC_MAX];
	struct price_errors *errs = NULL;
	struct price_batch b = {0};
	cJSON *batch = NULL;
	char *text, *payload = NULL;
	int i, rc, exit_code = EXIT_OK;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long long ll;

#define OPT(name) (!strcmp(a, name) && v && (i++, true))
		if (OPT("-H")) {
			h.host = v;
		} else if (OPT("-p")) {
			if (parse_ll(v, 1, 65535, &ll) < 0)
				goto usage;
			h.port = (int)ll;
		} else if (OPT("--prefix")) {
			h.prefix = v;
		} else if (OPT("--ca")) {
			h.ca = v;
		} else if (OPT("--cert")) {
			h.cert = v;
		} else if (OPT("--key")) {
			h.key = v;
		} else if (OPT("-u")) {
			h.user = v;
		} else if (OPT("--password-file")) {
			h.password_file = v;
		} else if (OPT("--store")) {
			single = v;
		} else if (OPT("--stores")) {
			store_list = strdup(v);
		} else if (!strcmp(a, "--fleet")) {
			fleet = true;
		} else if (OPT("--id")) {
			id = v;
		} else if (OPT("--currency")) {
			currency = v;
		} else if (OPT("--effective-at")) {
			eff = v;
		} else if (OPT("--timeout")) {
			if (parse_ll(v, 1, 86400, &timeout) < 0)
				goto usage;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "prices") && v && !file) {
			file = v;
			i++;
		} else {
			fprintf(stderr, "shelfhq: unexpected argument \"%s\"\n", a);
			goto usage;
		}
#undef OPT
	}
	if (!file || (!!single + !!store_list + fleet != 1 && !(fleet && store_list)))
		goto usage;
	if (store_list)
		split_list(store_list, stores, &n_list, ARRAY_SIZE(stores));
	if (single)
		stores[n_list++] = (char *)single;

	/* The batch: from the file, completed, validated with the gateway's own rules. */
	text = read_file(file, &len);
	if (!text) {
		fprintf(stderr, "shelfhq: %s: %s\n", file, strerror(errno));
		exit_code = EXIT_USAGE;
		goto out;
	}
	if (len && text[0] == '{') {
		batch = cJSON_ParseWithLength(text, len);
		if (!batch)
			fprintf(stderr, "shelfhq: %s: not valid JSON\n", file);
	} else {
		batch = csv_to_batch(file, text, currency ? currency : "EUR");
	}
	free(text);
	if (!batch) {
		exit_code = EXIT_USAGE;
		goto out;
	}
	if (!cJSON_GetObjectItemCaseSensitive(batch, "id")) {
		snprintf(idbuf, sizeof(idbuf), "hq-%lld-%d", (long long)now_wall_ms(),
			 (int)getpid());
		cJSON_AddStringToObject(batch, "id", id ? id : idbuf);
	} else if (id) {
		cJSON_ReplaceItemInObjectCaseSensitive(batch, "id", cJSON_CreateString(id));
	}
	if (!cJSON_GetObjectItemCaseSensitive(batch, "issued_at")) {
		ts_format(now_wall_ms(), ts);
		cJSON_AddStringToObject(batch, "issued_at", ts);
	}
	if (!cJSON_GetObjectItemCaseSensitive(batch, "currency"))
		cJSON_AddStringToObject(batch, "currency", currency ? currency : "EUR");
	if (eff)
		cJSON_AddStringToObject(batch, "effective_at", eff);
	if (fleet && n_list) {
		cJSON *arr = cJSON_AddArrayToObject(batch, "stores");

		for (size_t k = 0; k < n_list; k++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(stores[k]));
	}
	json_ints_to_raw(batch);
	payload = cJSON_PrintUnformatted(batch);
	cJSON_Delete(batch);
	errs = malloc(sizeof(*errs));
	if (!payload || !errs) {
		exit_code = EXIT_FAIL;
		goto out;
	}
	rc = price_batch_parse(payload, strlen(payload), &b, errs);
	if (rc < 0) {
		fprintf(stderr, "shelfhq: %s: the batch is invalid (%zu error%s); nothing sent\n",
			file, errs->total, errs->total == 1 ? "" : "s");
		for (size_t k = 0; k < errs->n; k++)
			fprintf(stderr, "  %s: %s\n", errs->e[k].at[0] ? errs->e[k].at : "(batch)",
				errs->e[k].error);
		exit_code = EXIT_USAGE;
		goto out;
	}
	h.id = b.id;

	h.stores = calloc(MAX_STORES, sizeof(*h.stores));
	if (!h.stores) {
		exit_code = EXIT_FAIL;
		goto out;
	}
	for (size_t k = 0; k < n_list; k++)
		add_store(&h, stores[k]);
	h.discover = fleet && !n_list;
	mosquitto_lib_init();
	if (hq_connect(&h) < 0) {
		fprintf(stderr, "shelfhq: cannot reach the broker %s:%d: %s\n", h.host, h.port,
			h.conn_error[0] ? h.conn_error : "no answer");
		exit_code = EXIT_UNREACHABLE;
		goto out;
	}
	if (h.discover) {
		/* Retained status messages arrive right after the subscription. */
		pump(&h, 1500, NULL);
		if (!h.n_stores) {
			fprintf(stderr,
				"shelfhq: no store has a status on %s/+/status: nothing to "
				"expect answers from (use --stores)\n",
				h.prefix);
			exit_code = EXIT_FAIL;
			goto out;
		}
	}
	if (fleet) {
		snprintf(topic, sizeof(topic), "%s/fleet/prices", h.prefix);
		mosquitto_publish(h.mosq, NULL, topic, (int)strlen(payload), payload, 1, false);
	} else {
		for (size_t k = 0; k < h.n_stores; k++) {
			snprintf(topic, sizeof(topic), "%s/%s/prices", h.prefix, h.stores[k].store);
			mosquitto_publish(h.mosq, NULL, topic, (int)strlen(payload), payload, 1,
					  false);
		}
	}
	fprintf(stderr, "shelfhq: batch %s (%zu items, %zu removals) sent to %zu store%s\n", b.id,
		b.n_items, b.n_remove, h.n_stores, h.n_stores == 1 ? "" : "s");
	for (int64_t end = now_mono_ms() + timeout * 1000; now_mono_ms() < end;) {
		pump(&h, 250, all_answered);
		if (isatty(2))
			fprintf(stderr, "\r%zu/%zu stores answered", h.answered, h.n_stores);
		if (all_answered(&h))
			break;
	}
	if (isatty(2))
		fprintf(stderr, "\n");
	print_report(&h, json);
	for (size_t k = 0; k < h.n_stores; k++) {
		const char *st = h.stores[k].status;

		if (!strcmp(st, "applied") || !strcmp(st, "scheduled") || !strcmp(st, "duplicate"))
			ok++;
	}
	if (ok != h.n_stores)
		exit_code = EXIT_FAIL;
	if (!json)
		printf("%zu of %zu store(s) took batch %s\n", ok, h.n_stores, b.id);
	mosquitto_disconnect(h.mosq);
out:
	if (h.mosq) {
		mosquitto_destroy(h.mosq);
		mosquitto_lib_cleanup();
	}
	for (size_t k = 0; h.stores && k < h.n_stores; k++)
		free(h.stores[k].errors);
	free(h.stores);
	price_batch_free(&b);
	free(errs);
	free(payload);
	free(store_list);
	return exit_code;
usage:
	usage(stderr);
	exit_code = EXIT_USAGE;
	goto out;
}
