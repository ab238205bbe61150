/*
 * gpiod_double: libgpiod v1 calls backed by FIFOs. See gpiod_double.h and
 * README.md.
 *
 * Only what drivers/camera.c calls is here, with the signatures of
 * <gpiod.h>. The file-scope table of requested event fds stands in for the
 * kernel's per-fd state (the partial record, the "chip gone" marker); it is
 * the only mutable global and exists in test builds only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gpiod.h>

#include "gpiod_double.h"

#define MAX_OFFSET 4096 /* lines per fake chip */
#define MAX_EVENT_FDS 64
#define READ_CHUNK 64 /* records per read(2) */

struct gpiod_line {
	struct gpiod_chip *chip;
	unsigned int offset;
	int fd; /* -1 unless requested for events */
	struct gpiod_line *next;
};

struct gpiod_chip {
	char path[PATH_MAX]; /* DIR/NAME */
	char name[64];
	struct gpiod_line *lines;
};

/* A requested event fd: where its line lives, and a partial record. */
struct event_fd {
	bool used;
	int fd;
	char base[PATH_MAX]; /* DIR/NAME/N */
	unsigned char part[GPIOD_DOUBLE_RECORD];
	size_t npart;
};

static struct event_fd event_fds[MAX_EVENT_FDS];

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t gpiod_double_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* @dst = "@a/@b" or "@a/@b/@n@suffix" (@n < 0: none). Returns 0 or -ENAMETOOLONG. */
static int join(char *dst, size_t size, const char *a, const char *b, long n, const char *suffix)
{
	int len;

	if (n < 0)
		len = snprintf(dst, size, "%s/%s", a, b);
	else
		len = snprintf(dst, size, "%s/%s/%ld%s", a, b, n, suffix ? suffix : "");
	if (len < 0 || (size_t)len >= size)
		return -ENAMETOOLONG;
	return 0;
}

static bool exists(const char *base, const char *suffix)
{
	char p[PATH_MAX + 16];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", base, suffix);
	return stat(p, &st) == 0;
}

static struct event_fd *find_event_fd(int fd)
{
	for (size_t i = 0; i < MAX_EVENT_FDS; i++) {
		if (event_fds[i].used && event_fds[i].fd == fd)
			return &event_fds[i];
	}
	return NULL;
}

static int line_base(const struct gpiod_line *line, char *dst, size_t size)
{
	int len = snprintf(dst, size, "%s/%u", line->chip->path, line->offset);

	if (len < 0 || (size_t)len >= size)
		return -ENAMETOOLONG;
	return 0;
}

struct gpiod_chip *gpiod_chip_open_by_name(const char *name)
{
	const char *dir = getenv(GPIOD_DOUBLE_ENV);
	struct gpiod_chip *chip;
	struct stat st;

	if (!dir || !*dir || !name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strlen(name) >= sizeof(chip->name)) {
		errno = ENOENT;
		return NULL;
	}
	chip = calloc(1, sizeof(*chip));
	if (!chip) {
		errno = ENOMEM;
		return NULL;
	}
	if (join(chip->path, sizeof(chip->path), dir, name, -1, NULL) < 0 ||
	    stat(chip->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(chip);
		errno = ENOENT;
		return NULL;
	}
	snprintf(chip->name, sizeof(chip->name), "%s", name);
	return chip;
}

/* "gpiochip0", "/dev/gpiochip0" and "0" all name DIR/gpiochip0. */
struct gpiod_chip *gpiod_chip_open_lookup(const char *descr)
{
	char name[64];
	size_t i;

	if (!descr) {
		errno = ENOENT;
		return NULL;
	}
	if (!strncmp(descr, "/dev/", 5))
		descr += 5;
	for (i = 0; descr[i] >= '0' && descr[i] <= '9'; i++)
		;
	if (i > 0 && !descr[i]) {
		snprintf(name, sizeof(name), "gpiochip%s", descr);
		return gpiod_chip_open_by_name(name);
	}
	return gpiod_chip_open_by_name(descr);
}

void gpiod_chip_close(struct gpiod_chip *chip)
{
	struct gpiod_line *line, *next;

	if (!chip)
		return;
	for (line = chip->lines; line; line = next) {
		next = line->next;
		gpiod_line_release(line);
		free(line);
	}
	free(chip);
}

struct gpiod_line *gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset)
{
	struct gpiod_line *line;

	if (!chip || offset >= MAX_OFFSET) {
		errno = EINVAL;
		return NULL;
	}
	for (line = chip->lines; line; line = line->next) {
		if (line->offset == offset)
			return line;
	}
	line = calloc(1, sizeof(*line));
	if (!line) {
		errno = ENOMEM;
		return NULL;
	}
	line->chip = chip;
	line->offset = offset;
	line->fd = -1;
	line->next = chip->lines;
	chip->lines = line;
	return line;
}

int gpiod_line_request_both_edges_events(struct gpiod_line *line, const char *consumer)
{
	struct event_fd *slot = NULL;
	char base[PATH_MAX];
	struct stat st;
	int fd;

	if (!line) {
		errno = EINVAL;
		return -1;
	}
	if (line->fd >= 0) {
		errno = EBUSY;
		return -1;
	}
	if (line_base(line, base, sizeof(base)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (exists(base, ".gone")) {
		errno = ENODEV;
		return -1;
	}
	if (exists(base, ".busy")) {
		errno = EBUSY;
		return -1;
	}
	for (size_t i = 0; i < MAX_EVENT_FDS && !slot; i++) {
		if (!event_fds[i].used)
			slot = &event_fds[i];
	}
	if (!slot) {
		errno = EMFILE;
		return -1;
	}
	if (mkfifo(base, 0600) < 0 && errno != EEXIST)
		return -1;
	if (stat(base, &st) < 0)
		return -1;
	if (!S_ISFIFO(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	/* Read-write: the FIFO always has a writer, so it never reports EOF. */
	fd = open(base, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(slot, 0, sizeof(*slot));
	slot->used = true;
	slot->fd = fd;
	snprintf(slot->base, sizeof(slot->base), "%s", base);
	line->fd = fd;
	return 0;
}

void gpiod_line_release(struct gpiod_line *line)
{
	struct event_fd *slot;

	if (!line || line->fd < 0)
		return;
	slot = find_event_fd(line->fd);
	if (slot)
		memset(slot, 0, sizeof(*slot));
	close(line->fd);
	line->fd = -1;
}

int gpiod_line_get_value(struct gpiod_line *line)
{
	char base[PATH_MAX], p[PATH_MAX + 8], buf[8];
	ssize_t n;
	int fd;

	if (!line || line->fd < 0) {
		errno = EPERM;
		return -1;
	}
	if (line_base(line, base, sizeof(base)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (exists(base, ".gone")) {
		errno = ENODEV;
		return -1;
	}
	snprintf(p, sizeof(p), "%s.value", base);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || buf[0] == '0')
		return n < 0 ? -1 : 0;
	if (buf[0] == '1')
		return 1;
	errno = EIO;
	return -1;
}

int gpiod_line_event_get_fd(struct gpiod_line *line)
{
	if (!line || line->fd < 0) {
		errno = EPERM;
		return -1;
	}
	return line->fd;
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The chip vanished: throw away what is queued, fail like the kernel. */
static int read_gone(int fd, struct event_fd *e)
{
	unsigned char junk[512];

	while (read(fd, junk, sizeof(junk)) > 0)
		;
	e->npart = 0;
	errno = ENODEV;
	return -1;
}

/*
 * Records with a type other than rising/falling are wake-ups: skipped. A
 * time of 0 or less means "now". Realtime stamps become monotonic ones, as a
 * kernel >= 5.7 stamps v1 line events.
 */
int gpiod_line_event_read_fd_multiple(int fd, struct gpiod_line_event *events,
				      unsigned int num_events)
{
	struct event_fd *e = find_event_fd(fd);
	unsigned char buf[READ_CHUNK * GPIOD_DOUBLE_RECORD];
	unsigned int n = 0;

	if (e && exists(e->base, ".gone"))
		return read_gone(fd, e);
	while (n < num_events) {
		unsigned int k = num_events - n < READ_CHUNK ? num_events - n : READ_CHUNK;
		size_t have = e ? e->npart : 0, total;
		int64_t offset;
		ssize_t r;

		if (have)
			memcpy(buf, e->part, have);
		r = read(fd, buf + have, k * GPIOD_DOUBLE_RECORD - have);
		if (r <= 0) {
			if (n > 0)
				return (int)n;
			if (r == 0)
				errno = EAGAIN;
			return -1;
		}
		total = have + (size_t)r;
		offset = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
		for (size_t off = 0; off + GPIOD_DOUBLE_RECORD <= total;
		     off += GPIOD_DOUBLE_RECORD) {
			int64_t ns = (int64_t)get_le(buf + off, 8);
			int type = (int)(int32_t)get_le(buf + off + 8, 4);
			struct gpiod_line_event *ev = &events[n];

			if (type != GPIOD_LINE_EVENT_RISING_EDGE &&
			    type != GPIOD_LINE_EVENT_FALLING_EDGE)
				continue;
			ns = ns > 0 ? ns - offset : clock_ns(CLOCK_MONOTONIC);
			ev->ts.tv_sec = (time_t)(ns / 1000000000LL);
			ev->ts.tv_nsec = (long)(ns % 1000000000LL);
			if (ev->ts.tv_nsec < 0) {
				ev->ts.tv_sec--;
				ev->ts.tv_nsec += 1000000000L;
			}
			ev->event_type = type;
			n++;
		}
		if (e) {
			e->npart = total % GPIOD_DOUBLE_RECORD;
			memcpy(e->part, buf + total - e->npart, e->npart);
		}
	}
	return (int)n;
}

/* Helpers for tests. */

static int touch(const char *p, bool on)
{
	int fd;

	if (!on)
		return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int write_record(const char *dir, const char *chip, unsigned line, int type, int64_t ns)
{
	unsigned char rec[GPIOD_DOUBLE_RECORD] = {0};
	char p[PATH_MAX];
	ssize_t w;
	int fd;

	if (join(p, sizeof(p), dir, chip, (long)line, NULL) < 0)
		return -ENAMETOOLONG;
	for (int i = 0; i < 8; i++)
		rec[i] = (unsigned char)((uint64_t)ns >> (8 * i));
	for (int i = 0; i < 4; i++)
		rec[8 + i] = (unsigned char)((uint32_t)type >> (8 * i));
	fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, rec, sizeof(rec)); /* atomic: under PIPE_BUF */
	close(fd);
	if (w < 0)
		return -errno;
	return w == (ssize_t)sizeof(rec) ? 0 : -EIO;
}

int gpiod_double_edge(const char *dir, const char *chip, unsigned line, bool rising,
		      int64_t realtime_ns)
{
	return write_record(dir, chip, line,
			    rising ? GPIOD_LINE_EVENT_RISING_EDGE : GPIOD_LINE_EVENT_FALLING_EDGE,
			    realtime_ns);
}

int gpiod_double_set_value(const char *dir, const char *chip, unsigned line, int value)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, rc = 0;

	if (join(p, sizeof(p), dir, chip, (long)line, ".value") < 0)
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, value ? "1\n" : "0\n", 2) != 2)
		rc = -EIO;
	close(fd);
	if (!rc && rename(tmp, p) < 0)
		rc = -errno;
	return rc;
}

int gpiod_double_set_gone(const char *dir, const char *chip, unsigned line, bool on)
{
	char p[PATH_MAX];
	int rc;

	if (join(p, sizeof(p), dir, chip, (long)line, ".gone") < 0)
		return -ENAMETOOLONG;
	rc = touch(p, on);
	if (rc == 0 && on) {
		/* Wake a waiting reader; nobody reading is fine. */
		rc = write_record(dir, chip, line, 0, 0);
		if (rc == -ENXIO || rc == -ENOENT)
			rc = 0;
	}
	return rc;
}

int gpiod_double_set_busy(const char *dir, const char *chip, unsigned line, bool on)
{
	char p[PATH_MAX];

	if (join(p, sizeof(p), dir, chip, (long)line, ".busy") < 0)
		return -ENAMETOOLONG;
	return touch(p, on);
}
