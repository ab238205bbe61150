/*
 * ctl: the control socket the technician's CLI (shelfctl) talks to.
 *
 * A Unix stream socket (ntpctl-style): at start it refuses to run if a live
 * daemon answers on the path, unlinks a stale socket, binds under a umask
 * and chmods it 0660 (owner + technicians' group). Each client sends one
 * request line (a JSON object, at most CTL_REQ_MAX bytes, e.g.
 * {"cmd":"status"}) and gets one JSON document back, then the connection is
 * closed. Replies are bounded (CTL_REPLY_MAX). Everything is non-blocking.
 */
#ifndef SHELF_CTL_H
#define SHELF_CTL_H

#include <cjson/cJSON.h>

#include "loop.h"

#define CTL_REQ_MAX 4096
#define CTL_REPLY_MAX (1024 * 1024)
#define CTL_MAX_CLIENTS 16
#define CTL_TIMEOUT_MS 5000

struct ctl;

/*
 * Handle request @req. On success fill @reply (an empty object given to
 * the handler) and return 0; on failure return a negative errno and put a
 * message in @err (the client gets {"ok":false,"error":err}).
 */
typedef int (*ctl_handler)(void *arg, const cJSON *req, cJSON *reply, char *err, size_t errsz);

/*
 * Listen on @path. Returns 0, -EADDRINUSE (a live daemon answers there),
 * -ENAMETOOLONG, or another negative errno. Free with ctl_free().
 */
int ctl_open(struct loop *l, const char *path, ctl_handler h, void *arg, struct ctl **out);
/* Close every client and the socket, unlink the path. NULL-safe. */
void ctl_free(struct ctl *c);

#endif
