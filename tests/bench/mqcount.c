/*
 * mqcount: the HQ-side subscriber of the benches. Counts distinct seqs.
 *
 *   mqcount -p PORT -t TOPIC -b BASE -n N [-e EXPECT] [-i CLIENTID] [-C] [--prepare]
 *           [-T TIMEOUT_S] [-P PROGRESS_MS] [-R]
 *
 * Subscribes to TOPIC at QoS 1 and, in every payload, finds each `"seq":`
 * and parses the integer after it: a shelfd batch carries many events, a
 * bridge message one. Seqs in [BASE, BASE+N) are counted in a bitmap:
 * distinct, duplicates; others are counted as out-of-range.
 *
 *   -C          persistent session (clean_session=false) with -i CLIENTID
 *   --prepare   connect, subscribe, wait for the SUBACK, disconnect, exit 0
 *               (creates the persistent session on a broker that will be
 *               restarted, so nothing published before we reconnect is lost)
 *   -R          retry the connection every 5 ms until the broker is up
 *
 *   -e EXPECT   done after EXPECT distinct seqs (default N; for a seq range
 *               with gaps)
 *
 * Output (stdout, line-buffered; times are CLOCK_MONOTONIC seconds, the
 * clock of Python's time.monotonic()):
 *   ready T                               subscribed
 *   progress T distinct dups msgs oor     every PROGRESS_MS (default 50) if changed
 *   done T_FIRST T_LAST distinct dups msgs oor cpu=S    EXPECT seen; T_LAST = when
 *   final T_FIRST T_LAST distinct dups msgs oor missing_first=... cpu=S
 *                                         on SIGTERM/timeout (S: our CPU seconds)
 * Exit 0 on done, 1 on timeout/SIGTERM before done, 2 on usage errors.
 */
#include <errno.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static uint8_t *bits;
static long long base, n, expect;
static long long distinct, dups, msgs, oor;
static double t_first, t_last;
static int subscribed, prepare;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_subscribe(struct mosquitto *m, void *arg, int mid, int qc, const int *qos)
{
	(void)m;
	(void)arg;
	(void)mid;
	(void)qc;
	(void)qos;
	subscribed = 1;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	const char *p = msg->payload, *end = p + msg->payloadlen;
	static const char key[] = "\"seq\":";

	(void)m;
	(void)arg;
	if (!msgs)
		t_first = now_s();
	msgs++;
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), key, sizeof(key) - 1);
		long long v = 0;
		int any = 0;

		if (!q)
			break;
		q += sizeof(key) - 1;
		while (q < end && *q == ' ')
			q++;
		while (q < end && *q >= '0' && *q <= '9') {
			v = v * 10 + (*q - '0');
			q++;
			any = 1;
		}
		p = q;
		if (!any)
			continue;
		if (v < base || v >= base + n) {
			oor++;
			continue;
		}
		v -= base;
		if (bits[v >> 3] & (1u << (v & 7))) {
			dups++;
		} else {
			bits[v >> 3] |= (uint8_t)(1u << (v & 7));
			distinct++;
			if (distinct == expect)
				t_last = now_s();
		}
	}
}

/* Our own CPU time (user + system), seconds. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void print_missing(void)
{
	int shown = 0;

	printf(" missing_first=");
	for (long long i = 0; i < n && shown < 10; i++) {
		if (!(bits[i >> 3] & (1u << (i & 7)))) {
			printf("%s%lld", shown ? "," : "", base + i);
			shown++;
		}
	}
	if (!shown)
		printf("none");
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *topic = NULL, *id = NULL;
	int port = 0, persistent = 0, retry = 0, rc;
	double timeout = 3600, progress_ms = 50, t_start, last_print = 0;
	long long last_distinct = -1, last_msgs = -1;
	struct mosquitto *m;
	struct sigaction sa;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-p") && v)
			port = atoi(v), i++;
		else if (!strcmp(a, "-h") && v)
			host = v, i++;
		else if (!strcmp(a, "-t") && v)
			topic = v, i++;
		else if (!strcmp(a, "-b") && v)
			base = atoll(v), i++;
		else if (!strcmp(a, "-n") && v)
			n = atoll(v), i++;
		else if (!strcmp(a, "-e") && v)
			expect = atoll(v), i++;
		else if (!strcmp(a, "-i") && v)
			id = v, i++;
		else if (!strcmp(a, "-T") && v)
			timeout = atof(v), i++;
		else if (!strcmp(a, "-P") && v)
			progress_ms = atof(v), i++;
		else if (!strcmp(a, "-C"))
			persistent = 1;
		else if (!strcmp(a, "-R"))
			retry = 1;
		else if (!strcmp(a, "--prepare"))
			prepare = 1;
		else {
			fprintf(stderr, "mqcount: bad argument %s\n", a);
			return 2;
		}
	}
	if (!port || !topic || (!prepare && n <= 0) || (persistent && !id)) {
		fprintf(stderr, "usage: mqcount -p PORT -t TOPIC -b BASE -n N [-i ID] [-C] "
				"[--prepare] [-T S] [-P MS] [-R]\n");
		return 2;
	}
	if (expect <= 0 || expect > n)
		expect = n;
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (n > 0) {
		bits = calloc((size_t)(n / 8 + 1), 1);
		if (!bits)
			return 1;
	}

	mosquitto_lib_init();
	m = mosquitto_new(id, !persistent, NULL);
	if (!m)
		return 1;
	mosquitto_subscribe_callback_set(m, on_subscribe);
	mosquitto_message_callback_set(m, on_message);
	t_start = now_s();
	for (;;) {
		rc = mosquitto_connect(m, host, port, 60);
		if (rc == MOSQ_ERR_SUCCESS)
			break;
		if (!retry || stop || now_s() - t_start > timeout) {
			fprintf(stderr, "mqcount: connect %s:%d: %s\n", host, port,
				mosquitto_strerror(rc));
			return 1;
		}
		usleep(5000);
	}
	mosquitto_subscribe(m, NULL, topic, 1);

	while (!stop) {
		double t;

		rc = mosquitto_loop(m, 20, 1);
		if (rc != MOSQ_ERR_SUCCESS && !stop) {
			usleep(5000);
			mosquitto_reconnect(m);
		}
		t = now_s();
		if (subscribed == 1) {
			subscribed = 2;
			printf("ready %.6f\n", t);
			if (prepare) {
				mosquitto_disconnect(m);
				mosquitto_loop(m, 50, 1);
				return 0;
			}
		}
		if (n > 0 && distinct == expect) {
			printf("done %.6f %.6f %lld %lld %lld %lld cpu=%.3f\n", t_first, t_last,
			       distinct, dups, msgs, oor, cpu_s());
			mosquitto_disconnect(m);
			mosquitto_loop(m, 50, 1);
			return 0;
		}
		if ((t - last_print) * 1000 >= progress_ms &&
		    (distinct != last_distinct || msgs != last_msgs)) {
			printf("progress %.6f %lld %lld %lld %lld\n", t, distinct, dups, msgs, oor);
			last_print = t;
			last_distinct = distinct;
			last_msgs = msgs;
		}
		if (t - t_start > timeout)
			break;
	}
	printf("final %.6f %.6f %lld %lld %lld %lld", t_first, now_s(), distinct, dups, msgs, oor);
	print_missing();
	printf(" cpu=%.3f\n", cpu_s());
	return 1;
}
