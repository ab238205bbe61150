/*
 * probe_drv: the Wi-Fi probe sniffer driver. Lines from the serial port
 * (serdev) go through the pure parser (probe.c); each sighting goes to the
 * host, which replaces the MAC by pseudonyms at once (sensing.c). Rejected
 * lines are counted per reason; the log names the device, the line number
 * and the reason, never the line's text (it holds a MAC).
 *
 * Privacy: the raw MAC exists in the line buffer and in one stack struct for
 * the duration of one callback; both are wiped before it returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "probe.h"
#include "sensor.h"
#include "serdev.h"
#include "util.h"

#define RATE_SLOTS 60 /* per-second counts for the one-minute rate */

struct probe_priv {
	struct serdev sd;
	struct probe_stats st;
	uint32_t slot_n[RATE_SLOTS];
	int64_t slot_sec[RATE_SLOTS];
};

static void rate_note(struct probe_priv *p, int64_t now_ms)
{
	int64_t sec = now_ms / 1000;
	size_t i = (size_t)(sec % RATE_SLOTS);

	if (p->slot_sec[i] != sec) {
		p->slot_sec[i] = sec;
		p->slot_n[i] = 0;
	}
	p->slot_n[i]++;
}

static double rate_1m(const struct probe_priv *p, int64_t now_ms)
{
	int64_t sec = now_ms / 1000;
	uint64_t n = 0;

	for (size_t i = 0; i < RATE_SLOTS; i++) {
		if (p->slot_sec[i] > sec - RATE_SLOTS && p->slot_sec[i] <= sec)
			n += p->slot_n[i];
	}
	return (double)n / RATE_SLOTS;
}

static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	}
	return true;
}

static void probe_on_line(struct serdev *s, const char *line, size_t len, uint64_t line_no,
			  bool too_long)
{
	struct device *d = s->dev;
	struct probe_priv *p = d->priv;
	const struct sensor_host *h = d->kind_host;
	struct probe_sighting sg;
	enum probe_reject r;
	char msg[96];

	if (too_long) {
		p->st.lines++;
		p->st.rejects[PROBE_R_TOO_LONG]++;
		device_error(d, "line %llu: %zu bytes, over the %d-byte limit; skipped",
			     (unsigned long long)line_no, len, PROBE_LINE_MAX);
		return;
	}
	if (blank(line, len))
		return;
	p->st.lines++;
	r = probe_parse_line(line, len, &sg, msg, sizeof(msg));
	/* The line buffer is ours (linebuf) and done with: wipe the MAC text. */
	explicit_bzero((char *)line, len);
	if (r != PROBE_OK) {
		p->st.rejects[r]++;
		device_error(d, "line %llu: %s (%s); skipped", (unsigned long long)line_no, msg,
			     probe_reject_name(r));
		return;
	}
	p->st.sightings++;
	if (sg.randomized)
		p->st.randomized++;
	p->st.last_sighting_ms = now_wall_ms();
	rate_note(p, p->st.last_sighting_ms);
	d->st.lines_ok++;
	if (h && h->sighting)
		h->sighting(h->arg, d, &sg);
	explicit_bzero(&sg, sizeof(sg));
}

void probe_get_stats(const struct device *d, struct probe_stats *st)
{
	const struct probe_priv *p = d->priv;

	memset(st, 0, sizeof(*st));
	if (!p)
		return;
	*st = p->st;
	st->rate_1m = rate_1m(p, now_wall_ms());
}

static int probe_start(struct device *d)
{
	struct probe_priv *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	d->priv = p;
	rc = serdev_start(&p->sd, d, PROBE_LINE_MAX, probe_on_line);
	if (rc < 0) {
		free(p);
		d->priv = NULL;
	}
	return rc;
}

static void probe_stop(struct device *d)
{
	struct probe_priv *p = d->priv;

	if (!p)
		return;
	serdev_stop(&p->sd);
	free(p);
	d->priv = NULL;
}

const struct device_ops probe_ops = {
	.kind = "probe",
	.start = probe_start,
	.stop = probe_stop,
};
