/*
 * fetch: a bounded, verified, resumable file downloader driven by our loop
 * through libcurl's multi-socket interface (the glue, shared with the guide
 * screens, is curlloop.h: CURLMOPT_SOCKETFUNCTION and CURLMOPT_TIMERFUNCTION
 * mapped onto the loop's fds and timers). Nothing blocks on the network; DNS goes through libcurl's
 * threaded resolver. Used for price snapshots (issue 3).
 *
 * One transfer writes to "@dest.part", hashing (SHA-256, OpenSSL EVP) as it
 * goes; when the body is complete and checks out (size, hash) the part is
 * fsynced, renamed to @dest and the directory fsynced, then the callback runs.
 *
 * Resume: if "@dest.part" exists and @expect_sha256 is given, the part is
 * re-hashed from the start (1 MiB per loop turn, so the loop keeps turning)
 * and the request asks for "Range: bytes=N-". A 200 answer (Range ignored)
 * restarts from 0 (truncate); a 416 whose Content-Range total equals the
 * part's size means the part is already whole. Without @expect_sha256 an
 * existing part is discarded: nothing could tell a stale part from a good
 * one. If @expect_size is set and the part already has that size, no request
 * is made at all. Use a @dest per content (e.g. named by its sha256) so a
 * part never mixes two versions.
 *
 * Bounds: the request is refused (-EFBIG) as soon as Content-Length or
 * Content-Range says the file is larger than @max_bytes, and the transfer is
 * aborted before any byte past @max_bytes is written. A whole-transfer
 * timeout and a low-speed timeout always apply. At most FETCH_MAX_JOBS
 * transfers at once, at most 3 redirects (http and https only; from an https
 * URL only to https).
 *
 * Proxy: none unless @proxy is given. The environment (http_proxy,
 * HTTPS_PROXY, ...) is ignored on purpose: a daemon's behaviour must not
 * change with whatever environment a service manager hands it.
 *
 * TLS: peer and host name are always verified. With @ca_file only that bundle
 * is trusted (the system CA directory is not consulted); without it, the
 * system default bundle.
 *
 * Logs name the URL without its query, fragment or user info (signed URLs
 * carry secrets there).
 *
 * Disk work that remains in the loop: writes of received data (page cache),
 * the re-hash reads (bounded per turn), and one fsync of the file and of its
 * directory at the end of each successful transfer.
 */
#ifndef SHELF_FETCH_H
#define SHELF_FETCH_H

#include <stdint.h>

#include "loop.h"

#define FETCH_MAX_JOBS 4
/* Longest URL accepted (bytes, without the NUL). */
#define FETCH_URL_MAX 4096
#define FETCH_DEFAULT_TIMEOUT_S 300
#define FETCH_DEFAULT_LOW_SPEED_S 60
#define FETCH_MAX_REDIRS 3

struct fetch;

/*
 * One download. Every string is copied by fetch_start (the caller may free
 * them after the call). Paths (@dest + ".part", @ca_file) must fit PATH_MAX.
 */
struct fetch_req {
	const char *url; /* http:// or https://, at most FETCH_URL_MAX bytes */
	const char *ca_file; /* CA bundle for https; NULL: system default */
	const char *proxy; /* e.g. "http://10.0.0.1:3128"; NULL: no proxy */
	const char *dest; /* final path; data goes to dest + ".part" first */
	uint64_t max_bytes; /* > 0: refuse anything larger */
	uint64_t expect_size; /* 0: unknown; else the file must have exactly this size */
	const char *expect_sha256; /* 64 lowercase hex digits, or NULL (then no resume) */
	unsigned timeout_s; /* whole transfer; 0: FETCH_DEFAULT_TIMEOUT_S */
	unsigned low_speed_s; /* abort below 1 byte/s for this long; 0: FETCH_DEFAULT_LOW_SPEED_S */
};

/*
 * The end of a transfer, called from the loop (a zero-delay timer), never
 * from inside libcurl. The callback may call fetch_start, fetch_cancel and
 * fetch_free. @why is valid during the call only. @bytes: bytes in the file
 * (or in the part, on failure).
 *
 * @status:
 *   0              @dest is complete, verified, renamed from the part, fsynced
 *   -EFBIG         larger than max_bytes (Content-Length, Content-Range or the
 *                  bytes received); the part is removed
 *   -EBADMSG       sha256 or expect_size mismatch; the part is removed
 *   -EPROTO        HTTP status other than 200/206 ("HTTP 404"), too many
 *                  redirects, a redirect to a refused scheme, a bad
 *                  Content-Range; the part is kept
 *   -ETIMEDOUT     timeout_s or low_speed_s exceeded; the part is kept
 *   -ECONNREFUSED  connection refused; -EHOSTUNREACH: host unreachable or
 *                  not resolved; -EIO: any other network or TLS error
 *                  (@why is curl's message, e.g. "SSL certificate problem:
 *                  ..."); the part is kept
 *   -ENOMEM        out of memory
 *   other -errno   local file errors (write, fsync, rename: -ENOSPC, -EIO,
 *                  -EACCES, ...); the part is kept when it can be
 * -ECANCELED is never reported: a cancelled transfer has no callback.
 */
typedef void (*fetch_done_cb)(void *arg, int status, const char *why, uint64_t bytes);

/*
 * Create a downloader on @loop (which must outlive it). Calls
 * curl_global_init (reference-counted by libcurl). Returns 0 and *@out, to be
 * freed with fetch_free, or -ENOMEM.
 */
int fetch_new(struct loop *loop, struct fetch **out);

/*
 * Cancel every transfer (no callbacks, parts kept), unregister from the loop,
 * free. NULL-safe. May be called from a fetch_done_cb.
 */
void fetch_free(struct fetch *f);

/*
 * Start downloading @r->url to @r->dest; @cb(@arg, ...) runs once at the end
 * unless the transfer is cancelled. Opens (creates) the part file now.
 * Returns 0 and *@id (> 0, for fetch_cancel; @id may be NULL), or:
 *   -EINVAL        no url/dest/cb, a scheme other than http/https, a URL
 *                  over FETCH_URL_MAX, a path over PATH_MAX, max_bytes 0,
 *                  expect_size > max_bytes, expect_sha256 not 64 lowercase hex
 *   -EBUSY         FETCH_MAX_JOBS transfers running, or one to the same dest
 *   -ENOMEM        out of memory (also libcurl's setup failures)
 *   other -errno   opening, sizing or truncating the part file (open(2),
 *                  fstat(2), ftruncate(2)): -EACCES, -ENOENT, ...
 */
int fetch_start(struct fetch *f, const struct fetch_req *r, fetch_done_cb cb, void *arg, int *id);

/*
 * Stop transfer @id: no callback will run for it; the part file is kept
 * (closed, not fsynced) so a later fetch_start resumes. If the transfer had
 * already finished but its callback had not run yet, @dest may already be in
 * place. Safe with an unknown or finished id.
 */
void fetch_cancel(struct fetch *f, int id);

#endif
