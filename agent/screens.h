/*
 * screens: pushes content to the store's guide screens (kind: screen
 * devices) over HTTP, from our loop, through libcurl's multi interface
 * (curlloop.h). The screen side of the contract is scripts/screen/README.md.
 *
 * Desired/reported, per screen. The host hands over the newest content of a
 * screen with a version (screens_push); the module POSTs it and reports what
 * came of it. Only the newest content is ever sent: a push while a request
 * is in flight (or while a retry waits) replaces the content waiting to go,
 * and when the request in flight ends, the waiting content is sent if it is
 * newer than what was just sent. So pushes v1..v5 in a quick row while v1
 * is on the wire send v1 then v5, never v2..v4.
 *
 * The body sent is the host's content object with "version" inserted as its
 * first member: screens_push(s, i, 17, "{\"store\":\"S1\",...}") POSTs
 * {"version":17,"store":"S1",...}. The host's text must be a JSON object
 * without a top-level "version" member; the module does not otherwise parse
 * it (the host builds it). Versions are the host's: monotonic per screen and
 * persisted by the host across restarts.
 *
 * What an answer means (per request):
 *   2xx          shown. Any body.
 *   409          the screen shows a newer version than this one ("shown" in
 *                its JSON body): reported (SCREEN_STALE, with that number)
 *                so the host continues above it; this content is not retried.
 *   400, other 4xx and 3xx (no redirects are followed): the screen refuses
 *                this content (SCREEN_REJECTED, with the body's "error"
 *                text); not retried. A newer push is sent at once.
 *   5xx, 408, 429, connection errors, timeouts: SCREEN_RETRY: the newest
 *                content is sent again after a backoff of backoff_min_ms,
 *                doubling per consecutive failure up to backoff_max_ms (no
 *                jitter). A push during the backoff waits for it too: a
 *                dead screen is not hammered by a busy till.
 *
 * Health: a screen is SCREEN_NEVER until its first request ends, then
 * SCREEN_OK after a 2xx or a 409 (it answers and shows something current),
 * SCREEN_FAILING after anything else (retryable or rejected). The host's
 * state callback runs on every change between OK and FAILING (and from
 * NEVER to either), which is where the daemon emits its "screen" events;
 * the result callback runs after every request.
 *
 * Independence: at most one request per screen, all screens concurrently,
 * nothing blocks (DNS through libcurl's threaded resolver); every request
 * has a whole-transfer timeout (timeout_ms, connecting included), so a slow
 * or dead screen delays only itself.
 *
 * Transport: http:// and https:// URLs only; no redirects; no proxy (the
 * environment's http_proxy and friends are ignored, as in fetch.h); TLS
 * peer and host name always verified (ca_file, or the system bundle).
 * Connections are kept alive between requests to the same screen.
 *
 * Clocks: latency from libcurl's transfer time; health times are wall-clock
 * epoch ms (now_wall_ms); backoff deadlines on the monotonic clock.
 */
#ifndef SHELF_SCREENS_H
#define SHELF_SCREENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

/* Screens per module, and the limits on what describes one. */
#define SCREENS_MAX 32
#define SCREENS_NAME_MAX 64 /* name: [A-Za-z0-9_-]{1,64}; zone: 1..64 bytes of text */
#define SCREENS_URL_MAX 2048
/* Largest body (with the inserted version), the contract's 256 KiB. */
#define SCREENS_BODY_MAX (256 * 1024)
/* Longest error text kept (bytes, with the NUL). */
#define SCREENS_ERR_MAX 200
/* Version range of the contract: 1 .. 2^53-1. */
#define SCREENS_VERSION_MAX ((UINT64_C(1) << 53) - 1)

#define SCREENS_DEFAULT_TIMEOUT_MS 2000
#define SCREENS_DEFAULT_BACKOFF_MIN_MS 1000
#define SCREENS_DEFAULT_BACKOFF_MAX_MS 60000

struct screens;

/* One screen of the config. Strings are copied by screens_new. */
struct screen_cfg {
	const char *name; /* the device id, [A-Za-z0-9_-]{1,64} */
	const char *url; /* http(s)://..., <= SCREENS_URL_MAX bytes */
	const char *zone; /* 1..64 bytes of text, no control characters */
};

enum screen_state {
	SCREEN_NEVER = 0, /* no request has ended yet */
	SCREEN_OK, /* the last request got a 2xx or a 409 */
	SCREEN_FAILING, /* the last request failed or was refused */
};

enum screen_outcome {
	SCREEN_SHOWN, /* 2xx */
	SCREEN_STALE, /* 409: the screen shows a newer version (result.shown) */
	SCREEN_REJECTED, /* 400 or another 4xx/3xx: this content will not be sent again */
	SCREEN_RETRY, /* failed; the newest content goes again after result.retry_in_ms */
};

/* The end of one request, for the result callback. */
struct screen_result {
	size_t index; /* the screen */
	uint64_t version; /* the version this request carried */
	enum screen_outcome outcome;
	/*
	 * 0 (shown), -ESTALE (409), -EPROTO (an HTTP status that is not 2xx),
	 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (unreachable, not resolved),
	 * -EIO (another network or TLS error), -ENOMEM.
	 */
	int status;
	int http_code; /* 0 when no answer came */
	uint64_t shown; /* SCREEN_STALE: the screen's version (0 if it did not say) */
	int64_t latency_ms; /* from the start of the request to its end */
	int64_t retry_in_ms; /* SCREEN_RETRY: the backoff; else 0 */
	const char *error; /* "" when shown; else why (valid during the call only) */
};

/* A screen's health, for `shelfctl screens`. */
struct screen_health {
	enum screen_state state;
	int64_t last_success_ms; /* wall clock, epoch ms; 0: never */
	int64_t last_error_ms; /* wall clock, epoch ms; 0: never */
	char last_error[SCREENS_ERR_MAX]; /* "" if none */
	int64_t last_latency_ms; /* of the last request that got an answer; -1: none */
	int last_http_code; /* of the last request that ended; 0: no answer (or none yet) */
	uint64_t attempts; /* requests started */
	uint64_t consecutive_failures; /* requests ended in a row as SCREEN_RETRY/REJECTED */
	uint64_t version_shown; /* last version answered 2xx (or a 409's "shown"); 0: none */
	uint64_t version_wanted; /* the newest version pushed; 0: none */
	bool in_flight; /* a request is on the wire */
	bool pending; /* content is waiting to be sent (now or after the backoff) */
	int64_t retry_in_ms; /* > 0: the next attempt waits this long; 0: none waiting */
};

/*
 * Host callbacks, from the loop. They may call screens_push and
 * screens_health (for any screen), not screens_free. @arg is the one given
 * to screens_new.
 *
 * @state: screen @index went from @from to @to (from == to never happens).
 * @result: a request of screen @index ended; @r is valid during the call.
 * Either may be NULL. On one request's end, @state runs before @result.
 */
struct screens_cbs {
	void (*state)(void *arg, size_t index, enum screen_state from, enum screen_state to,
		      const struct screen_health *h);
	void (*result)(void *arg, const struct screen_result *r);
};

struct screens_opts {
	unsigned timeout_ms; /* whole request, connect included; 0: the default */
	unsigned backoff_min_ms; /* first retry delay; 0: the default */
	unsigned backoff_max_ms; /* longest retry delay; 0: the default (>= min) */
	const char *ca_file; /* CA bundle for https (copied); NULL: the system's */
};

/*
 * Create the pusher for @n screens @cfg[0..n) (indexes are the host's) on
 * @loop (which must outlive it). @opts may be NULL (all defaults). Nothing
 * is sent until screens_push. Returns 0 and *@out (free with screens_free),
 * or:
 *   -EINVAL  no loop/out, n 0 or over SCREENS_MAX, a name not
 *            [A-Za-z0-9_-]{1,64}, a zone not 1..64 bytes without control
 *            characters, two screens with one name, a URL not
 *            http(s):// or over SCREENS_URL_MAX, a ca_file over PATH_MAX,
 *            backoff_max_ms < backoff_min_ms
 *   -ENOMEM
 */
int screens_new(struct loop *loop, const struct screen_cfg *cfg, size_t n,
		const struct screens_opts *opts, const struct screens_cbs *cbs, void *arg,
		struct screens **out);

/*
 * Abort every request (no callbacks), unregister from the loop, free.
 * NULL-safe. Not from a callback of this module.
 */
void screens_free(struct screens *s);

/* The index of screen @name, or -ENOENT. */
int screens_find(const struct screens *s, const char *name);
/* The number of screens. */
size_t screens_count(const struct screens *s);

/*
 * Make @content (a JSON object's text, without "version") with @version the
 * newest content of screen @index: it is sent now if the screen is idle,
 * else when the request in flight ends or the backoff is over, unless a
 * newer push replaces it first. @content is copied. Returns 0, or:
 *   -EINVAL     bad index, @content not "{...}" (after white space), it has
 *               a top-level "version" member, or @version 0 or over
 *               SCREENS_VERSION_MAX
 *   -ESTALE     @version is not above the newest pushed for this screen
 *   -EMSGSIZE   the body would exceed SCREENS_BODY_MAX
 *   -ENOMEM
 * A request that cannot be started (libcurl out of memory) is not reported
 * here nor through the callbacks: it is logged, kept as the health's
 * last_error and tried again after the backoff.
 */
int screens_push(struct screens *s, size_t index, uint64_t version, const char *content);

/* Fill *@h for screen @index. Returns 0 or -EINVAL (bad index). */
int screens_health(const struct screens *s, size_t index, struct screen_health *h);

/* "never", "ok", "failing". */
const char *screens_state_name(enum screen_state st);

#endif
