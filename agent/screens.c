/*
 * screens: guide-screen pusher on curlloop. See screens.h.
 *
 * Per screen, two content slots: @cur is on the wire (its easy handle
 * points at its body), @next waits (newest pushed, not sent yet). A push
 * replaces @next. When @cur ends: after a retryable failure the newest of
 * the two becomes @next and waits for the backoff (retry_at); otherwise
 * @cur is dropped and @next, if any, goes at once. One loop timer serves
 * every screen's backoff (the earliest retry_at).
 *
 * The host's callbacks run last in the completion path, with the screen's
 * state already consistent, so they may push again.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "curlloop.h"
#include "log.h"
#include "screens.h"
#include "util.h"
#include "version.h"

/* The answer's body kept for its "error"/"shown" (the rest is dropped). */
#define RESP_MAX 4096

/* One content: the whole body as sent. */
struct content {
	uint64_t version;
	size_t len;
	char body[];
};

struct scr {
	struct screens *s;
	size_t index;
	char name[SCREENS_NAME_MAX + 1];
	char zone[SCREENS_NAME_MAX + 1];
	char url[SCREENS_URL_MAX + 1];

	struct content *cur; /* on the wire, NULL if none */
	struct content *next; /* waiting to be sent, NULL if none */
	CURL *easy; /* the request of @cur */
	struct curlloop_xfer xfer; /* scr_done(this) */
	char errbuf[CURL_ERROR_SIZE];
	char resp[RESP_MAX];
	size_t resp_len;

	int64_t retry_at; /* monotonic ms of the next attempt; 0: none waiting */
	unsigned retry_streak; /* retryable failures in a row (the backoff exponent) */
	struct screen_health h; /* retry_in_ms and pending are computed when read */
};

struct screens {
	struct loop *loop;
	struct curlloop *cl;
	struct curl_slist *headers;
	struct screens_cbs cbs;
	void *arg;
	unsigned timeout_ms;
	unsigned backoff_min_ms;
	unsigned backoff_max_ms;
	char ca_file[PATH_MAX]; /* empty: system default */
	int retry_timer; /* loop timer id, 0 if none */
	size_t n;
	struct scr scr[];
};

static void scr_start(struct scr *sc);

const char *screens_state_name(enum screen_state st)
{
	switch (st) {
	case SCREEN_OK:
		return "ok";
	case SCREEN_FAILING:
		return "failing";
	default:
		return "never";
	}
}

/* A zone: 1..64 bytes of text without control characters (any language). */
static bool zone_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= SCREENS_NAME_MAX || c < 0x20 || c == 0x7f)
			return false;
	}
	return n > 0;
}

static bool ident_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (n >= SCREENS_NAME_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					       (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

static bool url_valid(const char *url)
{
	size_t n;

	if (!url)
		return false;
	n = strlen(url);
	if (n > SCREENS_URL_MAX)
		return false;
	if (!strncasecmp(url, "http://", 7))
		return n > 7;
	if (!strncasecmp(url, "https://", 8))
		return n > 8;
	return false;
}

/* Keep printable ASCII of @src (others become '?') in @dst. */
static void text_clean(char *dst, size_t dstsz, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

/* ---- the retry timer ---- */

static void on_retry_timer(struct loop *l, void *arg);

/* (Re)arm the one timer for the earliest retry_at. */
static void arm_retry_timer(struct screens *s)
{
	int64_t first = 0, now;
	int id;

	loop_timer_del(s->loop, s->retry_timer);
	s->retry_timer = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->scr[i].retry_at && (!first || s->scr[i].retry_at < first))
			first = s->scr[i].retry_at;
	}
	if (!first)
		return;
	now = now_mono_ms();
	id = loop_timer_add(s->loop, first > now ? first - now : 0, on_retry_timer, s);
	if (id < 0) {
		log_err("screens: no loop timer: %s", strerror(-id));
		return;
	}
	s->retry_timer = id;
}

static void on_retry_timer(struct loop *l, void *arg)
{
	struct screens *s = arg;
	int64_t now = now_mono_ms();

	s->retry_timer = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct scr *sc = &s->scr[i];

		if (!sc->retry_at || sc->retry_at > now)
			continue;
		sc->retry_at = 0;
		if (sc->next && !sc->easy)
			scr_start(sc);
	}
	arm_retry_timer(s);
}

/* The backoff after the retry_streak-th retryable failure in a row. */
static int64_t backoff_ms(const struct screens *s, unsigned streak)
{
	int64_t d = s->backoff_min_ms;

	for (unsigned i = 1; i < streak && d < s->backoff_max_ms; i++)
		d *= 2;
	return d < s->backoff_max_ms ? d : s->backoff_max_ms;
}

/* ---- one request ---- */

/* CURLOPT_WRITEFUNCTION: keep the first RESP_MAX - 1 bytes of the answer. */
static size_t on_body(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct scr *sc = userp;
	size_t n = size * nmemb, room = RESP_MAX - 1 - sc->resp_len;

	if (room) {
		size_t k = n < room ? n : room;

		memcpy(sc->resp + sc->resp_len, buf, k);
		sc->resp_len += k;
		sc->resp[sc->resp_len] = '\0';
	}
	return n;
}

/* Translate a libcurl result, once, at the module edge. */
static int curl_status(CURL *easy, CURLcode rc)
{
	long oserr = 0;

	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
			return -EHOSTUNREACH;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* The answer's JSON body: its "error" text into @err (if any) and "shown". */
static void resp_parse(struct scr *sc, char *err, size_t errsz, uint64_t *shown)
{
	cJSON *root = cJSON_ParseWithLength(sc->resp, sc->resp_len);
	cJSON *e, *v;

	err[0] = '\0';
	*shown = 0;
	if (!root)
		return;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsString(e) && e->valuestring)
		text_clean(err, errsz, e->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(root, "shown");
	if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= SCREENS_VERSION_MAX &&
	    v->valuedouble == (double)(uint64_t)v->valuedouble)
		*shown = (uint64_t)v->valuedouble;
	cJSON_Delete(root);
}

static void scr_drop_easy(struct scr *sc)
{
	if (!sc->easy)
		return;
	curlloop_remove(sc->s->cl, sc->easy);
	curl_easy_cleanup(sc->easy);
	sc->easy = NULL;
	sc->h.in_flight = false;
}

/* Record a failure to start a request: the content waits for the backoff. */
static void scr_start_failed(struct scr *sc, const char *why)
{
	struct screens *s = sc->s;

	if (!sc->next)
		sc->next = sc->cur;
	else
		free(sc->cur);
	sc->cur = NULL;
	sc->retry_streak++;
	sc->retry_at = now_mono_ms() + backoff_ms(s, sc->retry_streak);
	sc->h.last_error_ms = now_wall_ms();
	str_copy(sc->h.last_error, sizeof(sc->h.last_error), why);
	log_err("screens %s: %s", sc->name, why);
	arm_retry_timer(s);
}

#define SETOPT(e, opt, val)                                                                        \
	do {                                                                                       \
		if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)                               \
			goto err_cleanup;                                                          \
	} while (0)

/* Send sc->next now (the screen is idle). */
static void scr_start(struct scr *sc)
{
	struct screens *s = sc->s;
	CURL *e;

	sc->cur = sc->next;
	sc->next = NULL;
	sc->resp_len = 0;
	sc->resp[0] = '\0';
	sc->errbuf[0] = '\0';
	e = curl_easy_init();
	if (!e) {
		scr_start_failed(sc, "cannot start a request: out of memory");
		return;
	}
	SETOPT(e, CURLOPT_URL, sc->url);
	SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sc->cur->len);
	SETOPT(e, CURLOPT_POSTFIELDS, (const char *)sc->cur->body);
	SETOPT(e, CURLOPT_HTTPHEADER, s->headers);
	SETOPT(e, CURLOPT_ERRORBUFFER, sc->errbuf);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(e, CURLOPT_USERAGENT, "shelfd/" SHELFD_VERSION);
	/* "" disables proxies, environment variables included. */
	SETOPT(e, CURLOPT_PROXY, "");
	SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca_file[0]) {
		SETOPT(e, CURLOPT_CAINFO, s->ca_file);
		SETOPT(e, CURLOPT_CAPATH, NULL);
	}
	SETOPT(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(e, CURLOPT_WRITEDATA, sc);
	if (curlloop_add(s->cl, e, &sc->xfer))
		goto err_cleanup;
	sc->easy = e;
	sc->h.in_flight = true;
	sc->h.attempts++;
	log_debug("screens %s: sending version %" PRIu64 " (%zu bytes)", sc->name, sc->cur->version,
		  sc->cur->len);
	return;

err_cleanup:
	curl_easy_cleanup(e);
	scr_start_failed(sc, "cannot start a request: out of memory");
}

/* Classify the end of a request into @r (and its error text into @err). */
static void scr_classify(struct scr *sc, CURL *easy, CURLcode rc, struct screen_result *r,
			 char *err, size_t errsz)
{
	long code = 0;
	curl_off_t us = 0;
	char why[SCREENS_ERR_MAX];

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us);
	r->latency_ms = (int64_t)((us + 500) / 1000);
	r->status = curl_status(easy, rc);
	r->http_code = rc == CURLE_OK ? (int)code : 0;
	err[0] = '\0';
	if (r->status) {
		r->outcome = SCREEN_RETRY;
		text_clean(err, errsz, sc->errbuf[0] ? sc->errbuf : curl_easy_strerror(rc));
		return;
	}
	if (code >= 200 && code < 300) {
		r->outcome = SCREEN_SHOWN;
		return;
	}
	resp_parse(sc, why, sizeof(why), &r->shown);
	if (code == 409) {
		r->outcome = SCREEN_STALE;
		r->status = -ESTALE;
		snprintf(err, errsz,
			 "HTTP 409: version %" PRIu64 " is stale, the screen shows %" PRIu64,
			 sc->cur->version, r->shown);
		return;
	}
	r->shown = 0;
	r->status = -EPROTO;
	r->outcome = (code >= 500 || code == 408 || code == 429) ? SCREEN_RETRY : SCREEN_REJECTED;
	snprintf(err, errsz, "HTTP %ld%s%s", code, why[0] ? ": " : "", why);
}

/* curlloop_done_cb: the request of screen @arg ended. */
static void scr_done(void *arg, CURL *easy, CURLcode rc)
{
	struct scr *sc = arg;
	struct screens *s = sc->s;
	struct screen_result r = {.index = sc->index};
	struct screen_health h;
	enum screen_state from = sc->h.state, to;
	char err[SCREENS_ERR_MAX];
	int64_t now = now_wall_ms();

	if (sc->easy != easy || !sc->cur)
		return;
	r.version = sc->cur->version;
	scr_classify(sc, easy, rc, &r, err, sizeof(err));
	scr_drop_easy(sc);
	sc->h.last_http_code = r.http_code;
	if (r.http_code)
		sc->h.last_latency_ms = r.latency_ms;
	if (r.outcome == SCREEN_SHOWN || r.outcome == SCREEN_STALE) {
		to = SCREEN_OK;
		sc->h.consecutive_failures = 0;
		if (r.outcome == SCREEN_SHOWN) {
			sc->h.version_shown = r.version;
			sc->h.last_success_ms = now;
		} else if (r.shown) {
			sc->h.version_shown = r.shown;
		}
	} else {
		to = SCREEN_FAILING;
		sc->h.consecutive_failures++;
	}
	if (err[0]) {
		sc->h.last_error_ms = now;
		str_copy(sc->h.last_error, sizeof(sc->h.last_error), err);
	}
	if (r.outcome == SCREEN_RETRY) {
		sc->retry_streak++;
		r.retry_in_ms = backoff_ms(s, sc->retry_streak);
		sc->retry_at = now_mono_ms() + r.retry_in_ms;
		if (!sc->next)
			sc->next = sc->cur; /* no newer content: this one goes again */
		else
			free(sc->cur);
		sc->cur = NULL;
		arm_retry_timer(s);
	} else {
		sc->retry_streak = 0;
		free(sc->cur);
		sc->cur = NULL;
	}
	sc->h.state = to;
	if (from != to)
		log_info("screens %s: %s -> %s%s%s", sc->name, screens_state_name(from),
			 screens_state_name(to), err[0] ? ": " : "", err);
	else if (r.outcome != SCREEN_SHOWN)
		log_debug("screens %s: version %" PRIu64 ": %s", sc->name, r.version, err);
	if (sc->next && !sc->retry_at)
		scr_start(sc);
	r.error = err;
	if (from != to && s->cbs.state) {
		screens_health(s, sc->index, &h);
		s->cbs.state(s->arg, sc->index, from, to, &h);
	}
	if (s->cbs.result)
		s->cbs.result(s->arg, &r);
}

/* ---- the body: the host's object with "version" first ---- */

/* True if the JSON object text @p[0..n) has a top-level member "version". */
static bool has_top_version(const char *p, size_t n)
{
	static const char key[] = "version";
	int depth = 0;
	bool in_str = false, esc = false, expect_key = false, is_key = false;
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (in_str) {
			if (esc) {
				esc = false;
			} else if (c == '\\') {
				esc = true;
			} else if (c == '"') {
				in_str = false;
				if (is_key && i - start == sizeof(key) - 1 &&
				    !memcmp(p + start, key, sizeof(key) - 1))
					return true;
			}
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			is_key = depth == 1 && expect_key;
			expect_key = false;
			start = i + 1;
			break;
		case '{':
		case '[':
			depth++;
			expect_key = depth == 1 && c == '{';
			break;
		case '}':
		case ']':
			depth--;
			break;
		case ',':
			expect_key = depth == 1;
			break;
		default:
			break;
		}
	}
	return false;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Build {"version":V,<members of @content>}. */
static int content_build(uint64_t version, const char *content, struct content **out)
{
	const char *b = content, *e = content + strlen(content);
	char head[40];
	size_t inner, hl, len;
	struct content *c;

	while (b < e && is_ws(*b))
		b++;
	while (e > b && is_ws(e[-1]))
		e--;
	if (e - b < 2 || *b != '{' || e[-1] != '}')
		return -EINVAL;
	if (!utf8_valid(b, (size_t)(e - b)) || has_top_version(b, (size_t)(e - b)))
		return -EINVAL;
	b++; /* inside the braces */
	e--;
	while (b < e && is_ws(*b))
		b++;
	while (e > b && is_ws(e[-1]))
		e--;
	inner = (size_t)(e - b);
	hl = (size_t)snprintf(head, sizeof(head), "{\"version\":%" PRIu64 "%s", version,
			      inner ? "," : "");
	len = hl + inner + 1;
	if (len > SCREENS_BODY_MAX)
		return -EMSGSIZE;
	c = malloc(sizeof(*c) + len + 1);
	if (!c)
		return -ENOMEM;
	c->version = version;
	c->len = len;
	memcpy(c->body, head, hl);
	memcpy(c->body + hl, b, inner);
	c->body[hl + inner] = '}';
	c->body[len] = '\0';
	*out = c;
	return 0;
}

/* ---- public API ---- */

int screens_new(struct loop *loop, const struct screen_cfg *cfg, size_t n,
		const struct screens_opts *opts, const struct screens_cbs *cbs, void *arg,
		struct screens **out)
{
	struct screens *s;
	struct screens_opts o = {0};
	int rc;

	if (!loop || !cfg || !out || !n || n > SCREENS_MAX)
		return -EINVAL;
	if (opts)
		o = *opts;
	if (!o.timeout_ms)
		o.timeout_ms = SCREENS_DEFAULT_TIMEOUT_MS;
	if (!o.backoff_min_ms)
		o.backoff_min_ms = SCREENS_DEFAULT_BACKOFF_MIN_MS;
	if (!o.backoff_max_ms)
		o.backoff_max_ms = o.backoff_min_ms > SCREENS_DEFAULT_BACKOFF_MAX_MS
					   ? o.backoff_min_ms
					   : SCREENS_DEFAULT_BACKOFF_MAX_MS;
	if (o.backoff_max_ms < o.backoff_min_ms || o.timeout_ms > INT32_MAX ||
	    o.backoff_max_ms > INT32_MAX)
		return -EINVAL;
	if (o.ca_file && strlen(o.ca_file) >= PATH_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!ident_valid(cfg[i].name) || !zone_valid(cfg[i].zone) || !url_valid(cfg[i].url))
			return -EINVAL;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(cfg[i].name, cfg[j].name))
				return -EINVAL;
		}
	}
	s = calloc(1, sizeof(*s) + n * sizeof(s->scr[0]));
	if (!s)
		return -ENOMEM;
	s->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (s->headers) {
		/* No "Expect: 100-continue" round trip before larger bodies. */
		struct curl_slist *t = curl_slist_append(s->headers, "Expect:");

		if (!t) {
			curl_slist_free_all(s->headers);
			s->headers = NULL;
		} else {
			s->headers = t;
		}
	}
	if (!s->headers)
		goto err_free;
	rc = curlloop_new(loop, "screens", &s->cl);
	if (rc)
		goto err_headers;
	s->loop = loop;
	if (cbs)
		s->cbs = *cbs;
	s->arg = arg;
	s->timeout_ms = o.timeout_ms;
	s->backoff_min_ms = o.backoff_min_ms;
	s->backoff_max_ms = o.backoff_max_ms;
	if (o.ca_file)
		str_copy(s->ca_file, sizeof(s->ca_file), o.ca_file);
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		struct scr *sc = &s->scr[i];

		sc->s = s;
		sc->index = i;
		str_copy(sc->name, sizeof(sc->name), cfg[i].name);
		str_copy(sc->zone, sizeof(sc->zone), cfg[i].zone);
		str_copy(sc->url, sizeof(sc->url), cfg[i].url);
		sc->xfer.done = scr_done;
		sc->xfer.arg = sc;
		sc->h.last_latency_ms = -1;
	}
	*out = s;
	return 0;

err_headers:
	curl_slist_free_all(s->headers);
err_free:
	free(s);
	return -ENOMEM;
}

void screens_free(struct screens *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct scr *sc = &s->scr[i];

		scr_drop_easy(sc);
		free(sc->cur);
		free(sc->next);
	}
	loop_timer_del(s->loop, s->retry_timer);
	curlloop_free(s->cl);
	curl_slist_free_all(s->headers);
	free(s);
}

int screens_find(const struct screens *s, const char *name)
{
	if (!s || !name)
		return -ENOENT;
	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->scr[i].name, name))
			return (int)i;
	}
	return -ENOENT;
}

size_t screens_count(const struct screens *s)
{
	return s ? s->n : 0;
}

int screens_push(struct screens *s, size_t index, uint64_t version, const char *content)
{
	struct scr *sc;
	struct content *c = NULL;
	int rc;

	if (!s || index >= s->n || !content || !version || version > SCREENS_VERSION_MAX)
		return -EINVAL;
	sc = &s->scr[index];
	if (version <= sc->h.version_wanted)
		return -ESTALE;
	rc = content_build(version, content, &c);
	if (rc)
		return rc;
	free(sc->next); /* superseded before it was sent */
	sc->next = c;
	sc->h.version_wanted = version;
	if (!sc->easy && !sc->retry_at)
		scr_start(sc);
	return 0;
}

int screens_health(const struct screens *s, size_t index, struct screen_health *h)
{
	const struct scr *sc;

	if (!s || !h || index >= s->n)
		return -EINVAL;
	sc = &s->scr[index];
	*h = sc->h;
	h->pending = sc->next != NULL;
	h->retry_in_ms = 0;
	if (sc->retry_at) {
		int64_t left = sc->retry_at - now_mono_ms();

		h->retry_in_ms = left > 0 ? left : 1;
	}
	return 0;
}
