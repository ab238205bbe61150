/*
 * serdev: the base of every line-oriented serial device (POS, Wi-Fi probe).
 *
 * Opens the configured port raw at its baud, splits input into bounded lines
 * (linebuf) and hands each to the driver. When the port vanishes (EOF, EIO,
 * hang-up) or cannot be opened, it closes it, marks the device down, emits a
 * `device_down` alert once, and retries with exponential backoff
 * (SERDEV_BACKOFF_MIN_MS doubling up to SERDEV_BACKOFF_MAX_MS); on success it
 * emits `device_up`. Partial lines are discarded across a reconnect.
 */
#ifndef SHELF_SERDEV_H
#define SHELF_SERDEV_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "linebuf.h"

#define SERDEV_BACKOFF_MIN_MS 250
#define SERDEV_BACKOFF_MAX_MS 4000
#define SERDEV_READ_BUDGET (256 * 1024) /* bytes read per wakeup, for fairness */

struct serdev;

/* Called for each complete line; @line is NULL when @too_long. */
typedef void (*serdev_line_cb)(struct serdev *s, const char *line, size_t len, uint64_t line_no,
			       bool too_long);

/*
 * Raw mode (binary protocols, the ESL link): bytes as they come, and the
 * port's comings and goings. @open is true after a successful (re)open, false
 * when the port was lost; writable is called on EPOLLOUT once requested with
 * serdev_want_write().
 */
struct serdev_raw_ops {
	void (*bytes)(struct serdev *s, const uint8_t *p, size_t n);
	void (*state)(struct serdev *s, bool open);
	void (*writable)(struct serdev *s);
};

struct serdev {
	struct device *dev;
	serdev_line_cb on_line;
	const struct serdev_raw_ops *raw; /* raw mode when set */
	bool want_write;
	int fd;
	int retry_timer;
	unsigned backoff_ms;
	bool announced_down; /* a device_down alert is outstanding */
	struct linebuf lb;
};

/* Start @s for @d: allocate the line buffer, try to open now. Returns 0 or -ENOMEM. */
int serdev_start(struct serdev *s, struct device *d, size_t max_line, serdev_line_cb on_line);
/* Start in raw mode (no line splitting). Returns 0. */
int serdev_start_raw(struct serdev *s, struct device *d, const struct serdev_raw_ops *ops);
/* Ask for (or stop asking for) the writable callback. */
void serdev_want_write(struct serdev *s, bool on);
/*
 * The port failed while writing (or the protocol gave up on it): close it and
 * reconnect with backoff, like a hang-up. @why goes into the device's
 * last_error and the device_down alert.
 */
void serdev_fail(struct serdev *s, const char *why);
/* Close the port, cancel retries, free the buffer. */
void serdev_stop(struct serdev *s);

#endif
