/*
 * esl: the ESL base-station driver (device kind "esl"): the gateway end of
 * firmware/PROTOCOL.md over a serial port, on the shared codec and link
 * (firmware/proto/esl_proto, esl_link).
 *
 * The driver owns no label state: it asks its host (the daemon's label
 * reconciler) for the next due job, sends it, and reports what the station
 * says back: delivery results, label check-ins, and station resets (after
 * which every job in flight must be queued again). Durable state lives in
 * the host's SQLite tables, so a driver restart loses nothing.
 *
 * Pipelining (PROTOCOL.md §7): several labels are outstanding at the station
 * (waiting for their over-the-air result) while at most ESL_STREAMING labels
 * have image data on the wire, so the line never idles between labels; LED
 * flashes go first whenever the link has room (their own lane). The port is
 * reopened with backoff when it vanishes (serdev raw mode); the link is
 * re-established with HELLO and the station's label table is asked for
 * (LABELS_REQ) after every open.
 */
#ifndef SHELF_ESL_H
#define SHELF_ESL_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "esl_image.h"

#define ESL_LABEL_ID_LEN 8

/* One image to send, from the host. */
struct esl_job {
	char label[ESL_LABEL_ID_LEN + 1]; /* "E1000001" */
	uint8_t type; /* esl_label_type the image was drawn for */
	uint64_t hash; /* esl_img_hash() of img */
	struct esl_image img; /* pixels in the buffer the driver passed */
};

/* One label check-in, as the station reported it. */
struct esl_checkin_report {
	char label[ESL_LABEL_ID_LEN + 1];
	int type;
	int battery_mv;
	int temp_c;
	int rssi;
	int lqi;
	uint64_t hash; /* content shown; 0 = blank or unknown */
	bool replay; /* from the station's table (LABELS_REQ), not a fresh report */
	bool low_battery;
};

struct esl_host {
	void *arg;
	/*
	 * The next due job into @job, its pixels drawn into @buf
	 * (ESL_IMG_MAX_BYTES). The host marks it sent. Returns 1, 0 (none due)
	 * or a negative errno.
	 */
	int (*take_job)(void *arg, struct esl_job *job, uint8_t *buf);
	/* Outcome of an image for @label with content @hash. */
	void (*result)(void *arg, const char *label, uint64_t hash, bool delivered,
		       const char *reason, bool retryable);
	void (*checkin)(void *arg, const struct esl_checkin_report *c);
	/* Everything in flight was lost (station reset, link or port lost). */
	void (*reset)(void *arg);
	/* Outcome of a flash request (may be NULL). */
	void (*flash_result)(void *arg, const char *label, bool ok, const char *reason);
};

struct esl_stats {
	bool ready; /* handshake done: the station answered HELLO */
	uint32_t boot_id;
	unsigned fw_version;
	unsigned station_labels;
	unsigned station_buffers;
	uint64_t images_sent; /* IMG_BEGINs for new jobs */
	uint64_t image_bytes; /* their encoded (PackBits or raw) sizes, summed */
	uint64_t delivered;
	uint64_t failed;
	uint64_t already; /* the label showed it already */
	uint64_t busy; /* BUSY answers (credits exceeded) */
	uint64_t resumes; /* transfers resumed past offset 0 */
	uint64_t station_resets;
	uint64_t link_failures;
	uint64_t checkins;
	uint64_t bytes_out;
	uint64_t bytes_in;
	uint64_t garbage_in; /* bytes the decoder skipped (noise, resync) */
	uint64_t crc_errors;
	unsigned in_flight; /* labels outstanding at the station */
	uint64_t flashes;
	uint64_t pages;
};

extern const struct device_ops esl_ops;

/* Jobs may be due: send them if the link has room. NULL-safe. */
void esl_kick(struct device *d);

/*
 * Blink @label's LED (green, 5 times). Goes before any image data. Returns 0,
 * -ENOTCONN (port down or no handshake yet), -ENOSPC (too many pending),
 * -EINVAL (bad label id).
 */
int esl_flash(struct device *d, const char *label);

/*
 * Show page @page (0 = the main image) on @label for @duration_s seconds
 * (0 = stay), in the command lane. Same returns as esl_flash; -EINVAL also
 * for page > 255 or duration_s > 65535.
 */
int esl_page(struct device *d, const char *label, unsigned page, unsigned duration_s);

void esl_get_stats(const struct device *d, struct esl_stats *st);

#endif
