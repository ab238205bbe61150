/*
 * tty: serial-port plumbing for the host tools in firmware/emu: the
 * emulator's pseudo-terminal (it plays the base station's UART) and the
 * technician tool's port. Host-only (POSIX termios).
 */
#ifndef ESL_TTY_H
#define ESL_TTY_H

#include <stddef.h>

/*
 * Create a pty in raw mode (8N1, no echo, no line discipline processing).
 * Returns the master fd (non-blocking, close-on-exec) and writes the slave's
 * path into @slave (capacity @cap). The slave is also opened once and its fd
 * stored in *@keep_slave: keeping it open makes the master survive the
 * gateway closing and reopening the port (no EIO / hang-up on the master).
 * The caller closes both. Returns -errno on failure.
 */
int tty_open_pty(char *slave, size_t cap, int *keep_slave);

/*
 * Open a serial port (or pty slave) raw, 8N1, at @baud, non-blocking.
 * Returns the fd (the caller closes it), -EINVAL for an unsupported baud
 * rate, or -errno.
 */
int tty_open_port(const char *path, unsigned baud);

/* Monotonic clock in microseconds. */
unsigned long long tty_now_us(void);

#endif
