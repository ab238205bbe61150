/*
 * pos_drv: the POS terminal driver. Lines from the serial port (serdev) go
 * through the pure parser (pos.c); each valid sale, refund or void becomes a
 * `sale` event; each bad line is counted and logged with the device and line
 * number, and skipped.
 */
#include <errno.h>
#include <stdlib.h>

#include "device.h"
#include "log.h"
#include "pos.h"
#include "serdev.h"

struct pos_priv {
	struct serdev sd;
	struct dynbuf rec; /* the record of the current line, reused */
	struct pos_item items[POS_LINES_MAX]; /* its lines, for price integrity */
};

static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	}
	return true;
}

static void pos_on_line(struct serdev *s, const char *line, size_t len, uint64_t line_no,
			bool too_long)
{
	struct device *d = s->dev;
	struct pos_priv *p = d->priv;
	struct pos_err err = {{0}, {0}};
	struct pos_summary sum = {0};
	int rc;

	if (too_long) {
		device_error(d, "line %llu: %zu bytes, over the %d-byte limit; skipped",
			     (unsigned long long)line_no, len, POS_LINE_MAX);
		return;
	}
	if (blank(line, len))
		return;
	dynbuf_reset(&p->rec);
	sum.items = d->host->sale_line || d->host->sale_done ? p->items : NULL;
	sum.items_cap = POS_LINES_MAX;
	if (pos_parse_line(line, len, &p->rec, &sum, &err) < 0) {
		device_error(d, "line %llu: %s%s%s", (unsigned long long)line_no, err.at,
			     err.at[0] ? ": " : "", err.msg);
		return;
	}
	rc = d->host->emit_text(d->host->arg, d, "sale", p->rec.buf, p->rec.len, sum.ts_ms,
				sum.kind, sum.receipt, sum.total);
	if (rc < 0) {
		device_error(d, "line %llu: not recorded (error %d)", (unsigned long long)line_no,
			     rc);
		return;
	}
	d->st.lines_ok++;
	for (size_t i = 0; sum.items && d->host->sale_line && i < sum.n_items; i++)
		d->host->sale_line(d->host->arg, d, sum.receipt, p->items[i].sku,
				   p->items[i].unit_price);
	if (d->host->sale_done)
		d->host->sale_done(d->host->arg, d, &sum);
}

static int pos_start(struct device *d)
{
	struct pos_priv *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	d->priv = p;
	/* A 64 KiB line never makes a record much larger than itself. */
	dynbuf_init(&p->rec, 2 * POS_LINE_MAX);
	rc = serdev_start(&p->sd, d, POS_LINE_MAX, pos_on_line);
	if (rc < 0) {
		dynbuf_free(&p->rec);
		free(p);
		d->priv = NULL;
	}
	return rc;
}

static void pos_stop(struct device *d)
{
	struct pos_priv *p = d->priv;

	if (!p)
		return;
	serdev_stop(&p->sd);
	dynbuf_free(&p->rec);
	free(p);
	d->priv = NULL;
}

const struct device_ops pos_ops = {
	.kind = "pos",
	.start = pos_start,
	.stop = pos_stop,
};
