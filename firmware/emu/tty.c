/*
 * tty: pty creation and raw serial ports (see tty.h).
 */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

unsigned long long tty_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
}

static speed_t baud_const(unsigned baud)
{
	switch (baud) {
	case 9600:
		return B9600;
	case 19200:
		return B19200;
	case 38400:
		return B38400;
	case 57600:
		return B57600;
	case 115200:
		return B115200;
	case 230400:
		return B230400;
	case 460800:
		return B460800;
	case 921600:
		return B921600;
	case 1000000:
		return B1000000;
	}
	return 0;
}

static int make_raw(int fd, unsigned baud)
{
	struct termios t;
	speed_t sp = baud_const(baud);

	if (!sp)
		return -EINVAL;
	if (tcgetattr(fd, &t) != 0)
		return -errno;
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	cfsetispeed(&t, sp);
	cfsetospeed(&t, sp);
	if (tcsetattr(fd, TCSANOW, &t) != 0)
		return -errno;
	return 0;
}

int tty_open_pty(char *slave, size_t cap, int *keep_slave)
{
	int m, s, rc;
	char *name;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (m < 0)
		return -errno;
	if (grantpt(m) != 0 || unlockpt(m) != 0)
		goto err_errno;
	name = ptsname(m);
	if (!name || strlen(name) >= cap) {
		rc = -ENAMETOOLONG;
		goto err_close;
	}
	snprintf(slave, cap, "%s", name);
	s = open(slave, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s < 0)
		goto err_errno;
	rc = make_raw(s, 115200);
	if (rc < 0) {
		close(s);
		goto err_close;
	}
	*keep_slave = s;
	return m;
err_errno:
	rc = -errno;
err_close:
	close(m);
	return rc;
}

int tty_open_port(const char *path, unsigned baud)
{
	int fd, rc;

	if (!baud_const(baud))
		return -EINVAL;
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = make_raw(fd, baud);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}
