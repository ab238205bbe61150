/*
 * ctl: line-oriented control socket for the emulator (see ctl.h).
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ctl_open(struct ctl *ctl, const char *path, ctl_cmd_fn cmd, void *arg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int rc;

	memset(ctl, 0, sizeof(*ctl));
	ctl->fd = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		ctl->c[i].fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	ctl->cmd = cmd;
	ctl->arg = arg;
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0)
		return -errno;
	unlink(path);
	if (bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ctl->fd, 8) != 0) {
		rc = -errno;
		close(ctl->fd);
		ctl->fd = -1;
		return rc;
	}
	return 0;
}

static void client_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->n = 0;
}

void ctl_close(struct ctl *ctl)
{
	if (ctl->fd < 0)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		client_close(&ctl->c[i]);
	close(ctl->fd);
	ctl->fd = -1;
	unlink(ctl->path);
}

int ctl_pollfds(const struct ctl *ctl, struct pollfd *pfd)
{
	int n = 0;

	if (ctl->fd < 0)
		return 0;
	pfd[n++] = (struct pollfd){.fd = ctl->fd, .events = POLLIN};
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl->c[i].fd >= 0)
			pfd[n++] = (struct pollfd){.fd = ctl->c[i].fd, .events = POLLIN};
	return n;
}

/* Write the whole reply line; the client reads it at once, so a short wait is fine. */
static void reply(struct ctl_client *c, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t k = write(c->fd, s + off, n - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = c->fd, .events = POLLOUT};

			if (poll(&p, 1, 1000) <= 0)
				break;
			continue;
		}
		if (k <= 0)
			break;
		off += (size_t)k;
	}
}

static void client_read(struct ctl *ctl, struct ctl_client *c)
{
	static char out[16384];
	ssize_t k = read(c->fd, c->buf + c->n, sizeof(c->buf) - c->n);
	char *nl;

	if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(c);
		return;
	}
	if (k < 0)
		return;
	c->n += (size_t)k;
	while ((nl = memchr(c->buf, '\n', c->n)) != NULL) {
		size_t len = (size_t)(nl - c->buf);

		*nl = '\0';
		if (len && c->buf[len - 1] == '\r')
			c->buf[len - 1] = '\0';
		out[0] = '\0';
		ctl->cmd(ctl->arg, c->buf, out, sizeof(out) - 1);
		out[sizeof(out) - 2] = '\0';
		len = strlen(out);
		out[len] = '\n';
		out[len + 1] = '\0';
		reply(c, out);
		len = (size_t)(nl - c->buf);
		memmove(c->buf, nl + 1, c->n - len - 1);
		c->n -= len + 1;
	}
	if (c->n == sizeof(c->buf)) {
		reply(c, "{\"ok\":false,\"error\":\"line too long\"}\n");
		c->n = 0;
	}
}

void ctl_service(struct ctl *ctl)
{
	if (ctl->fd < 0)
		return;
	for (;;) {
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int i;

		if (fd < 0)
			break;
		for (i = 0; i < CTL_MAX_CLIENTS && ctl->c[i].fd >= 0; i++)
			;
		if (i == CTL_MAX_CLIENTS) {
			close(fd);
			continue;
		}
		ctl->c[i].fd = fd;
		ctl->c[i].n = 0;
	}
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl->c[i].fd >= 0)
			client_read(ctl, &ctl->c[i]);
}
