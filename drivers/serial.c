/*
 * serial: raw 8N1 serial ports (and ptys standing in for them), non-blocking.
 * See serial.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include "serial.h"
#include "util.h"

static const struct {
	unsigned baud;
	speed_t speed;
} bauds[] = {
	{9600, B9600},	     {19200, B19200},	  {38400, B38400},     {57600, B57600},
	{115200, B115200},   {230400, B230400},	  {460800, B460800},   {500000, B500000},
	{576000, B576000},   {921600, B921600},	  {1000000, B1000000}, {1152000, B1152000},
	{1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
	{3500000, B3500000}, {4000000, B4000000},
};

static bool baud_speed(unsigned baud, speed_t *speed)
{
	for (size_t i = 0; i < ARRAY_SIZE(bauds); i++) {
		if (bauds[i].baud == baud) {
			*speed = bauds[i].speed;
			return true;
		}
	}
	return false;
}

bool serial_baud_valid(unsigned baud)
{
	speed_t speed;

	return baud_speed(baud, &speed);
}

/*
 * Raw mode (no line discipline, no echo, no CR/NL translation), 8 data bits,
 * no parity, one stop bit, no hardware or software flow control, modem
 * control lines ignored. VMIN=1/VTIME=0 only matter for blocking reads; we
 * read non-blocking from the event loop.
 */
int serial_open(const char *path, unsigned baud)
{
	struct termios tio;
	speed_t speed;
	int fd, rc;

	if (!path || !baud_speed(baud, &speed))
		return -EINVAL;
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &tio) != 0)
		goto err_close;
	cfmakeraw(&tio);
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
	tio.c_cflag |= CS8 | CLOCAL | CREAD;
	tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (cfsetispeed(&tio, speed) != 0 || cfsetospeed(&tio, speed) != 0)
		goto err_close;
	if (tcsetattr(fd, TCSANOW, &tio) != 0)
		goto err_close;
	/*
	 * No tcflush(TCIFLUSH): bytes the device sent while we were away (a
	 * restart, a reconnect) may be whole sales. A torn first line is
	 * rejected by the parser and counted like any bad line.
	 */
	return fd;

err_close:
	rc = -errno;
	close(fd);
	return rc;
}

ssize_t serial_read(int fd, void *buf, size_t n)
{
	ssize_t r;

	if (n == 0)
		return 0;
	r = read(fd, buf, n);
	if (r > 0)
		return r;
	if (r == 0)
		return -EPIPE;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	if (errno == EIO)
		return -EPIPE;
	return -errno;
}

/*
 * Write everything, waiting for POLLOUT while the port is full. A negative
 * @timeout_ms waits without limit. Returns 0, -ETIMEDOUT, -EPIPE (device
 * gone) or another -errno.
 */
int serial_write_all(int fd, const void *buf, size_t n, int timeout_ms)
{
	const char *p = buf;
	int64_t deadline = timeout_ms >= 0 ? now_mono_ms() + timeout_ms : 0;

	while (n > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		ssize_t w = write(fd, p, n);
		int wait_ms = -1;
		int rc;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EIO)
			return -EPIPE;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (timeout_ms >= 0) {
			int64_t left = deadline - now_mono_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait_ms = left > 60000 ? 60000 : (int)left;
		}
		rc = poll(&pfd, 1, wait_ms);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && (pfd.revents & POLLNVAL))
			return -EBADF;
		if (rc > 0 && (pfd.revents & (POLLERR | POLLHUP)) && !(pfd.revents & POLLOUT))
			return -EPIPE;
	}
	return 0;
}
