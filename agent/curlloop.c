/*
 * curlloop: a libcurl multi handle on our loop. See curlloop.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "curlloop.h"
#include "log.h"
#include "util.h"

struct curlloop {
	struct loop *loop;
	CURLM *multi;
	bool closing;
	int timer; /* loop timer id for libcurl's timeout, 0 if none */
	int socks[CURLLOOP_MAX_SOCKS]; /* fds we watch for libcurl, -1 free */
	char name[16];
};

/* Hand the finished transfers to their callbacks. */
static void check_done(struct curlloop *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct curlloop_xfer *x;
		char *priv = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		x = (struct curlloop_xfer *)priv;
		if (!x || !x->done)
			continue;
		x->done(x->arg, easy, result); /* may remove/add handles: msg is stale now */
	}
}

static void on_sock_event(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct curlloop *c = arg;
	int action = 0, running;
	CURLMcode mc;

	if (events & EPOLLIN)
		action |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		action |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		action |= CURL_CSELECT_ERR;
	mc = curl_multi_socket_action(c->multi, fd, action, &running);
	if (mc != CURLM_OK && mc != CURLM_BAD_SOCKET)
		log_err("%s: curl_multi_socket_action: %s", c->name, curl_multi_strerror(mc));
	check_done(c);
}

static void sock_forget(struct curlloop *c, int fd)
{
	for (size_t i = 0; i < CURLLOOP_MAX_SOCKS; i++) {
		if (c->socks[i] == fd)
			c->socks[i] = -1;
	}
}

static int sock_remember(struct curlloop *c, int fd)
{
	for (size_t i = 0; i < CURLLOOP_MAX_SOCKS; i++) {
		if (c->socks[i] == fd)
			return 0;
	}
	for (size_t i = 0; i < CURLLOOP_MAX_SOCKS; i++) {
		if (c->socks[i] < 0) {
			c->socks[i] = fd;
			return 0;
		}
	}
	return -ENOSPC;
}

/* CURLMOPT_SOCKETFUNCTION: watch @s for @what in our loop. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curlloop *c = userp;
	uint32_t ev = 0;
	int rc;

	if (c->closing)
		return 0;
	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(c->loop, s);
		sock_forget(c, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	rc = loop_mod_fd(c->loop, s, ev);
	if (rc == -ENOENT) {
		/* New, or a stale slot of a closed fd with the same number. */
		loop_del_fd(c->loop, s);
		rc = sock_remember(c, s);
		if (!rc) {
			rc = loop_add_fd(c->loop, s, ev, on_sock_event, c);
			if (rc)
				sock_forget(c, s);
		}
	}
	if (rc) {
		log_err("%s: cannot watch socket %d: %s", c->name, s, strerror(-rc));
		return -1;
	}
	return 0;
}

static void on_curl_timer(struct loop *l, void *arg)
{
	struct curlloop *c = arg;
	int running;
	CURLMcode mc;

	c->timer = 0; /* the loop freed it before calling us */
	mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (mc != CURLM_OK)
		log_err("%s: curl_multi_socket_action: %s", c->name, curl_multi_strerror(mc));
	check_done(c);
}

/* CURLMOPT_TIMERFUNCTION: call libcurl back in @timeout_ms (-1: never). */
static int on_curl_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlloop *c = userp;
	int id;

	if (c->closing)
		return 0;
	loop_timer_del(c->loop, c->timer);
	c->timer = 0;
	if (timeout_ms < 0)
		return 0;
	id = loop_timer_add(c->loop, timeout_ms, on_curl_timer, c);
	if (id < 0) {
		log_err("%s: no loop timer for libcurl: %s", c->name, strerror(-id));
		return -1;
	}
	c->timer = id;
	return 0;
}

int curlloop_new(struct loop *loop, const char *name, struct curlloop **out)
{
	struct curlloop *c;
	const curl_version_info_data *vi;

	if (!loop || !name || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto err_free;
	c->multi = curl_multi_init();
	if (!c->multi)
		goto err_global;
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer_set) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
		goto err_multi;
	str_copy(c->name, sizeof(c->name), name);
	vi = curl_version_info(CURLVERSION_NOW);
	if (!(vi->features & CURL_VERSION_ASYNCHDNS))
		log_warn("%s: libcurl %s resolves names synchronously: DNS may block the loop",
			 c->name, vi->version);
	for (size_t i = 0; i < CURLLOOP_MAX_SOCKS; i++)
		c->socks[i] = -1;
	c->loop = loop;
	*out = c;
	return 0;

err_multi:
	curl_multi_cleanup(c->multi);
err_global:
	curl_global_cleanup();
err_free:
	free(c);
	return -ENOMEM;
}

void curlloop_free(struct curlloop *c)
{
	if (!c)
		return;
	/* Sockets libcurl still holds (cached connections): unwatch while open. */
	for (size_t i = 0; i < CURLLOOP_MAX_SOCKS; i++) {
		if (c->socks[i] >= 0)
			loop_del_fd(c->loop, c->socks[i]);
		c->socks[i] = -1;
	}
	loop_timer_del(c->loop, c->timer);
	c->timer = 0;
	c->closing = true;
	curl_multi_cleanup(c->multi);
	curl_global_cleanup();
	free(c);
}

int curlloop_add(struct curlloop *c, CURL *easy, struct curlloop_xfer *x)
{
	CURLMcode mc;

	if (!c || !easy || !x || !x->done)
		return -EINVAL;
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK)
		return -ENOMEM;
	mc = curl_multi_add_handle(c->multi, easy);
	if (mc != CURLM_OK) {
		log_err("%s: curl_multi_add_handle: %s", c->name, curl_multi_strerror(mc));
		return -ENOMEM;
	}
	return 0;
}

void curlloop_remove(struct curlloop *c, CURL *easy)
{
	if (!c || !easy)
		return;
	curl_multi_remove_handle(c->multi, easy);
}
