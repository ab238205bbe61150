/*
 * curlloop: one libcurl multi handle driven by our loop, for the modules that
 * make HTTP requests (fetch: snapshot downloads; screens: guide-screen
 * pushes). After curl's docs/examples/ephiperfifo.c:
 *
 * - CURLMOPT_SOCKETFUNCTION: libcurl says which socket to watch for what;
 *   it is added to, modified in or deleted from the loop.
 * - CURLMOPT_TIMERFUNCTION: libcurl says when it wants to be called next;
 *   one loop timer is kept for it. libcurl must not be re-entered from that
 *   callback, so even a 0 ms timeout goes through the loop.
 * - The loop's callbacks hand the event to curl_multi_socket_action, then
 *   the finished transfers are read with curl_multi_info_read and each is
 *   dispatched to the callback registered with its easy handle.
 *
 * The user owns its easy handles: it creates and configures them, adds them
 * here with a struct curlloop_xfer (CURLOPT_PRIVATE is taken by this module:
 * do not set it), and removes and cleans them up. Nothing blocks; DNS goes
 * through libcurl's threaded resolver (a warning is logged at creation if
 * this libcurl resolves synchronously).
 */
#ifndef SHELF_CURLLOOP_H
#define SHELF_CURLLOOP_H

#include <curl/curl.h>

#include "loop.h"

/* Sockets libcurl may have us watch at once (connections, resolver pipes). */
#define CURLLOOP_MAX_SOCKS 64

struct curlloop;

/*
 * A transfer finished (@result is libcurl's code for it; the easy handle is
 * still in the multi). Called from a loop callback, never from inside
 * libcurl. The callback may call curlloop_remove (it usually does, then
 * curl_easy_cleanup) and curlloop_add (for this or any easy handle); it
 * must not call curlloop_free.
 */
typedef void (*curlloop_done_cb)(void *arg, CURL *easy, CURLcode result);

/*
 * The completion of one easy handle: owned by the caller, it must stay valid
 * (same address) while the handle is in the multi.
 */
struct curlloop_xfer {
	curlloop_done_cb done;
	void *arg;
};

/*
 * Create a multi handle on @loop (which must outlive it). @name prefixes the
 * log lines ("fetch", "screens"; copied up to 15 bytes). Calls
 * curl_global_init (reference-counted by libcurl). Returns 0 and *@out, to
 * be freed with curlloop_free, -EINVAL or -ENOMEM.
 */
int curlloop_new(struct loop *loop, const char *name, struct curlloop **out);

/*
 * Unwatch every socket libcurl still holds (cached connections), drop the
 * timer, clean up the multi and free. Remove every easy handle first.
 * NULL-safe. Not from a curlloop_done_cb.
 */
void curlloop_free(struct curlloop *c);

/*
 * Add @easy to the multi; @x->done(@x->arg, @easy, result) runs once when it
 * finishes, unless it is removed before. Sets CURLOPT_PRIVATE. Returns 0 or
 * -ENOMEM (libcurl refused it; logged).
 */
int curlloop_add(struct curlloop *c, CURL *easy, struct curlloop_xfer *x);

/*
 * Take @easy out of the multi (no callback afterwards); the caller still
 * owns it (curl_easy_cleanup). Safe with NULL and with a handle not added.
 */
void curlloop_remove(struct curlloop *c, CURL *easy);

#endif
