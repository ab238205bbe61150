/*
 * mqpub: publishes N sales as individual QoS 1 messages (the bridge baseline's
 * "store side": one event per message, what an integrator's POS connector
 * does today).
 *
 *   mqpub -p PORT -t TOPIC -n N -b BASE -f BODIES [-w WINDOW] [-i CLIENTID]
 *
 * Message i carries {"store":"S1","events":[{"seq":BASE+i,<body members>}]}:
 * the same envelope and event shape shelfd sends, one event each. BODIES is a
 * file of event bodies (JSON objects without seq, one per line, the exact
 * bodies shelfd stored), cycled. At most WINDOW (default 1000) messages are
 * unacknowledged at once (libmosquitto's in-flight limit is set to WINDOW so
 * they really are on the wire). Exits when every PUBACK has arrived and
 * prints:
 *   mqpub sent=N secs=S rate=R
 */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long acked;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)arg;
	(void)mid;
	acked++;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *topic = NULL, *bodies_path = NULL, *id = NULL;
	int port = 0, window = 1000, rc;
	long long n = 0, base = 1, sent = 0;
	char **bodies = NULL, *line = NULL, *buf;
	size_t nb = 0, cap = 0, lcap = 0, maxlen = 0;
	ssize_t got;
	FILE *f;
	struct mosquitto *m;
	double t0, t1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-p") && v)
			port = atoi(v), i++;
		else if (!strcmp(a, "-h") && v)
			host = v, i++;
		else if (!strcmp(a, "-t") && v)
			topic = v, i++;
		else if (!strcmp(a, "-n") && v)
			n = atoll(v), i++;
		else if (!strcmp(a, "-b") && v)
			base = atoll(v), i++;
		else if (!strcmp(a, "-f") && v)
			bodies_path = v, i++;
		else if (!strcmp(a, "-w") && v)
			window = atoi(v), i++;
		else if (!strcmp(a, "-i") && v)
			id = v, i++;
		else {
			fprintf(stderr, "mqpub: bad argument %s\n", a);
			return 2;
		}
	}
	if (!port || !topic || n <= 0 || !bodies_path || window <= 0) {
		fprintf(stderr, "usage: mqpub -p PORT -t TOPIC -n N -b BASE -f BODIES [-w W]\n");
		return 2;
	}
	f = fopen(bodies_path, "r");
	if (!f) {
		perror(bodies_path);
		return 1;
	}
	while ((got = getline(&line, &lcap, f)) > 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = 0;
		if (got < 2 || line[0] != '{')
			continue;
		if (nb == cap) {
			cap = cap ? cap * 2 : 1024;
			bodies = realloc(bodies, cap * sizeof(*bodies));
			if (!bodies)
				return 1;
		}
		bodies[nb++] = strdup(line);
		if ((size_t)got > maxlen)
			maxlen = (size_t)got;
	}
	fclose(f);
	if (!nb) {
		fprintf(stderr, "mqpub: no bodies in %s\n", bodies_path);
		return 1;
	}
	buf = malloc(maxlen + 128);
	if (!buf)
		return 1;

	mosquitto_lib_init();
	m = mosquitto_new(id, true, NULL);
	if (!m)
		return 1;
	mosquitto_max_inflight_messages_set(m, (unsigned)window);
	mosquitto_publish_callback_set(m, on_publish);
	rc = mosquitto_connect(m, host, port, 60);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqpub: connect %s:%d: %s\n", host, port, mosquitto_strerror(rc));
		return 1;
	}
	t0 = now_s();
	while (acked < n) {
		while (sent < n && sent - acked < window) {
			const char *b = bodies[sent % (long long)nb];
			int len = snprintf(buf, maxlen + 128,
					   "{\"store\":\"S1\",\"events\":[{\"seq\":%lld,%s]}",
					   base + sent, b + 1);

			rc = mosquitto_publish(m, NULL, topic, len, buf, 1, false);
			if (rc != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "mqpub: publish: %s\n", mosquitto_strerror(rc));
				return 1;
			}
			sent++;
		}
		rc = mosquitto_loop(m, 10, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "mqpub: loop: %s\n", mosquitto_strerror(rc));
			return 1;
		}
	}
	t1 = now_s();
	mosquitto_disconnect(m);
	mosquitto_loop(m, 50, 1);
	printf("mqpub sent=%lld secs=%.3f rate=%.0f\n", n, t1 - t0, (double)n / (t1 - t0));
	return 0;
}
