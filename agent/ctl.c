/*
 * ctl: control socket server. See ctl.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "json.h"
#include "log.h"
#include "util.h"

struct ctl_client {
	int fd; /* -1 = free slot */
	char req[CTL_REQ_MAX + 1];
	size_t req_len;
	char *reply;
	size_t reply_len;
	size_t reply_off;
	int timer;
	struct ctl *owner;
};

struct ctl {
	struct loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ctl_handler handler;
	void *arg;
	struct ctl_client clients[CTL_MAX_CLIENTS];
};

static void client_close(struct ctl_client *c)
{
	if (c->fd < 0)
		return;
	loop_del_fd(c->owner->loop, c->fd);
	loop_timer_del(c->owner->loop, c->timer);
	close(c->fd);
	free(c->reply);
	c->fd = -1;
	c->reply = NULL;
	c->timer = 0;
}

static void client_timeout(struct loop *l, void *arg)
{
	struct ctl_client *c = arg;

	c->timer = 0;
	log_debug("ctl: client timed out");
	client_close(c);
}

static void client_write(struct ctl_client *c)
{
	while (c->reply_off < c->reply_len) {
		ssize_t n = write(c->fd, c->reply + c->reply_off, c->reply_len - c->reply_off);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_close(c);
			return;
		}
		c->reply_off += (size_t)n;
	}
	client_close(c);
}

/* Build the reply for the request held in c->req. */
static void client_handle(struct ctl_client *c)
{
	struct ctl *ctl = c->owner;
	cJSON *req = cJSON_ParseWithLength(c->req, c->req_len);
	cJSON *reply = cJSON_CreateObject();
	cJSON *data = cJSON_CreateObject();
	char err[256] = "";
	int rc;

	if (!reply || !data) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	} else if (!req || !cJSON_IsObject(req) ||
		   !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(req, "cmd"))) {
		rc = -EINVAL;
		snprintf(err, sizeof(err), "bad request: expected {\"cmd\":\"...\"}");
	} else {
		rc = ctl->handler(ctl->arg, req, data, err, sizeof(err));
	}
	if (reply) {
		cJSON_AddBoolToObject(reply, "ok", rc == 0);
		if (rc == 0) {
			cJSON_AddItemToObject(reply, "data", data);
			data = NULL;
		} else {
			cJSON_AddStringToObject(reply, "error", err[0] ? err : strerror(-rc));
		}
		json_ints_to_raw(reply);
		c->reply = cJSON_PrintUnformatted(reply);
	}
	cJSON_Delete(data);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	if (!c->reply) {
		client_close(c);
		return;
	}
	c->reply_len = strlen(c->reply);
	if (c->reply_len > CTL_REPLY_MAX) {
		free(c->reply);
		c->reply = strdup("{\"ok\":false,\"error\":\"reply too large\"}\n");
		if (!c->reply) {
			client_close(c);
			return;
		}
		c->reply_len = strlen(c->reply);
	}
	c->reply_off = 0;
	loop_mod_fd(ctl->loop, c->fd, EPOLLOUT);
	client_write(c);
}

static void client_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct ctl_client *c = arg;

	if (c->reply) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			client_write(c);
		return;
	}
	for (;;) {
		ssize_t n = read(fd, c->req + c->req_len, CTL_REQ_MAX - c->req_len);
		char *nl;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_close(c);
			return;
		}
		if (n == 0) {
			/* EOF before a newline: treat what we have as the request. */
			if (c->req_len == 0) {
				client_close(c);
				return;
			}
			client_handle(c);
			return;
		}
		c->req_len += (size_t)n;
		nl = memchr(c->req, '\n', c->req_len);
		if (nl) {
			c->req_len = (size_t)(nl - c->req);
			client_handle(c);
			return;
		}
		if (c->req_len == CTL_REQ_MAX) {
			log_warn("ctl: request over %d bytes, closing", CTL_REQ_MAX);
			client_close(c);
			return;
		}
	}
}

static void ctl_accept(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct ctl *ctl = arg;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c = NULL;

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("ctl: accept: %s", strerror(errno));
			return;
		}
		for (size_t i = 0; i < CTL_MAX_CLIENTS; i++) {
			if (ctl->clients[i].fd < 0) {
				c = &ctl->clients[i];
				break;
			}
		}
		if (!c) {
			static const char busy[] = "{\"ok\":false,\"error\":\"daemon busy\"}\n";

			if (write(cfd, busy, sizeof(busy) - 1) < 0)
				log_debug("ctl: busy reply: %s", strerror(errno));
			close(cfd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->owner = ctl;
		c->fd = cfd;
		if (loop_add_fd(l, cfd, EPOLLIN, client_io, c) < 0) {
			close(cfd);
			c->fd = -1;
			continue;
		}
		c->timer = loop_timer_add(l, CTL_TIMEOUT_MS, client_timeout, c);
	}
}

/* True if something accepts connections on @path. */
static bool socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return alive;
}

int ctl_open(struct loop *l, const char *path, ctl_handler h, void *arg, struct ctl **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ctl *ctl;
	mode_t old_mask;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (socket_alive(&sa)) {
		log_err("ctl: a daemon already answers on %s", path);
		return -EADDRINUSE;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		ctl->clients[i].fd = -1;
	ctl->loop = l;
	ctl->handler = h;
	ctl->arg = arg;
	memcpy(ctl->path, sa.sun_path, sizeof(ctl->path));
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	/* A stale socket from a crashed daemon: nobody answered, remove it. */
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		log_err("ctl: cannot remove stale %s: %s", path, strerror(errno));
		goto err_close;
	}
	old_mask = umask(0117);
	rc = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc < 0) {
		rc = -errno;
		log_err("ctl: bind %s: %s", path, strerror(errno));
		goto err_close;
	}
	if (chmod(path, 0660) < 0)
		log_warn("ctl: chmod 0660 %s: %s", path, strerror(errno));
	if (listen(ctl->fd, 16) < 0) {
		rc = -errno;
		goto err_unlink;
	}
	rc = loop_add_fd(l, ctl->fd, EPOLLIN, ctl_accept, ctl);
	if (rc < 0)
		goto err_unlink;
	*out = ctl;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(ctl->fd);
err_free:
	free(ctl);
	return rc;
}

void ctl_free(struct ctl *ctl)
{
	if (!ctl)
		return;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		client_close(&ctl->clients[i]);
	loop_del_fd(ctl->loop, ctl->fd);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}
