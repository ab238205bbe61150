/*
 * ctl: the emulator's control socket. A unix stream socket; each client
 * sends command lines and gets exactly one line back per command (the
 * emulator answers with one JSON object). Up to CTL_MAX_CLIENTS at once,
 * lines up to CTL_LINE_MAX bytes (longer ones are answered with an error and
 * skipped). Non-blocking; driven from the emulator's poll loop. Host-only.
 */
#ifndef ESL_CTL_H
#define ESL_CTL_H

#include <poll.h>
#include <stddef.h>

#define CTL_MAX_CLIENTS 8
#define CTL_LINE_MAX 1024

/* Handle one command @line; write the reply (no newline) into @reply (capacity @cap). */
typedef void (*ctl_cmd_fn)(void *arg, char *line, char *reply, size_t cap);

struct ctl_client {
	int fd;
	size_t n;
	char buf[CTL_LINE_MAX];
};

struct ctl {
	int fd; /* listening socket, -1 when off */
	char path[108];
	ctl_cmd_fn cmd;
	void *arg;
	struct ctl_client c[CTL_MAX_CLIENTS];
};

/* Listen on @path (a stale socket file is replaced). 0 or -errno. */
int ctl_open(struct ctl *ctl, const char *path, ctl_cmd_fn cmd, void *arg);

/* Close every connection and remove the socket file. Safe on a closed ctl. */
void ctl_close(struct ctl *ctl);

/* Add the pollfds to watch to @pfd (room for 1 + CTL_MAX_CLIENTS); returns how many. */
int ctl_pollfds(const struct ctl *ctl, struct pollfd *pfd);

/* Accept, read and answer whatever is ready (never blocks). */
void ctl_service(struct ctl *ctl);

#endif
