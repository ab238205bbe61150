/*
 * config: load, parse and validate the daemon's JSON configuration
 * (DESIGN §5.3).
 *
 * The text is copied, its comments are blanked out in place (bytes replaced
 * by spaces, newlines kept, so a syntax error's line and column still point
 * into the file as written), then cJSON parses it and a schema walk checks
 * every key. Validation never stops at the first problem: each error is
 * recorded with its JSON path and the walk goes on, so one run of
 * `shelfd --check-config` shows everything that is wrong.
 *
 * No state outlives a call: everything lives in the caller's structs, the
 * stack, and one heap copy of the text freed before returning.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "log.h"
#include "serial.h"
#include "util.h"

/* A configuration file larger than this is refused unread. */
#define CONF_FILE_MAX (1024 * 1024)
/* Size of a JSON path buffer (struct config_error.path). */
#define PATH_SZ sizeof(((struct config_error *)NULL)->path)
/* Size of a "got ..." rendering of an offending value. */
#define GOT_SZ 64
/* Longest string value quoted in full in a message. */
#define GOT_STR_MAX 40

/* get_*() flags */
#define F_REQ 0x1u /* the key must be present */
#define F_NONEMPTY 0x2u /* a string must not be "" */

#define K(kind) (1u << (kind))
#define K_SERIAL (K(DEV_POS) | K(DEV_PROBE) | K(DEV_ESL))
#define K_ALL (K(DEV_POS) | K(DEV_PROBE) | K(DEV_CAMERA) | K(DEV_ESL) | K(DEV_SCREEN))

/* A key an object may hold; @kinds says which device kinds take it. */
struct key_spec {
	const char *name;
	unsigned kinds;
};

static const struct key_spec top_keys[] = {
	{"store_id", K_ALL},   {"data_dir", K_ALL}, {"control_socket", K_ALL}, {"log_level", K_ALL},
	{"log_target", K_ALL}, {"hq", K_ALL},	    {"outbox", K_ALL},	       {"devices", K_ALL},
	{"prices", K_ALL},     {"sensing", K_ALL},  {"screens", K_ALL},
};

static const struct key_spec screens_keys[] = {
	{"timeout_ms", K_ALL},
	{"backoff_min_ms", K_ALL},
	{"backoff_max_ms", K_ALL},
	{"zone_rise_min", K_ALL},
};

static const struct key_spec sensing_keys[] = {
	{"rssi_in", K_ALL},
	{"silence_min", K_ALL},
	{"passer_max_min", K_ALL},
	{"engaged_min", K_ALL},
	{"staff_dwell_min", K_ALL},
	{"staff_share_pct", K_ALL},
	{"open", K_ALL},
	{"close", K_ALL},
	{"interval_min", K_ALL},
	{"repeat_days", K_ALL},
	{"max_sessions", K_ALL},
	{"entrance_zone", K_ALL},
	{"clock", K_ALL},
	{"silent_alert_min", K_ALL},
};

static const char *const clock_names[] = {"gateway", "devices"};

static const struct key_spec prices_keys[] = {
	{"snapshot_missing", K_ALL},
	{"label_summary_min", K_ALL},
};

static const char *const missing_names[] = {"not_for_sale", "keep"};

static const struct key_spec hq_keys[] = {
	{"host", K_ALL},
	{"port", K_ALL},
	{"keepalive", K_ALL},
	{"topic_prefix", K_ALL},
	{"tls", K_ALL},
	{"username", K_ALL},
	{"password_file", K_ALL},
	{"batch_max_events", K_ALL},
	{"batch_max_bytes", K_ALL},
	{"max_inflight", K_ALL},
	{"backoff_min_ms", K_ALL},
	{"backoff_max_ms", K_ALL},
};

static const struct key_spec tls_keys[] = {
	{"ca", K_ALL},
	{"cert", K_ALL},
	{"key", K_ALL},
};

static const struct key_spec outbox_keys[] = {
	{"max_mb", K_ALL},
	{"sync", K_ALL},
};

static const struct key_spec dev_keys[] = {
	{"name", K_ALL},
	{"kind", K_ALL},
	{"port", K_SERIAL},
	{"baud", K_SERIAL},
	{"format", K(DEV_POS)},
	{"chip", K(DEV_CAMERA)},
	{"line_a", K(DEV_CAMERA)},
	{"line_b", K(DEV_CAMERA)},
	{"active_low", K(DEV_CAMERA)},
	{"debounce_ms", K(DEV_CAMERA)},
	{"zone", K(DEV_CAMERA) | K(DEV_SCREEN) | K(DEV_PROBE)},
	{"url", K(DEV_SCREEN)},
	{"tills", K(DEV_SCREEN)},
	{"max_items", K(DEV_SCREEN)},
};

static const char *const kind_names[] = {
	[DEV_POS] = "pos", [DEV_PROBE] = "probe",   [DEV_CAMERA] = "camera",
	[DEV_ESL] = "esl", [DEV_SCREEN] = "screen",
};

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const target_names[] = {"stderr", "syslog"};
static const char *const sync_names[] = {"full", "normal"};
static const char *const format_names[] = {"jsonl"};

/* What the duplicate checks may rely on for one stored device. */
struct dev_ok {
	bool name; /* name valid */
	bool port; /* serial device with a valid port */
	bool line_a; /* camera with a valid chip and line_a */
	bool line_b; /* ... and a valid line_b */
};

const char *dev_kind_name(enum dev_kind k)
{
	if ((unsigned)k >= ARRAY_SIZE(kind_names))
		return "unknown";
	return kind_names[k];
}

/* Cut a trailing incomplete UTF-8 sequence off @s (left by a truncation). */
static void utf8_cut(char *s)
{
	size_t len = strlen(s), i = len, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	if (lead < 0xc0)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (len - (i - 1) < need)
		s[i - 1] = '\0';
}

/* Replace control characters so an error line cannot drive a terminal. */
static void sanitize(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
}

static void conf_err(struct config_errors *errs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record one error (counted always, stored while there is room). */
static void conf_err(struct config_errors *errs, const char *path, const char *fmt, ...)
{
	struct config_error *e;
	va_list ap;

	errs->n_total++;
	if (errs->n >= CONF_MAX_ERRORS)
		return;
	e = &errs->e[errs->n++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	utf8_cut(e->path);
	utf8_cut(e->msg);
	sanitize(e->path);
	sanitize(e->msg);
}

/* Append @s to the path @out of length @len, truncating at PATH_SZ. */
static size_t path_append(char *out, size_t len, const char *s)
{
	while (*s && len < PATH_SZ - 1)
		out[len++] = *s++;
	out[len] = '\0';
	return len;
}

/* @out = "@parent.@key" (a path is for people: a long one is cut short) */
static void path_key(char *out, const char *parent, const char *key)
{
	size_t len = path_append(out, 0, parent);

	len = path_append(out, len, ".");
	path_append(out, len, key);
}

/* @out = "@parent[@i]" */
static void path_idx(char *out, const char *parent, size_t i)
{
	char idx[24];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	path_append(out, path_append(out, 0, parent), idx);
}

/* Quote @s for a message, shortened to GOT_STR_MAX bytes. */
static void describe_str(const char *s, char *out, size_t sz)
{
	char head[GOT_STR_MAX + 1];

	snprintf(head, sizeof(head), "%s", s);
	utf8_cut(head);
	snprintf(out, sz, "\"%s%s\"", head, strlen(s) > GOT_STR_MAX ? "..." : "");
}

/* Render the value @v for a "got ..." clause. */
static void describe(const cJSON *v, char *out, size_t sz)
{
	double d;

	if (cJSON_IsString(v)) {
		describe_str(v->valuestring, out, sz);
	} else if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d >= -1e15 && d <= 1e15 && d == (double)(long long)d)
			snprintf(out, sz, "%lld", (long long)d);
		else
			snprintf(out, sz, "%.15g", d);
	} else if (cJSON_IsTrue(v)) {
		snprintf(out, sz, "true");
	} else if (cJSON_IsFalse(v)) {
		snprintf(out, sz, "false");
	} else if (cJSON_IsNull(v)) {
		snprintf(out, sz, "null");
	} else if (cJSON_IsArray(v)) {
		snprintf(out, sz, "an array");
	} else if (cJSON_IsObject(v)) {
		snprintf(out, sz, "an object");
	} else {
		snprintf(out, sz, "an invalid value");
	}
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/*
 * Case-insensitive optimal-string-alignment distance between @a and the
 * short key @b (transposing two letters counts as one edit). Returns
 * SIZE_MAX when @b is too long to compare, and a lower bound once the
 * lengths alone rule out a close match.
 */
static size_t edit_distance(const char *a, const char *b)
{
	size_t rows[3][33];
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t *pp, *p, *cur;

	if (lb >= ARRAY_SIZE(rows[0]))
		return SIZE_MAX;
	if (la > lb + 3)
		return la - lb;
	for (j = 0; j <= lb; j++)
		rows[1][j] = j;
	for (i = 1; i <= la; i++) {
		pp = rows[(i + 2) % 3];
		p = rows[i % 3];
		cur = rows[(i + 1) % 3];
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = ascii_lower(a[i - 1]) != ascii_lower(b[j - 1]);

			cur[j] = min3(p[j] + 1, cur[j - 1] + 1, p[j - 1] + cost);
			if (i > 1 && j > 1 && ascii_lower(a[i - 1]) == ascii_lower(b[j - 2]) &&
			    ascii_lower(a[i - 2]) == ascii_lower(b[j - 1]) &&
			    pp[j - 2] + 1 < cur[j])
				cur[j] = pp[j - 2] + 1;
		}
	}
	return rows[(la + 1) % 3][lb];
}

/* The key of @keys (taken by a kind in @mask) closest to @key, or NULL. */
static const char *suggest_key(const char *key, const struct key_spec *keys, size_t n,
			       unsigned mask)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, i;

	for (i = 0; i < n; i++) {
		size_t len = strlen(keys[i].name);
		size_t max_d = len <= 4 ? 1 : len <= 8 ? 2 : 3;
		size_t d;

		if (!(keys[i].kinds & mask))
			continue;
		d = edit_distance(key, keys[i].name);
		if (d <= max_d && d < best_d) {
			best = keys[i].name;
			best_d = d;
		}
	}
	return best;
}

/* "camera, screen": the kinds in @mask. */
static void kinds_list(unsigned mask, char *out, size_t sz)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(kind_names); i++) {
		if (!(mask & K(i)))
			continue;
		snprintf(out + len, sz - len, "%s%s", len ? ", " : "", kind_names[i]);
		len = strlen(out);
	}
}

/*
 * Report every member of @obj that @keys does not list (with a did-you-mean
 * when one is close), that belongs to a device kind outside @mask (a
 * @kind_name device), or that appears twice.
 */
static void check_keys(struct config_errors *errs, const cJSON *obj, const char *parent,
		       const struct key_spec *keys, size_t n, unsigned mask, const char *kind_name)
{
	uint64_t seen = 0;
	const cJSON *v;
	size_t i;

	for (v = obj->child; v; v = v->next) {
		char path[PATH_SZ];
		const char *hint;

		if (!v->string)
			continue;
		path_key(path, parent, v->string);
		for (i = 0; i < n && strcmp(keys[i].name, v->string) != 0; i++)
			;
		if (i == n) {
			hint = suggest_key(v->string, keys, n, mask);
			if (hint)
				conf_err(errs, path, "unknown key (did you mean \"%s\"?)", hint);
			else
				conf_err(errs, path, "unknown key");
			continue;
		}
		if (!(keys[i].kinds & mask)) {
			char kinds[48];

			kinds_list(keys[i].kinds, kinds, sizeof(kinds));
			conf_err(errs, path, "not allowed for a %s device (only for: %s)",
				 kind_name ? kind_name : "this", kinds);
			continue;
		}
		if (i < 64 && (seen & (UINT64_C(1) << i)))
			conf_err(errs, path, "duplicate key");
		if (i < 64)
			seen |= UINT64_C(1) << i;
	}
}

/* Member @key of @obj, or NULL when absent (an error if F_REQ). */
static const cJSON *member(struct config_errors *errs, const cJSON *obj, const char *parent,
			   const char *key, unsigned flags, char *path)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	path_key(path, parent, key);
	if (!v && (flags & F_REQ))
		conf_err(errs, path, "required key is missing");
	return v;
}

/*
 * String member @key copied into @dst. Returns 1 when present and valid, 0
 * when absent (and optional), -1 after reporting an error: wrong type, empty
 * under F_NONEMPTY, or too long for @dst (never truncated).
 */
static int get_str(struct config_errors *errs, const cJSON *obj, const char *parent,
		   const char *key, unsigned flags, char *dst, size_t dstsz)
{
	char path[PATH_SZ], got[GOT_SZ];
	const cJSON *v = member(errs, obj, parent, key, flags, path);
	size_t len;

	if (!v)
		return (flags & F_REQ) ? -1 : 0;
	if (!cJSON_IsString(v)) {
		describe(v, got, sizeof(got));
		conf_err(errs, path, "must be a string, got %s", got);
		return -1;
	}
	len = strlen(v->valuestring);
	if ((flags & F_NONEMPTY) && len == 0) {
		conf_err(errs, path, "must not be empty");
		return -1;
	}
	if (str_copy(dst, dstsz, v->valuestring) < 0) {
		dst[0] = '\0';
		conf_err(errs, path, "too long: %zu bytes, at most %zu", len, dstsz - 1);
		return -1;
	}
	return 1;
}

/* Integer member @key in [@min, @max]. Returns 1, 0 (absent) or -1 as get_str. */
static int get_int(struct config_errors *errs, const cJSON *obj, const char *parent,
		   const char *key, unsigned flags, long long min, long long max, long long *out)
{
	char path[PATH_SZ], got[GOT_SZ];
	const cJSON *v = member(errs, obj, parent, key, flags, path);
	double d;

	if (!v)
		return (flags & F_REQ) ? -1 : 0;
	d = v->valuedouble;
	/* the range test comes first: it makes the cast below defined */
	if (!cJSON_IsNumber(v) || !(d >= (double)min && d <= (double)max) ||
	    d != (double)(long long)d) {
		describe(v, got, sizeof(got));
		conf_err(errs, path, "must be an integer %lld..%lld, got %s", min, max, got);
		return -1;
	}
	*out = (long long)d;
	return 1;
}

static int get_intv(struct config_errors *errs, const cJSON *obj, const char *parent,
		    const char *key, unsigned flags, int min, int max, int *dst)
{
	long long v;
	int rc = get_int(errs, obj, parent, key, flags, min, max, &v);

	if (rc > 0)
		*dst = (int)v;
	return rc;
}

static int get_uintv(struct config_errors *errs, const cJSON *obj, const char *parent,
		     const char *key, unsigned flags, unsigned min, unsigned max, unsigned *dst)
{
	long long v;
	int rc = get_int(errs, obj, parent, key, flags, min, max, &v);

	if (rc > 0)
		*dst = (unsigned)v;
	return rc;
}

/* Boolean member @key. Returns 1, 0 (absent) or -1 as get_str. */
static int get_bool(struct config_errors *errs, const cJSON *obj, const char *parent,
		    const char *key, unsigned flags, bool *dst)
{
	char path[PATH_SZ], got[GOT_SZ];
	const cJSON *v = member(errs, obj, parent, key, flags, path);

	if (!v)
		return (flags & F_REQ) ? -1 : 0;
	if (!cJSON_IsBool(v)) {
		describe(v, got, sizeof(got));
		conf_err(errs, path, "must be true or false, got %s", got);
		return -1;
	}
	*dst = cJSON_IsTrue(v);
	return 1;
}

/*
 * String member @key that must be one of @names; *@idx receives its index.
 * Returns 1, 0 (absent) or -1 as get_str.
 */
static int get_enum(struct config_errors *errs, const cJSON *obj, const char *parent,
		    const char *key, unsigned flags, const char *const *names, size_t n, int *idx)
{
	char path[PATH_SZ], got[GOT_SZ], list[96];
	const cJSON *v = member(errs, obj, parent, key, flags, path);
	size_t i, len = 0;

	if (!v)
		return (flags & F_REQ) ? -1 : 0;
	for (i = 0; cJSON_IsString(v) && i < n; i++) {
		if (strcmp(v->valuestring, names[i]) == 0) {
			*idx = (int)i;
			return 1;
		}
	}
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		snprintf(list + len, sizeof(list) - len, "%s\"%s\"", i ? ", " : "", names[i]);
		len = strlen(list);
	}
	describe(v, got, sizeof(got));
	if (n == 1)
		conf_err(errs, path, "must be %s, got %s", list, got);
	else
		conf_err(errs, path, "must be one of %s, got %s", list, got);
	return -1;
}

/* Object member @key: NULL when absent or (reported) not an object. */
static const cJSON *get_obj(struct config_errors *errs, const cJSON *obj, const char *parent,
			    const char *key, char *path)
{
	char got[GOT_SZ];
	const cJSON *v = member(errs, obj, parent, key, 0, path);

	if (v && !cJSON_IsObject(v)) {
		describe(v, got, sizeof(got));
		conf_err(errs, path, "must be an object, got %s", got);
		return NULL;
	}
	return v;
}

/* True if every byte of @s is an ASCII letter, digit or one of @extra. */
static bool chars_ok(const char *s, const char *extra)
{
	for (; *s; s++) {
		char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (!strchr(extra, c))
			return false;
	}
	return true;
}

static void parse_tls(struct config_errors *errs, const cJSON *tls, const char *path,
		      struct hq_conf *h)
{
	char sub[PATH_SZ];
	int ca, cert, key;

	check_keys(errs, tls, path, tls_keys, ARRAY_SIZE(tls_keys), K_ALL, NULL);
	ca = get_str(errs, tls, path, "ca", F_NONEMPTY, h->tls_ca, sizeof(h->tls_ca));
	cert = get_str(errs, tls, path, "cert", F_NONEMPTY, h->tls_cert, sizeof(h->tls_cert));
	key = get_str(errs, tls, path, "key", F_NONEMPTY, h->tls_key, sizeof(h->tls_key));
	if (ca == 0) {
		path_key(sub, path, "ca");
		conf_err(errs, sub, "required when \"%s\" is given", cert ? "cert" : "tls");
	}
	if (cert != 0 && key == 0) {
		path_key(sub, path, "key");
		conf_err(errs, sub, "required when \"cert\" is given");
	}
	if (key != 0 && cert == 0) {
		path_key(sub, path, "cert");
		conf_err(errs, sub, "required when \"key\" is given");
	}
}

static void parse_hq(struct config_errors *errs, const cJSON *hq, const char *at, struct hq_conf *h)
{
	char path[PATH_SZ];
	const cJSON *tls;
	const char *t;
	int port, user, pass, bmin, bmax;

	check_keys(errs, hq, at, hq_keys, ARRAY_SIZE(hq_keys), K_ALL, NULL);
	get_str(errs, hq, at, "host", F_NONEMPTY, h->host, sizeof(h->host));
	port = get_intv(errs, hq, at, "port", 0, 1, 65535, &h->port);
	get_intv(errs, hq, at, "keepalive", 0, 5, 3600, &h->keepalive);
	if (get_str(errs, hq, at, "topic_prefix", F_NONEMPTY, h->topic_prefix,
		    sizeof(h->topic_prefix)) > 0) {
		t = h->topic_prefix;
		path_key(path, at, "topic_prefix");
		if (strpbrk(t, "+#"))
			conf_err(errs, path, "must not contain '+' or '#', got \"%s\"", t);
		else if (t[0] == '/' || t[strlen(t) - 1] == '/')
			conf_err(errs, path, "must not begin or end with '/', got \"%s\"", t);
	}
	tls = get_obj(errs, hq, at, "tls", path);
	if (tls)
		parse_tls(errs, tls, path, h);
	user = get_str(errs, hq, at, "username", F_NONEMPTY, h->username, sizeof(h->username));
	pass = get_str(errs, hq, at, "password_file", F_NONEMPTY, h->password_file,
		       sizeof(h->password_file));
	if (pass > 0 && user == 0) {
		path_key(path, at, "password_file");
		conf_err(errs, path,
			 "needs \"username\" (MQTT sends a password only with a user name)");
	}
	get_uintv(errs, hq, at, "batch_max_events", 0, 1, 10000, &h->batch_max_events);
	get_uintv(errs, hq, at, "batch_max_bytes", 0, 1024, 8388608, &h->batch_max_bytes);
	get_uintv(errs, hq, at, "max_inflight", 0, 1, 1000, &h->max_inflight);
	bmin = get_uintv(errs, hq, at, "backoff_min_ms", 0, 1, 3600000, &h->backoff_min_ms);
	bmax = get_uintv(errs, hq, at, "backoff_max_ms", 0, 1, 3600000, &h->backoff_max_ms);
	if (bmin >= 0 && bmax >= 0 && h->backoff_min_ms > h->backoff_max_ms) {
		path_key(path, at, bmin > 0 ? "backoff_min_ms" : "backoff_max_ms");
		conf_err(errs, path, "backoff_min_ms (%u%s) must not exceed backoff_max_ms (%u%s)",
			 h->backoff_min_ms, bmin ? "" : ", the default", h->backoff_max_ms,
			 bmax ? "" : ", the default");
	}
	if (port == 0 && h->tls_ca[0])
		h->port = 8883;
}

static void parse_outbox(struct config_errors *errs, const cJSON *ob, const char *at,
			 struct outbox_conf *o)
{
	int sync;

	check_keys(errs, ob, at, outbox_keys, ARRAY_SIZE(outbox_keys), K_ALL, NULL);
	get_uintv(errs, ob, at, "max_mb", 0, 1, 65536, &o->max_mb);
	if (get_enum(errs, ob, at, "sync", 0, sync_names, ARRAY_SIZE(sync_names), &sync) > 0)
		o->sync_full = sync == 0;
}

static void parse_prices(struct config_errors *errs, const cJSON *o, const char *at,
			 struct prices_conf *p)
{
	int missing;

	check_keys(errs, o, at, prices_keys, ARRAY_SIZE(prices_keys), K_ALL, NULL);
	if (get_enum(errs, o, at, "snapshot_missing", 0, missing_names, ARRAY_SIZE(missing_names),
		     &missing) > 0)
		p->snapshot_remove_missing = missing == 0;
	get_uintv(errs, o, at, "label_summary_min", 0, 1, 1440, &p->label_summary_min);
}

/* "HH:MM" (00:00..24:00) member @key into minutes after midnight. */
static void get_hhmm(struct config_errors *errs, const cJSON *o, const char *at, const char *key,
		     unsigned *dst)
{
	char path[PATH_SZ], got[GOT_SZ];
	const cJSON *v = member(errs, o, at, key, 0, path);
	unsigned h, m;
	int n = 0;

	if (!v)
		return;
	if (cJSON_IsString(v) && sscanf(v->valuestring, "%2u:%2u%n", &h, &m, &n) == 2 && n == 5 &&
	    v->valuestring[5] == '\0' && m < 60 && (h < 24 || (h == 24 && m == 0))) {
		*dst = h * 60 + m;
		return;
	}
	describe(v, got, sizeof(got));
	conf_err(errs, path, "must be a local time \"HH:MM\" (00:00..24:00), got %s", got);
}

static void parse_sensing(struct config_errors *errs, const cJSON *o, const char *at,
			  struct sensing_conf *s)
{
	char path[PATH_SZ];
	int pm, em, clk;

	check_keys(errs, o, at, sensing_keys, ARRAY_SIZE(sensing_keys), K_ALL, NULL);
	get_intv(errs, o, at, "rssi_in", 0, -120, -1, &s->rssi_in);
	get_uintv(errs, o, at, "silence_min", 0, 1, 240, &s->silence_min);
	pm = get_uintv(errs, o, at, "passer_max_min", 0, 0, 240, &s->passer_max_min);
	em = get_uintv(errs, o, at, "engaged_min", 0, 1, 1440, &s->engaged_min);
	get_uintv(errs, o, at, "staff_dwell_min", 0, 30, 1440, &s->staff_dwell_min);
	get_uintv(errs, o, at, "staff_share_pct", 0, 1, 100, &s->staff_share_pct);
	get_hhmm(errs, o, at, "open", &s->open_min);
	get_hhmm(errs, o, at, "close", &s->close_min);
	if (get_uintv(errs, o, at, "interval_min", 0, 1, 1440, &s->interval_min) > 0 &&
	    1440 % s->interval_min) {
		path_key(path, at, "interval_min");
		conf_err(errs, path, "must divide a day (1440 minutes), got %u", s->interval_min);
	}
	get_uintv(errs, o, at, "repeat_days", 0, 1, 30, &s->repeat_days);
	get_uintv(errs, o, at, "max_sessions", 0, 100, 1000000, &s->max_sessions);
	get_uintv(errs, o, at, "silent_alert_min", 0, 1, 1440, &s->silent_alert_min);
	get_str(errs, o, at, "entrance_zone", F_NONEMPTY, s->entrance_zone,
		sizeof(s->entrance_zone));
	if (get_enum(errs, o, at, "clock", 0, clock_names, ARRAY_SIZE(clock_names), &clk) > 0)
		s->devices_clock = clk == 1;
	if (pm >= 0 && em >= 0 && s->passer_max_min > s->engaged_min) {
		path_key(path, at, pm > 0 ? "passer_max_min" : "engaged_min");
		conf_err(errs, path, "passer_max_min (%u) must not exceed engaged_min (%u)",
			 s->passer_max_min, s->engaged_min);
	}
}

/*
 * A screen's "tills": an array of up to CONF_MAX_TILLS device names, each
 * named once (that they are POS devices is checked with all devices known).
 */
static void get_tills(struct config_errors *errs, const cJSON *o, const char *at,
		      struct device_conf *d)
{
	char path[PATH_SZ], ipath[PATH_SZ], got[GOT_SZ];
	const cJSON *v = member(errs, o, at, "tills", 0, path), *e;
	size_t i = 0;

	if (!v)
		return;
	if (!cJSON_IsArray(v)) {
		describe(v, got, sizeof(got));
		conf_err(errs, path, "must be an array of POS device names, got %s", got);
		return;
	}
	cJSON_ArrayForEach(e, v)
	{
		path_idx(ipath, path, i);
		if (!cJSON_IsString(e) || !e->valuestring[0] ||
		    strlen(e->valuestring) > CONF_NAME_MAX) {
			describe(e, got, sizeof(got));
			conf_err(errs, ipath, "must be a device name, got %s", got);
		} else if (d->n_tills >= CONF_MAX_TILLS) {
			conf_err(errs, ipath, "too many tills: at most %d", CONF_MAX_TILLS);
			break;
		} else {
			bool dup = false;

			for (size_t j = 0; j < d->n_tills; j++)
				dup = dup || !strcmp(d->tills[j], e->valuestring);
			if (dup)
				conf_err(errs, ipath, "\"%s\" is listed twice", e->valuestring);
			else
				str_copy(d->tills[d->n_tills++], sizeof(d->tills[0]),
					 e->valuestring);
		}
		i++;
	}
}

/* Every screen's tills name POS devices of this config. */
static void check_tills(struct config_errors *errs, const struct config *c)
{
	char path[PATH_SZ];

	for (size_t i = 0; i < c->n_devices; i++) {
		const struct device_conf *d = &c->devices[i];

		for (size_t t = 0; d->kind == DEV_SCREEN && t < d->n_tills; t++) {
			size_t j;

			for (j = 0; j < c->n_devices; j++) {
				if (!strcmp(c->devices[j].name, d->tills[t]))
					break;
			}
			if (j < c->n_devices && c->devices[j].kind == DEV_POS)
				continue;
			snprintf(path, sizeof(path), "$.devices[%zu].tills[%zu]", i, t);
			if (j < c->n_devices)
				conf_err(errs, path, "\"%s\" is a %s device, not a till (pos)",
					 d->tills[t], dev_kind_name(c->devices[j].kind));
			else
				conf_err(errs, path, "no device named \"%s\"", d->tills[t]);
		}
	}
}

static void parse_screens(struct config_errors *errs, const cJSON *o, const char *at,
			  struct screens_conf *s)
{
	char path[PATH_SZ];
	int mn, mx;

	check_keys(errs, o, at, screens_keys, ARRAY_SIZE(screens_keys), K_ALL, NULL);
	get_uintv(errs, o, at, "timeout_ms", 0, 100, 60000, &s->timeout_ms);
	mn = get_uintv(errs, o, at, "backoff_min_ms", 0, 100, 600000, &s->backoff_min_ms);
	mx = get_uintv(errs, o, at, "backoff_max_ms", 0, 100, 3600000, &s->backoff_max_ms);
	get_uintv(errs, o, at, "zone_rise_min", 0, 1, 100000, &s->zone_rise_min);
	if (mn >= 0 && mx >= 0 && s->backoff_max_ms < s->backoff_min_ms) {
		path_key(path, at, mx > 0 ? "backoff_max_ms" : "backoff_min_ms");
		conf_err(errs, path, "backoff_max_ms (%u) must not be below backoff_min_ms (%u)",
			 s->backoff_max_ms, s->backoff_min_ms);
	}
}

/* Check the url of a guide screen: http(s), a host, no spaces. */
static void check_url(struct config_errors *errs, const char *at, const char *url)
{
	char path[PATH_SZ], got[GOT_SZ];
	const char *host;

	path_key(path, at, "url");
	describe_str(url, got, sizeof(got));
	if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		host = NULL;
	if (!host)
		conf_err(errs, path, "must start with http:// or https://, got %s", got);
	else if (*host == '\0' || *host == '/')
		conf_err(errs, path, "has no host, got %s", got);
	else if (strpbrk(url, " \t"))
		conf_err(errs, path, "must not contain spaces, got %s", got);
}

/*
 * Parse the device object @o at @at into @d (reset first). @ok says which
 * fields the duplicate checks may use.
 */
static void parse_device(struct config_errors *errs, const cJSON *o, const char *at,
			 struct device_conf *d, struct dev_ok *ok)
{
	char path[PATH_SZ], got[GOT_SZ];
	unsigned mask = K_ALL;
	int kind = -1, fmt, rc;
	long long baud;
	bool known, chip = false;

	memset(d, 0, sizeof(*d));
	memset(ok, 0, sizeof(*ok));
	d->baud = 115200;
	d->line_a = -1;
	d->line_b = -1;
	d->debounce_ms = 30;
	d->max_items = 4;
	if (!cJSON_IsObject(o)) {
		describe(o, got, sizeof(got));
		conf_err(errs, at, "must be an object, got %s", got);
		return;
	}
	rc = get_str(errs, o, at, "name", F_REQ | F_NONEMPTY, d->name, sizeof(d->name));
	if (rc > 0 && !chars_ok(d->name, "_.-")) {
		path_key(path, at, "name");
		describe_str(d->name, got, sizeof(got));
		conf_err(errs, path, "must match [A-Za-z0-9_.-]{1,%d}, got %s", CONF_NAME_MAX, got);
	} else if (rc > 0) {
		ok->name = true;
	}
	known = get_enum(errs, o, at, "kind", F_REQ, kind_names, ARRAY_SIZE(kind_names), &kind) > 0;
	if (known) {
		d->kind = (enum dev_kind)kind;
		mask = K(kind);
	}
	check_keys(errs, o, at, dev_keys, ARRAY_SIZE(dev_keys), mask,
		   known ? kind_names[kind] : NULL);

	/*
	 * Keys the kind does not take were reported above and are skipped here.
	 * With an unknown kind every key is type-checked but none is required.
	 */
	if (mask & K_SERIAL) {
		rc = get_str(errs, o, at, "port", (known ? F_REQ : 0) | F_NONEMPTY, d->port,
			     sizeof(d->port));
		ok->port = known && rc > 0;
		if (get_int(errs, o, at, "baud", 0, 1, UINT_MAX, &baud) > 0) {
			if (serial_baud_valid((unsigned)baud)) {
				d->baud = (unsigned)baud;
			} else {
				path_key(path, at, "baud");
				conf_err(errs, path,
					 "must be a standard rate (9600, 19200, 38400, 57600, "
					 "115200, ... 4000000), got %lld",
					 baud);
			}
		}
	}
	if (mask & K(DEV_POS)) {
		get_enum(errs, o, at, "format", 0, format_names, ARRAY_SIZE(format_names), &fmt);
		if (known)
			str_copy(d->format, sizeof(d->format), "jsonl");
	}
	if (mask & K(DEV_CAMERA)) {
		chip = get_str(errs, o, at, "chip", (known ? F_REQ : 0) | F_NONEMPTY, d->chip,
			       sizeof(d->chip)) > 0;
		ok->line_a =
			get_intv(errs, o, at, "line_a", known ? F_REQ : 0, 0, 1023, &d->line_a) > 0;
		ok->line_b = get_intv(errs, o, at, "line_b", 0, 0, 1023, &d->line_b) > 0;
		if (ok->line_a && ok->line_b && d->line_a == d->line_b) {
			path_key(path, at, "line_b");
			conf_err(errs, path, "must differ from line_a (both are %d)", d->line_a);
			ok->line_b = false;
		}
		ok->line_a = ok->line_a && chip && known;
		ok->line_b = ok->line_b && ok->line_a;
		get_bool(errs, o, at, "active_low", 0, &d->active_low);
		get_uintv(errs, o, at, "debounce_ms", 0, 0, 10000, &d->debounce_ms);
	}
	if (mask & (K(DEV_CAMERA) | K(DEV_SCREEN) | K(DEV_PROBE)))
		get_str(errs, o, at, "zone", 0, d->zone, sizeof(d->zone));
	if (mask & K(DEV_SCREEN)) {
		if (get_str(errs, o, at, "url", (known ? F_REQ : 0) | F_NONEMPTY, d->url,
			    sizeof(d->url)) > 0)
			check_url(errs, at, d->url);
		get_uintv(errs, o, at, "max_items", 0, 1, 12, &d->max_items);
		for (const char *z = d->zone; *z; z++) {
			/* The zone goes into the screen's content as text. */
			if ((unsigned char)*z < 0x20 || *z == 0x7f) {
				path_key(path, at, "zone");
				conf_err(errs, path, "must not contain control characters");
				break;
			}
		}
		get_tills(errs, o, at, d);
		if (known && ok->name && !chars_ok(d->name, "_-")) {
			/* The screen contract's "screen" field: no dots. */
			path_key(path, at, "name");
			conf_err(errs, path, "a screen's name must match [A-Za-z0-9_-]{1,%d}",
				 CONF_NAME_MAX);
		}
	}
}

/* Is @line one of the (valid) lines of camera @b? */
static bool line_taken(const struct device_conf *b, const struct dev_ok *okb, int line)
{
	return (okb->line_a && b->line_a == line) || (okb->line_b && b->line_b == line);
}

/*
 * Compare device @i (at path @at) with the devices before it: names must be
 * unique, no two serial devices may share a port, no two cameras a line.
 */
static void check_unique(struct config_errors *errs, const struct device_conf *devs,
			 const struct dev_ok *ok, size_t i, const char *at)
{
	const struct device_conf *d = &devs[i];
	bool name_done = false, port_done = false, line_done = false;
	char path[PATH_SZ];
	size_t j;

	for (j = 0; j < i; j++) {
		const struct device_conf *e = &devs[j];

		if (!name_done && ok[i].name && ok[j].name && strcmp(d->name, e->name) == 0) {
			path_key(path, at, "name");
			conf_err(errs, path, "duplicate device name \"%s\" (also $.devices[%zu])",
				 d->name, j);
			name_done = true;
		}
		if (!port_done && ok[i].port && ok[j].port && strcmp(d->port, e->port) == 0) {
			path_key(path, at, "port");
			conf_err(errs, path,
				 "port \"%s\" is already used by $.devices[%zu] (\"%s\")", d->port,
				 j, e->name);
			port_done = true;
		}
		if (!line_done && ok[i].line_a && ok[j].line_a && strcmp(d->chip, e->chip) == 0) {
			int line = -1;

			if (line_taken(e, &ok[j], d->line_a)) {
				line = d->line_a;
				path_key(path, at, "line_a");
			} else if (ok[i].line_b && line_taken(e, &ok[j], d->line_b)) {
				line = d->line_b;
				path_key(path, at, "line_b");
			}
			if (line >= 0) {
				conf_err(errs, path,
					 "line %d of %s is already used by $.devices[%zu] (\"%s\")",
					 line, d->chip, j, e->name);
				line_done = true;
			}
		}
	}
}

static void parse_devices(struct config_errors *errs, const cJSON *arr, const char *at,
			  struct config *c)
{
	struct dev_ok ok[CONF_MAX_DEVICES], scratch_ok;
	struct device_conf scratch;
	char path[PATH_SZ], got[GOT_SZ];
	const cJSON *v;
	size_t i, n = 0;

	if (!cJSON_IsArray(arr)) {
		describe(arr, got, sizeof(got));
		conf_err(errs, at, "must be an array, got %s", got);
		return;
	}
	for (v = arr->child; v; v = v->next)
		n++;
	if (n > CONF_MAX_DEVICES)
		conf_err(errs, at, "too many devices: %zu, at most %d", n, CONF_MAX_DEVICES);
	/* devices past the limit are still checked, into a scratch slot */
	for (v = arr->child, i = 0; v; v = v->next, i++) {
		bool keep = i < CONF_MAX_DEVICES;

		path_idx(path, at, i);
		parse_device(errs, v, path, keep ? &c->devices[i] : &scratch,
			     keep ? &ok[i] : &scratch_ok);
		if (keep) {
			check_unique(errs, c->devices, ok, i, path);
			c->n_devices = i + 1;
		}
	}
}

static void parse_root(struct config_errors *errs, const cJSON *root, struct config *c)
{
	char path[PATH_SZ], got[GOT_SZ];
	const cJSON *v;
	int target;

	if (!cJSON_IsObject(root)) {
		describe(root, got, sizeof(got));
		conf_err(errs, "$", "must be a JSON object, got %s", got);
		return;
	}
	check_keys(errs, root, "$", top_keys, ARRAY_SIZE(top_keys), K_ALL, NULL);
	if (get_str(errs, root, "$", "store_id", F_REQ | F_NONEMPTY, c->store_id,
		    sizeof(c->store_id)) > 0) {
		describe_str(c->store_id, got, sizeof(got));
		if (!chars_ok(c->store_id, "_-"))
			conf_err(errs, "$.store_id", "must match [A-Za-z0-9_-]{1,%d}, got %s",
				 CONF_STORE_MAX, got);
		else if (strcmp(c->store_id, "fleet") == 0)
			conf_err(errs, "$.store_id",
				 "\"fleet\" is reserved (it addresses every store)");
	}
	get_str(errs, root, "$", "data_dir", F_NONEMPTY, c->data_dir, sizeof(c->data_dir));
	get_str(errs, root, "$", "control_socket", F_NONEMPTY, c->control_socket,
		sizeof(c->control_socket));
	v = member(errs, root, "$", "log_level", 0, path);
	if (v && (!cJSON_IsString(v) || log_level_parse(v->valuestring, &c->log_level) < 0)) {
		describe(v, got, sizeof(got));
		conf_err(errs, path, "must be one of \"%s\", \"%s\", \"%s\", \"%s\", got %s",
			 level_names[0], level_names[1], level_names[2], level_names[3], got);
	}
	if (get_enum(errs, root, "$", "log_target", 0, target_names, ARRAY_SIZE(target_names),
		     &target) > 0)
		c->log_syslog = target == 1;
	v = get_obj(errs, root, "$", "hq", path);
	if (v)
		parse_hq(errs, v, path, &c->hq);
	v = get_obj(errs, root, "$", "outbox", path);
	if (v)
		parse_outbox(errs, v, path, &c->outbox);
	v = get_obj(errs, root, "$", "prices", path);
	if (v)
		parse_prices(errs, v, path, &c->prices);
	v = get_obj(errs, root, "$", "sensing", path);
	if (v)
		parse_sensing(errs, v, path, &c->sensing);
	v = get_obj(errs, root, "$", "screens", path);
	if (v)
		parse_screens(errs, v, path, &c->screens);
	v = member(errs, root, "$", "devices", 0, path);
	if (v)
		parse_devices(errs, v, path, c);
	check_tills(errs, c);
}

/* 1-based line and column (in bytes) of offset @off in @buf. */
static void line_col(const char *buf, size_t off, unsigned long *line, unsigned long *col)
{
	size_t i, bol = 0;

	*line = 1;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			bol = i + 1;
		}
	}
	*col = (unsigned long)(off - bol + 1);
}

/*
 * Blank the // and block comments of @buf in place (newlines kept) and
 * refuse "\u0000" in strings, which cJSON would silently cut the string at.
 * Returns 0 or -EINVAL (reported).
 */
static int strip_comments(struct config_errors *errs, char *buf, size_t len)
{
	enum { CODE, STRING, LINE, BLOCK } st = CODE;
	unsigned long line, col;
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		char ch = buf[i], next = i + 1 < len ? buf[i + 1] : '\0';

		switch (st) {
		case CODE:
			if (ch == '"') {
				st = STRING;
			} else if (ch == '/' && (next == '/' || next == '*')) {
				st = next == '/' ? LINE : BLOCK;
				start = i;
				buf[i] = buf[i + 1] = ' ';
				i++;
			}
			break;
		case STRING:
			if (ch == '\\' && len - i >= 6 && memcmp(buf + i + 1, "u0000", 5) == 0) {
				line_col(buf, i, &line, &col);
				conf_err(errs, "$", "\\u0000 in a string at line %lu column %lu",
					 line, col);
				return -EINVAL;
			}
			if (ch == '\\')
				i++;
			else if (ch == '"')
				st = CODE;
			break;
		case LINE:
			if (ch == '\n')
				st = CODE;
			else
				buf[i] = ' ';
			break;
		case BLOCK:
			if (ch == '*' && next == '/') {
				buf[i] = buf[i + 1] = ' ';
				i++;
				st = CODE;
			} else if (ch != '\n') {
				buf[i] = ' ';
			}
			break;
		}
	}
	if (st == BLOCK) {
		line_col(buf, start, &line, &col);
		conf_err(errs, "$", "unterminated comment starting at line %lu column %lu", line,
			 col);
		return -EINVAL;
	}
	return 0;
}

/* Report cJSON's failure at @end (NULL: unknown) within @buf[0..len). */
static void syntax_error(struct config_errors *errs, const char *buf, size_t len, const char *end)
{
	unsigned long line, col;
	size_t off = len;

	if (end && end >= buf && end < buf + len)
		off = (size_t)(end - buf);
	line_col(buf, off, &line, &col);
	if (off >= len)
		conf_err(errs, "$", "invalid JSON at line %lu column %lu (unexpected end)", line,
			 col);
	else
		conf_err(errs, "$", "invalid JSON at line %lu column %lu", line, col);
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	str_copy(c->data_dir, sizeof(c->data_dir), "/var/lib/shelfd");
	str_copy(c->control_socket, sizeof(c->control_socket), "/run/shelfd/ctl.sock");
	c->log_level = LOG_LVL_INFO;
	c->log_syslog = false;
	str_copy(c->hq.host, sizeof(c->hq.host), "127.0.0.1");
	c->hq.port = 1883;
	c->hq.keepalive = 30;
	str_copy(c->hq.topic_prefix, sizeof(c->hq.topic_prefix), "shelf/v1");
	c->hq.batch_max_events = 500;
	c->hq.batch_max_bytes = 262144;
	c->hq.max_inflight = 16;
	c->hq.backoff_min_ms = 500;
	c->hq.backoff_max_ms = 60000;
	c->outbox.max_mb = 256;
	c->outbox.sync_full = true;
	c->prices.snapshot_remove_missing = true;
	c->prices.label_summary_min = 15;
	c->screens.timeout_ms = 2000;
	c->screens.backoff_min_ms = 1000;
	c->screens.backoff_max_ms = 60000;
	c->screens.zone_rise_min = 10;
	c->sensing.rssi_in = -70;
	c->sensing.silence_min = 15;
	c->sensing.passer_max_min = 2;
	c->sensing.engaged_min = 10;
	c->sensing.staff_dwell_min = 240;
	c->sensing.staff_share_pct = 50;
	c->sensing.open_min = 8 * 60;
	c->sensing.close_min = 22 * 60;
	c->sensing.interval_min = 5;
	c->sensing.repeat_days = 30;
	c->sensing.max_sessions = 20000;
	c->sensing.silent_alert_min = 10;
	str_copy(c->sensing.entrance_zone, sizeof(c->sensing.entrance_zone), "entrance");
}

int config_parse(const char *text, size_t len, struct config *c, struct config_errors *errs)
{
	unsigned long line, col;
	const char *end = NULL, *nul;
	cJSON *root;
	char *buf;
	size_t i;
	int ret = -EINVAL;

	if (!c || !errs || (!text && len))
		return -EINVAL;
	memset(errs, 0, sizeof(*errs));
	config_defaults(c);
	if (len > CONF_FILE_MAX) {
		conf_err(errs, "$", "too large: %zu bytes, at most %d", len, CONF_FILE_MAX);
		return -EINVAL;
	}
	buf = malloc(len + 1);
	if (!buf) {
		conf_err(errs, "$", "out of memory");
		return -ENOMEM;
	}
	if (len)
		memcpy(buf, text, len);
	buf[len] = '\0';

	nul = memchr(buf, '\0', len);
	if (nul) {
		line_col(buf, (size_t)(nul - buf), &line, &col);
		conf_err(errs, "$", "NUL byte at line %lu column %lu", line, col);
		goto out_free_buf;
	}
	if (!utf8_valid(buf, len)) {
		conf_err(errs, "$", "not valid UTF-8");
		goto out_free_buf;
	}
	if (strip_comments(errs, buf, len) < 0)
		goto out_free_buf;
	for (i = 0; i < len && strchr(" \t\r\n", buf[i]); i++)
		;
	if (i == len) {
		conf_err(errs, "$", "empty document (expected a JSON object)");
		goto out_free_buf;
	}
	/* len + 1: cJSON wants to see the NUL to know nothing follows */
	root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, true);
	if (!root) {
		syntax_error(errs, buf, len, end);
		goto out_free_buf;
	}
	parse_root(errs, root, c);
	ret = errs->n_total ? -EINVAL : 0;
	cJSON_Delete(root);
out_free_buf:
	free(buf);
	return ret;
}

/*
 * Read at most CONF_FILE_MAX bytes of @path; a longer file is -EFBIG. Any
 * pipe or file will do (-c /dev/stdin works).
 */
int config_load(const char *path, struct config *c, struct config_errors *errs)
{
	size_t len = 0;
	ssize_t n;
	char *buf;
	int fd, ret;

	if (!path || !c || !errs)
		return -EINVAL;
	memset(errs, 0, sizeof(*errs));
	config_defaults(c);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		conf_err(errs, "$", "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	buf = malloc(CONF_FILE_MAX + 1);
	if (!buf) {
		ret = -ENOMEM;
		conf_err(errs, "$", "out of memory reading %s", path);
		goto out_close_fd;
	}
	while (len < CONF_FILE_MAX + 1) {
		n = read(fd, buf + len, CONF_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			conf_err(errs, "$", "cannot read %s: %s", path, strerror(-ret));
			goto out_free_buf;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONF_FILE_MAX) {
		ret = -EFBIG;
		conf_err(errs, "$", "%s is larger than %d bytes", path, CONF_FILE_MAX);
		goto out_free_buf;
	}
	ret = config_parse(buf, len, c, errs);
out_free_buf:
	free(buf);
out_close_fd:
	close(fd);
	return ret;
}
