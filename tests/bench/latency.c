/*
 * latency: sale written at the store -> event received at HQ, one process,
 * one clock (CLOCK_MONOTONIC).
 *
 *   latency --sub-port P --topic T -n N -r RATE (--link PATH | --pub-port PA)
 *           [--warmup-timeout S]
 *
 * --link PATH: creates a pty pair, sets the slave raw (8N1, no echo, no flow
 *   control), symlinks PATH to the slave, and writes each sale as one jsonl
 *   line to the master (the POS). shelfd is started by the caller after
 *   "ready" and reads the slave.
 * --pub-port PA: publishes each sale as one QoS 1 message to the broker on PA
 *   (the bridge baseline: broker A, bridged to the HQ broker).
 *
 * Subscribes (QoS 1) to T on the HQ broker (port P) in a libmosquitto thread;
 * every `"receipt":"L-<i>"` found in a payload stamps sale i as received.
 * First a warm-up: one sale "W-<k>" every 100 ms until one arrives (the
 * path is up), then 500 ms of quiet, then N sales "L-0".."L-(N-1)" at RATE/s.
 * Waits up to 5 s after the last one, then prints (milliseconds):
 *   latency sent=N received=M p50=.. p90=.. p99=.. max=.. mean=..
 */
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double *t_sent, *t_recv;
static long n;
static atomic_int warm_seen;
static atomic_long received;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	const char *p = msg->payload, *end = p + msg->payloadlen;
	static const char key[] = "\"receipt\":\"";
	double t = now_s();

	(void)m;
	(void)arg;
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), key, sizeof(key) - 1);
		long v = 0;
		char kind;

		if (!q)
			break;
		q += sizeof(key) - 1;
		if (q + 2 >= end)
			break;
		kind = q[0];
		q += 2; /* "L-" or "W-" */
		while (q < end && *q >= '0' && *q <= '9')
			v = v * 10 + (*q++ - '0');
		p = q;
		if (kind == 'W')
			atomic_store(&warm_seen, 1);
		else if (kind == 'L' && v >= 0 && v < n && t_recv[v] == 0) {
			t_recv[v] = t;
			atomic_fetch_add(&received, 1);
		}
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct mosquitto *connect_to(int port, int with_sub, const char *topic)
{
	struct mosquitto *m = mosquitto_new(NULL, true, NULL);
	double t0 = now_s();
	int rc;

	if (!m)
		exit(1);
	if (with_sub)
		mosquitto_message_callback_set(m, on_message);
	while ((rc = mosquitto_connect(m, "127.0.0.1", port, 60)) != MOSQ_ERR_SUCCESS) {
		if (now_s() - t0 > 10) {
			fprintf(stderr, "latency: connect %d: %s\n", port, mosquitto_strerror(rc));
			exit(1);
		}
		usleep(10000);
	}
	if (with_sub)
		mosquitto_subscribe(m, NULL, topic, 1);
	if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS)
		exit(1);
	return m;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				usleep(200);
				continue;
			}
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* One sale: a jsonl POS line (pty) or a one-event MQTT message (bridge). */
static void send_sale(int fd, struct mosquitto *pub, const char *topic, char kind, long i)
{
	char line[512];
	int len;

	if (fd >= 0) {
		len = snprintf(
			line, sizeof(line),
			"{\"type\":\"sale\",\"receipt\":\"%c-%ld\",\"till\":\"T1\",\"lines\":"
			"[{\"sku\":\"6901234567892\",\"qty\":1,\"unit_price\":1290}],"
			"\"total\":1290}\n",
			kind, i);
		if (write_all(fd, line, (size_t)len) < 0) {
			perror("latency: write pty");
			exit(1);
		}
	} else {
		len = snprintf(
			line, sizeof(line),
			"{\"store\":\"S1\",\"events\":[{\"seq\":%ld,\"ts\":"
			"\"2026-11-23T02:00:00.120Z\",\"type\":\"sale\",\"source\":\"till1\","
			"\"kind\":\"sale\",\"receipt\":\"%c-%ld\",\"till\":\"T1\",\"lines\":"
			"[{\"sku\":\"6901234567892\",\"qty\":1,\"unit_price\":1290,"
			"\"amount\":1290}],\"total\":1290}]}",
			i + 1, kind, i);
		if (mosquitto_publish(pub, NULL, topic, len, line, 1, false) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "latency: publish failed\n");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	const char *link_path = NULL, *topic = NULL;
	int sub_port = 0, pub_port = 0, master = -1, slave = -1;
	double rate = 100, warm_timeout = 60, t0, *lat;
	struct mosquitto *sub, *pub = NULL;
	long got = 0, k;
	double sum = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--link") && v)
			link_path = v, i++;
		else if (!strcmp(a, "--sub-port") && v)
			sub_port = atoi(v), i++;
		else if (!strcmp(a, "--pub-port") && v)
			pub_port = atoi(v), i++;
		else if (!strcmp(a, "--topic") && v)
			topic = v, i++;
		else if (!strcmp(a, "-n") && v)
			n = atol(v), i++;
		else if (!strcmp(a, "-r") && v)
			rate = atof(v), i++;
		else if (!strcmp(a, "--warmup-timeout") && v)
			warm_timeout = atof(v), i++;
		else {
			fprintf(stderr, "latency: bad argument %s\n", a);
			return 2;
		}
	}
	if (!sub_port || !topic || n <= 0 || rate <= 0 || (!link_path == !pub_port)) {
		fprintf(stderr, "usage: latency --sub-port P --topic T -n N -r RATE "
				"(--link PATH | --pub-port PA)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_sent = calloc((size_t)n, sizeof(double));
	t_recv = calloc((size_t)n, sizeof(double));
	lat = calloc((size_t)n, sizeof(double));
	if (!t_sent || !t_recv || !lat)
		return 1;

	if (link_path) {
		struct termios tio;

		master = posix_openpt(O_RDWR | O_NOCTTY);
		if (master < 0 || grantpt(master) || unlockpt(master)) {
			perror("latency: posix_openpt");
			return 1;
		}
		slave = open(ptsname(master), O_RDWR | O_NOCTTY);
		if (slave < 0 || tcgetattr(slave, &tio)) {
			perror("latency: slave");
			return 1;
		}
		cfmakeraw(&tio);
		tio.c_cflag &= ~(unsigned)(CSTOPB | PARENB | CRTSCTS);
		tio.c_cflag |= CS8 | CLOCAL | CREAD;
		cfsetspeed(&tio, B115200);
		tcsetattr(slave, TCSANOW, &tio);
		unlink(link_path);
		if (symlink(ptsname(master), link_path)) {
			perror("latency: symlink");
			return 1;
		}
		/* Our slave fd stays open: the pty never hangs up under shelfd. */
	}

	mosquitto_lib_init();
	sub = connect_to(sub_port, 1, topic);
	if (pub_port)
		pub = connect_to(pub_port, 0, topic);
	usleep(200000); /* the SUBACK */
	printf("ready\n");

	t0 = now_s();
	for (k = 0; !atomic_load(&warm_seen); k++) {
		if (now_s() - t0 > warm_timeout) {
			fprintf(stderr, "latency: warm-up: nothing arrived in %.0f s\n",
				warm_timeout);
			return 1;
		}
		send_sale(master, pub, topic, 'W', k);
		usleep(100000);
	}
	usleep(500000);
	printf("warm %.3f\n", now_s() - t0);

	t0 = now_s();
	for (long i = 0; i < n; i++) {
		double due = t0 + (double)i / rate;
		double t = now_s();

		if (due > t) {
			struct timespec ts;
			double d = due - t;

			ts.tv_sec = (time_t)d;
			ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		t_sent[i] = now_s();
		send_sale(master, pub, topic, 'L', i);
	}
	t0 = now_s();
	while (atomic_load(&received) < n && now_s() - t0 < 5)
		usleep(10000);
	mosquitto_disconnect(sub);
	mosquitto_loop_stop(sub, false);
	if (pub) {
		mosquitto_disconnect(pub);
		mosquitto_loop_stop(pub, false);
	}

	for (long i = 0; i < n; i++) {
		if (t_recv[i] > 0) {
			lat[got] = (t_recv[i] - t_sent[i]) * 1000;
			sum += lat[got];
			got++;
		}
	}
	if (!got) {
		printf("latency sent=%ld received=0\n", n);
		return 1;
	}
	qsort(lat, (size_t)got, sizeof(double), cmp_d);
#define PCT(p) lat[(long)((double)(got - 1) * (p) + 0.5)]
	printf("latency sent=%ld received=%ld p50=%.2f p90=%.2f p99=%.2f max=%.2f mean=%.2f\n", n,
	       got, PCT(0.50), PCT(0.90), PCT(0.99), lat[got - 1], sum / (double)got);
	if (link_path)
		unlink(link_path);
	return got == n ? 0 : 1;
}
