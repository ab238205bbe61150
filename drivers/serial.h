/*
 * serial: opening and reading a serial port (or a pseudo-terminal standing
 * in for one) in raw 8N1 mode, non-blocking. Reconnection policy is the
 * caller's: this module only reports that the device is gone.
 */
#ifndef SHELF_SERIAL_H
#define SHELF_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* True if @baud is a rate termios supports (9600 ... 4000000). */
bool serial_baud_valid(unsigned baud);

/*
 * Open @path (O_RDWR|O_NOCTTY|O_NONBLOCK|O_CLOEXEC), set raw 8N1 at @baud
 * with no flow control; input already buffered is kept. Returns the fd (the caller
 * closes it) or a negative errno: -EINVAL bad baud, or open/tcsetattr errors.
 */
int serial_open(const char *path, unsigned baud);

/*
 * Read up to @n bytes. Returns the count (> 0), 0 when nothing is available
 * now (EAGAIN/EINTR), -EPIPE when the device is gone (EOF, EIO, hang-up), or
 * another negative errno.
 */
ssize_t serial_read(int fd, void *buf, size_t n);

/* Write all @n bytes (retrying on EAGAIN with poll, up to @timeout_ms). Returns 0 or -errno. */
int serial_write_all(int fd, const void *buf, size_t n, int timeout_ms);

#endif
