/*
 * device: the table of drivers and the shared error bookkeeping.
 */
#include <stdarg.h>
#include <stdio.h>

#include "device.h"
#include "esl.h"
#include "log.h"
#include "sensor.h"
#include "util.h"

const struct device_ops *device_ops_for(enum dev_kind kind)
{
	switch (kind) {
	case DEV_POS:
		return &pos_ops;
	case DEV_ESL:
		return &esl_ops;
	case DEV_PROBE:
		return &probe_ops;
	case DEV_CAMERA:
		return &camera_ops;
	default:
		return NULL;
	}
}

void device_note(struct device *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->st.last_error, sizeof(d->st.last_error), fmt, ap);
	va_end(ap);
	d->st.last_error_ms = now_wall_ms();
}

void device_error(struct device *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->st.last_error, sizeof(d->st.last_error), fmt, ap);
	va_end(ap);
	d->st.errors++;
	d->st.last_error_ms = now_wall_ms();
	log_warn("device %s: %s", d->conf->name, d->st.last_error);
}
