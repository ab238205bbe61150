/*
 * esl-tool: a minimal gateway-side client of the base-station protocol, for
 * technicians diagnosing a station and for tests. Same codec and link as the
 * gateway (esl_proto, esl_link).
 *
 *   esl-tool [--baud N] [--timeout S] [--type T] [-v] PORT hello
 *   esl-tool ... PORT listen              print every message until the timeout
 *   esl-tool ... PORT send LABEL FILE.pbm deliver a PBM (one plane) to LABEL
 *   esl-tool ... PORT flash LABEL         flash LABEL's LED (red, 3 times)
 *   esl-tool ... PORT bench N FILE.pbm    FILE to N labels, pipelined: labels/s
 *
 * Prints one line per message of interest, then a `link:` line with the
 * link's counters. Exit 0 on success, 1 on failure (no answer, label failed),
 * 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "esl_link.h"
#include "image.h"
#include "tty.h"

#define WBUF_CAP (64u * 1024u)

struct bench;

struct tool {
	int fd;
	struct bench *bench; /* set while `bench` runs: replies go to it */
	struct esl_link link;
	unsigned long long t0_us;
	bool verbose; /* print every message */
	uint8_t wbuf[WBUF_CAP];
	size_t wn;
	/* what came in */
	uint32_t boot_id;
	bool boot_changed;
	bool got_hello_r;
	struct esl_hello_r hello_r;
	bool got_begin_r;
	struct esl_img_begin_r begin_r;
	uint16_t xfer; /* current transfer tag */
	uint32_t acked; /* station has the image up to here */
	bool chunk_done, chunk_fail;
	bool got_result;
	struct esl_result result;
	bool link_failed;
};

static uint32_t now_ms(const struct tool *t)
{
	return (uint32_t)((tty_now_us() - t->t0_us) / 1000);
}

/* Link output: into our buffer, written out as the port takes it. */
static int tool_write(void *arg, const uint8_t *p, size_t n)
{
	struct tool *t = arg;

	if (n > WBUF_CAP - t->wn)
		return -1;
	memcpy(t->wbuf + t->wn, p, n);
	t->wn += n;
	return 0;
}

static void flush_out(struct tool *t)
{
	while (t->wn) {
		ssize_t k = write(t->fd, t->wbuf, t->wn);

		if (k <= 0)
			return;
		memmove(t->wbuf, t->wbuf + k, t->wn - (size_t)k);
		t->wn -= (size_t)k;
	}
}

static void print_hello_r(const char *what, const struct esl_hello_r *r)
{
	printf("%s proto=%u status=%s fw=%u.%u boot_id=%08" PRIX32 " caps=0x%" PRIx32
	       " max_chunk=%u buffers=%u window=%u pool=%" PRIu32 " labels=%u/%u\n",
	       what, r->proto, esl_status_name(r->status), r->fw_version >> 8, r->fw_version & 0xFF,
	       r->boot_id, r->caps, r->max_chunk, r->buffers, r->window, r->pool_bytes, r->labels,
	       r->max_labels);
}

static const char *kind_name(uint8_t k)
{
	return k == ESL_K_IMAGE	  ? "image"
	       : k == ESL_K_FLASH ? "flash"
	       : k == ESL_K_PAGE  ? "page"
				  : "?";
}

static void bench_begin_r(struct tool *t, const struct esl_img_begin_r *r);
static void bench_chunk_r(struct tool *t, const struct esl_img_chunk_r *r);
static void bench_result(struct tool *t, const struct esl_result *r);

static void handle(struct tool *t, const struct esl_frame *f)
{
	struct esl_hello_r hr;
	struct esl_img_begin_r br;
	struct esl_img_chunk_r cr;
	struct esl_result rs;
	struct esl_checkin ci;
	struct esl_error er;
	int n;

	switch (f->type) {
	case ESL_T_BATCH: {
		struct esl_frame m;
		size_t off = 0;

		while (esl_batch_next(f, &off, &m) == 1)
			handle(t, &m);
		break;
	}
	case ESL_T_BOOT:
	case ESL_T_HELLO_R:
		if (esl_dec_hello_r(f->payload, f->len, &hr) != 0)
			break;
		if (t->boot_id && hr.boot_id != t->boot_id)
			t->boot_changed = true;
		t->boot_id = hr.boot_id;
		if (f->type == ESL_T_HELLO_R) {
			t->got_hello_r = true;
			t->hello_r = hr;
		}
		if (t->verbose || f->type == ESL_T_BOOT)
			print_hello_r(esl_type_name(f->type), &hr);
		break;
	case ESL_T_IMG_BEGIN_R:
		if (esl_dec_img_begin_r(f->payload, f->len, &br) != 0)
			break;
		if (t->verbose)
			printf("IMG_BEGIN_R label=%08" PRIX32 " xfer=%u status=%s next=%" PRIu32
			       " retry_ms=%u\n",
			       br.label, br.xfer, esl_status_name(br.status), br.next_offset,
			       br.retry_ms);
		if (t->bench)
			bench_begin_r(t, &br);
		if (br.xfer == t->xfer) {
			t->got_begin_r = true;
			t->begin_r = br;
		}
		break;
	case ESL_T_IMG_CHUNK_R:
		if (esl_dec_img_chunk_r(f->payload, f->len, &cr) != 0)
			break;
		if (t->verbose)
			printf("IMG_CHUNK_R xfer=%u status=%s next=%" PRIu32 " done=%u\n", cr.xfer,
			       esl_status_name(cr.status), cr.next_offset, cr.done);
		if (t->bench)
			bench_chunk_r(t, &cr);
		if (cr.xfer != t->xfer)
			break;
		if (cr.status == ESL_ST_OK) {
			t->acked = cr.next_offset;
			t->chunk_done = cr.done;
		} else {
			t->chunk_fail = true;
		}
		break;
	case ESL_T_RESULT:
		if (esl_dec_result(f->payload, f->len, &rs) != 0)
			break;
		if (t->bench) {
			bench_result(t, &rs);
			break;
		}
		printf("RESULT label=%08" PRIX32 " kind=%s tag=%u status=%s hash=%016" PRIx64
		       " attempts=%u\n",
		       rs.label, kind_name(rs.kind), rs.tag, esl_status_name(rs.status), rs.hash,
		       rs.attempts);
		t->got_result = true;
		t->result = rs;
		break;
	case ESL_T_CHECKIN:
		n = esl_dec_checkin_count(f->payload, f->len);
		for (int i = 0; t->verbose && i < n; i++) {
			esl_dec_checkin_at(f->payload, (unsigned)i, &ci);
			printf("CHECKIN label=%08" PRIX32
			       " type=%u batt=%umV temp=%dC rssi=%d lqi=%u "
			       "page=%u fw=%u.%u hash=%016" PRIx64 "%s%s\n",
			       ci.label, ci.type, ci.battery_mv, ci.temp_c, ci.rssi, ci.lqi,
			       ci.page, ci.fw >> 8, ci.fw & 0xFF, ci.hash,
			       ci.flags & ESL_CI_REPLAY ? " replay" : "",
			       ci.flags & ESL_CI_LOW_BATT ? " low-battery" : "");
		}
		break;
	case ESL_T_ERROR:
		if (esl_dec_error(f->payload, f->len, &er) == 0)
			printf("ERROR type=%s seq=%u code=%s\n", esl_type_name(er.type), er.seq,
			       esl_status_name(er.code));
		break;
	default:
		if (t->verbose)
			printf("%s (0x%02x) len=%u\n", esl_type_name(f->type), f->type, f->len);
	}
	fflush(stdout);
}

/* Wait up to @ms for input, process it, run the link's timers. */
static void step(struct tool *t, int ms)
{
	struct pollfd p = {.fd = t->fd, .events = POLLIN};
	int32_t lt = esl_link_timeout(&t->link, now_ms(t));
	uint8_t buf[4096];
	struct esl_frame f;
	ssize_t n;

	flush_out(t);
	if (t->wn)
		p.events |= POLLOUT;
	if (lt >= 0 && lt < ms)
		ms = (int)lt;
	if (t->wn && ms > 5)
		ms = 5;
	poll(&p, 1, ms);
	while ((n = read(t->fd, buf, sizeof(buf))) > 0) {
		for (size_t off = 0; off < (size_t)n;) {
			off += esl_link_feed(&t->link, buf + off, (size_t)n - off);
			while (esl_link_next(&t->link, now_ms(t), &f))
				handle(t, &f);
		}
	}
	if (esl_link_poll(&t->link, now_ms(t)) == -ESL_ETIMEDOUT) {
		t->link_failed = true;
		fprintf(stderr, "esl-tool: no acknowledgement from the station, link restarted\n");
	}
	while (esl_link_next(&t->link, now_ms(t), &f)) /* found in a frame given up */
		handle(t, &f);
	flush_out(t);
}

static bool send_msg(struct tool *t, uint8_t type, const uint8_t *p, int len, uint32_t deadline)
{
	while (!esl_link_can_send(&t->link)) {
		if ((int32_t)(now_ms(t) - deadline) >= 0)
			return false;
		step(t, 50);
	}
	return len >= 0 && esl_link_send(&t->link, type, p, (uint16_t)len, now_ms(t)) == 0;
}

static bool hello(struct tool *t, uint32_t deadline, bool print)
{
	struct esl_hello h = {ESL_PROTO_VERSION, ESL_PROTO_MIN_VERSION, ESL_LINK_WINDOW_MAX,
			      ESL_CAP_PACKBITS | ESL_CAP_FLASH | ESL_CAP_PAGE | ESL_CAP_RESUME};
	uint8_t b[ESL_HELLO_LEN];
	uint32_t again = now_ms(t);

	t->got_hello_r = false;
	while ((int32_t)(now_ms(t) - deadline) < 0) {
		if ((int32_t)(now_ms(t) - again) >= 0) {
			/* ask again now and then: the first HELLO may have died with a reset */
			send_msg(t, ESL_T_HELLO, b, esl_enc_hello(b, sizeof(b), &h), deadline);
			again = now_ms(t) + 3000;
		}
		step(t, 50);
		if (t->got_hello_r) {
			if (print)
				print_hello_r("HELLO_R", &t->hello_r);
			return t->hello_r.status == ESL_ST_OK;
		}
	}
	fprintf(stderr, "esl-tool: no HELLO_R from the station\n");
	return false;
}

static bool parse_label(const char *s, uint32_t *id)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || end == s || *end || strlen(s) > 8 || v > 0xFFFFFFFFul)
		return false;
	*id = (uint32_t)v;
	return true;
}

/* Wait for the RESULT of (label, kind, hash); -1 when interrupted (link failure, station reset). */
static int wait_result(struct tool *t, uint32_t label, uint8_t kind, uint64_t hash,
		       uint32_t deadline)
{
	while ((int32_t)(now_ms(t) - deadline) < 0) {
		if (t->got_result && t->result.label == label && t->result.kind == kind &&
		    (kind != ESL_K_IMAGE || t->result.hash == hash))
			return t->result.status == ESL_ST_OK ? 0 : 1;
		if (t->link_failed || t->boot_changed)
			return -1;
		step(t, 100);
	}
	return 1;
}

static int cmd_send(struct tool *t, const char *label_s, const char *path, uint8_t type,
		    uint32_t deadline)
{
	static uint8_t raw[ESL_IMG_MAX_BYTES], enc[ESL_IMG_MAX_BYTES];
	static uint8_t b[ESL_MAX_PAYLOAD];
	struct esl_image img;
	struct esl_img_begin m;
	uint32_t label, raw_len, enc_len;
	uint16_t max_chunk = ESL_CHUNK_MAX;
	const uint8_t *data;
	int rc;

	if (!parse_label(label_s, &label)) {
		fprintf(stderr, "esl-tool: bad label id %s (8 hex digits)\n", label_s);
		return 2;
	}
	rc = image_read_pbm(path, &img, raw, sizeof(raw));
	if (rc < 0) {
		fprintf(stderr, "esl-tool: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	raw_len = esl_img_bytes(img.width, img.height, img.planes);
	enc_len = (uint32_t)esl_pack_encode(raw, raw_len, enc, raw_len - 1);
	data = enc;
	m = (struct esl_img_begin){.label = label,
				   .enc = ESL_IMG_ENC_PACKBITS,
				   .type = type,
				   .hash = esl_img_hash(&img),
				   .width = img.width,
				   .height = img.height,
				   .planes = img.planes,
				   .raw_len = raw_len,
				   .enc_len = enc_len};
	if (!enc_len) {
		m.enc = ESL_IMG_ENC_RAW;
		m.enc_len = enc_len = raw_len;
		data = raw;
	}
	printf("image %ux%u planes=%u hash=%016" PRIx64 " raw=%" PRIu32 " %s=%" PRIu32 "\n",
	       img.width, img.height, img.planes, m.hash, raw_len,
	       m.enc == ESL_IMG_ENC_RAW ? "raw" : "packbits", enc_len);
	if (!hello(t, deadline, true))
		return 1;
	if (t->hello_r.max_chunk && t->hello_r.max_chunk < max_chunk)
		max_chunk = t->hello_r.max_chunk;
	for (unsigned attempt = 1; (int32_t)(now_ms(t) - deadline) < 0; attempt++) {
		uint32_t sent;

		t->link_failed = t->boot_changed = false;
		t->got_begin_r = t->chunk_done = t->chunk_fail = false;
		t->got_result = false;
		m.xfer = t->xfer = (uint16_t)(t->xfer + 1);
		if (!send_msg(t, ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m), deadline))
			break;
		while (!t->got_begin_r && !t->link_failed && !t->boot_changed &&
		       (int32_t)(now_ms(t) - deadline) < 0)
			step(t, 100);
		if (!t->got_begin_r)
			continue;
		printf("IMG_BEGIN_R status=%s next=%" PRIu32 " (attempt %u)\n",
		       esl_status_name(t->begin_r.status), t->begin_r.next_offset, attempt);
		switch (t->begin_r.status) {
		case ESL_ST_ALREADY:
			printf("delivered: the label already shows this image\n");
			return 0;
		case ESL_ST_IN_PROGRESS:
			break;
		case ESL_ST_BUSY:
			for (uint32_t until = now_ms(t) + t->begin_r.retry_ms;
			     (int32_t)(now_ms(t) - until) < 0;)
				step(t, 50);
			continue;
		case ESL_ST_OK:
			sent = t->acked = t->begin_r.next_offset;
			while (!t->chunk_done && !t->chunk_fail && !t->link_failed &&
			       !t->boot_changed && (int32_t)(now_ms(t) - deadline) < 0) {
				while (sent < enc_len && esl_link_can_send(&t->link)) {
					struct esl_img_chunk c = {.xfer = t->xfer,
								  .offset = sent,
								  .data = data + sent};

					c.len = (uint16_t)(enc_len - sent < max_chunk
								   ? enc_len - sent
								   : max_chunk);
					esl_link_send(&t->link, ESL_T_IMG_CHUNK, b,
						      (uint16_t)esl_enc_img_chunk(b, sizeof(b), &c),
						      now_ms(t));
					sent += c.len;
				}
				step(t, 100);
			}
			if (!t->chunk_done)
				continue; /* begin again: the station says where to resume */
			break;
		default:
			printf("failed: %s\n", esl_status_name(t->begin_r.status));
			return 1;
		}
		rc = wait_result(t, label, ESL_K_IMAGE, m.hash, deadline);
		if (rc == 0) {
			printf("delivered\n");
			return 0;
		}
		if (rc > 0) {
			printf("failed: %s\n",
			       t->got_result ? esl_status_name(t->result.status) : "timed out");
			return 1;
		}
	}
	printf("failed: timed out\n");
	return 1;
}

static int cmd_flash(struct tool *t, const char *label_s, uint32_t deadline)
{
	struct esl_flash f = {
		.req = 1, .colour = ESL_LED_RED, .count = 3, .on_ms = 200, .off_ms = 200};
	uint8_t b[ESL_FLASH_LEN];
	int rc;

	if (!parse_label(label_s, &f.label)) {
		fprintf(stderr, "esl-tool: bad label id %s (8 hex digits)\n", label_s);
		return 2;
	}
	if (!hello(t, deadline, false))
		return 1;
	do {
		t->got_result = t->link_failed = t->boot_changed = false;
		f.req++;
		if (!send_msg(t, ESL_T_FLASH, b, esl_enc_flash(b, sizeof(b), &f), deadline))
			return 1;
		rc = wait_result(t, f.label, ESL_K_FLASH, 0, deadline);
	} while (rc < 0 && (int32_t)(now_ms(t) - deadline) < 0);
	return rc == 0 ? 0 : 1;
}

/*
 * bench: the same image to @n labels from @first, pipelined the way
 * PROTOCOL.md §7 recommends: IMG_BEGIN immediately followed by the chunks
 * (no wait for IMG_BEGIN_R), the next label right behind, never more than
 * `credits` labels without a RESULT. A label answered BUSY, NO_XFER or GAP
 * is queued again. Prints labels/s against the raw limit of the line.
 */
enum { B_PENDING = 0, B_SENT, B_OK, B_FAIL };

struct bench {
	uint32_t first;
	unsigned n;
	uint8_t *state;
	unsigned outstanding, done, failed, retries;
	unsigned next; /* lowest label index maybe still B_PENDING */
};

static unsigned bench_index(const struct bench *b, uint16_t xfer)
{
	return (unsigned)xfer - 1u; /* xfer = index + 1 */
}

static void bench_requeue(struct tool *t, unsigned i)
{
	struct bench *b = t->bench;

	if (i >= b->n || b->state[i] != B_SENT)
		return;
	b->state[i] = B_PENDING;
	b->outstanding--;
	b->retries++;
	if (i < b->next)
		b->next = i;
}

static void bench_begin_r(struct tool *t, const struct esl_img_begin_r *r)
{
	unsigned i = bench_index(t->bench, r->xfer);

	if (i >= t->bench->n || t->bench->state[i] != B_SENT)
		return;
	if (r->status == ESL_ST_ALREADY) {
		t->bench->state[i] = B_OK;
		t->bench->outstanding--;
		t->bench->done++;
	} else if (r->status != ESL_ST_OK && r->status != ESL_ST_IN_PROGRESS) {
		bench_requeue(t, i);
	}
}

static void bench_chunk_r(struct tool *t, const struct esl_img_chunk_r *r)
{
	if (r->status != ESL_ST_OK)
		bench_requeue(t, bench_index(t->bench, r->xfer));
}

static void bench_result(struct tool *t, const struct esl_result *r)
{
	struct bench *b = t->bench;
	unsigned i = r->label - b->first;

	if (r->kind != ESL_K_IMAGE || i >= b->n || b->state[i] != B_SENT)
		return;
	b->outstanding--;
	if (r->status == ESL_ST_OK) {
		b->state[i] = B_OK;
		b->done++;
	} else {
		b->state[i] = B_FAIL;
		b->failed++;
		printf("RESULT label=%08" PRIX32 " status=%s\n", r->label,
		       esl_status_name(r->status));
	}
}

static int cmd_bench(struct tool *t, const char *n_s, const char *path, uint32_t first,
		     uint32_t deadline)
{
	static uint8_t raw[ESL_IMG_MAX_BYTES], enc[ESL_IMG_MAX_BYTES];
	static uint8_t b[ESL_MAX_PAYLOAD];
	struct bench bench = {.first = first};
	struct esl_image img;
	struct esl_img_begin m;
	uint32_t raw_len, enc_len, t0, t1, tx0;
	unsigned credits;
	const uint8_t *data = enc;
	char *end;
	int rc;

	bench.n = (unsigned)strtoul(n_s, &end, 10);
	if (*end || bench.n == 0 || bench.n > 60000) {
		fprintf(stderr, "esl-tool: bench N: 1..60000\n");
		return 2;
	}
	rc = image_read_pbm(path, &img, raw, sizeof(raw));
	if (rc < 0) {
		fprintf(stderr, "esl-tool: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	raw_len = esl_img_bytes(img.width, img.height, img.planes);
	enc_len = (uint32_t)esl_pack_encode(raw, raw_len, enc, raw_len - 1);
	m = (struct esl_img_begin){.enc = ESL_IMG_ENC_PACKBITS,
				   .hash = esl_img_hash(&img),
				   .width = img.width,
				   .height = img.height,
				   .planes = img.planes,
				   .raw_len = raw_len,
				   .enc_len = enc_len};
	if (!enc_len) {
		m.enc = ESL_IMG_ENC_RAW;
		m.enc_len = enc_len = raw_len;
		data = raw;
	}
	if (!hello(t, deadline, true))
		return 1;
	credits = t->hello_r.buffers > 4 ? t->hello_r.buffers - 2u : 1u;
	if (credits > 32)
		credits = 32;
	bench.state = calloc(bench.n, 1);
	if (!bench.state)
		return 1;
	t->bench = &bench;
	t0 = now_ms(t);
	tx0 = t->link.st.tx_bytes;
	while (bench.done + bench.failed < bench.n && (int32_t)(now_ms(t) - deadline) < 0) {
		/* start labels while credits and the window allow; a label's frames go out together */
		while (bench.outstanding < credits && bench.next < bench.n &&
		       esl_link_in_flight(&t->link) + 1 < t->link.cfg.window) {
			unsigned i = bench.next;

			if (bench.state[i] != B_PENDING) {
				bench.next++;
				continue;
			}
			m.label = first + i;
			m.xfer = (uint16_t)(i + 1);
			if (esl_link_send(&t->link, ESL_T_IMG_BEGIN, b,
					  (uint16_t)esl_enc_img_begin(b, sizeof(b), &m),
					  now_ms(t)) != 0)
				break;
			bench.state[i] = B_SENT;
			bench.outstanding++;
			bench.next++;
			for (uint32_t off = 0; off < enc_len;) {
				struct esl_img_chunk c = {
					.xfer = m.xfer, .offset = off, .data = data + off};

				c.len = (uint16_t)(enc_len - off < ESL_CHUNK_MAX ? enc_len - off
										 : ESL_CHUNK_MAX);
				while (!esl_link_can_send(&t->link))
					step(t, 20);
				esl_link_send(&t->link, ESL_T_IMG_CHUNK, b,
					      (uint16_t)esl_enc_img_chunk(b, sizeof(b), &c),
					      now_ms(t));
				off += c.len;
			}
		}
		step(t, 20);
		if (t->link_failed || t->boot_changed) {
			/* everything without a RESULT goes again (resume / ALREADY sort it out) */
			for (unsigned i = 0; i < bench.n; i++)
				bench_requeue(t, i);
			t->link_failed = t->boot_changed = false;
		}
	}
	t1 = now_ms(t);
	t->bench = NULL;
	{
		double secs = (t1 - t0) / 1000.0;
		double per_label =
			bench.done ? (double)(t->link.st.tx_bytes - tx0) / bench.done : 0;
		double limit =
			per_label > 0
				? (t->link.cfg.byte_us ? 1e6 / t->link.cfg.byte_us : 0) / per_label
				: 0;
		double rate = secs > 0 ? bench.done / secs : 0;

		printf("bench: %u of %u labels delivered, %u failed, %u re-sent, in %.2fs: %.2f "
		       "labels/s; %s image %" PRIu32
		       " bytes, %.0f bytes on the wire per label; raw "
		       "limit %.2f labels/s; efficiency %.1f%%\n",
		       bench.done, bench.n, bench.failed, bench.retries, secs, rate,
		       m.enc == ESL_IMG_ENC_RAW ? "raw" : "packbits", enc_len, per_label, limit,
		       limit > 0 ? 100.0 * rate / limit : 0);
	}
	free(bench.state);
	return bench.done == bench.n ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: esl-tool [--baud N] [--timeout S] [--type T] [--first-id ID] [-v] PORT "
		"COMMAND\n"
		"  hello                 handshake, print the station's versions and capacities\n"
		"  listen                print every message until the timeout\n"
		"  send LABEL FILE.pbm   deliver a one-plane PBM to LABEL (8 hex digits)\n"
		"  flash LABEL           flash LABEL's LED\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"baud", required_argument, NULL, 'b'}, {"timeout", required_argument, NULL, 't'},
		{"type", required_argument, NULL, 'T'}, {"first-id", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},	{NULL, 0, NULL, 0},
	};
	static struct tool tool;
	struct tool *t = &tool;
	unsigned long baud = 115200, type = 0;
	double timeout_s = 30;
	uint16_t sid = 0;
	uint32_t deadline, first_id = 0xE1000001;
	const char *cmd;
	int o, rc = 2;
	char *end;

	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			baud = strtoul(optarg, &end, 10);
			if (*end || baud < 1200)
				goto usage;
			break;
		case 't':
			timeout_s = strtod(optarg, &end);
			if (*end || timeout_s <= 0 || timeout_s > 86400)
				goto usage;
			break;
		case 'T':
			type = strtoul(optarg, &end, 10);
			if (*end || type > 255)
				goto usage;
			break;
		case 'F':
			if (!parse_label(optarg, &first_id))
				goto usage;
			break;
		case 'v':
			t->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (argc - optind < 2)
		goto usage;
	cmd = argv[optind + 1];
	t->fd = tty_open_port(argv[optind], (unsigned)baud);
	if (t->fd < 0) {
		fprintf(stderr, "esl-tool: %s: %s\n", argv[optind], strerror(-t->fd));
		return 1;
	}
	if (getrandom(&sid, sizeof(sid), GRND_NONBLOCK) != (ssize_t)sizeof(sid))
		sid = (uint16_t)tty_now_us();
	t->t0_us = tty_now_us();
	{
		struct esl_link_cfg c = {.write = tool_write,
					 .arg = t,
					 .sid = sid ? sid : 1,
					 .window = 4,
					 .max_retries = 6,
					 .rto_ms = 300,
					 .byte_us = (uint16_t)(10000000ul / baud),
					 .max_payload = ESL_MAX_PAYLOAD};

		esl_link_init(&t->link, &c);
	}
	deadline = now_ms(t) + (uint32_t)(timeout_s * 1000);
	if (strcmp(cmd, "hello") == 0 && argc - optind == 2) {
		rc = hello(t, deadline, true) ? 0 : 1;
	} else if (strcmp(cmd, "listen") == 0 && argc - optind == 2) {
		t->verbose = true;
		while ((int32_t)(now_ms(t) - deadline) < 0)
			step(t, 200);
		rc = 0;
	} else if (strcmp(cmd, "send") == 0 && argc - optind == 4) {
		rc = cmd_send(t, argv[optind + 2], argv[optind + 3], (uint8_t)type, deadline);
	} else if (strcmp(cmd, "bench") == 0 && argc - optind == 4) {
		rc = cmd_bench(t, argv[optind + 2], argv[optind + 3], first_id, deadline);
	} else if (strcmp(cmd, "flash") == 0 && argc - optind == 3) {
		rc = cmd_flash(t, argv[optind + 2], deadline);
	} else {
		close(t->fd);
		goto usage;
	}
	/* let the last acks out */
	for (int i = 0; i < 5; i++)
		step(t, 10);
	printf("link: tx_bytes=%" PRIu32 " rx_bytes=%" PRIu32 " frames=%" PRIu32 " garbage=%" PRIu32
	       " hdr_err=%" PRIu32 " crc_err=%" PRIu32 " retransmits=%" PRIu32 " naks_rx=%" PRIu32
	       " dup=%" PRIu32 " failures=%" PRIu32 "\n",
	       t->link.st.tx_bytes, t->link.dec.st.bytes, t->link.dec.st.frames,
	       t->link.dec.st.garbage, t->link.dec.st.hdr_err, t->link.dec.st.crc_err,
	       t->link.st.retransmits, t->link.st.rx_naks, t->link.st.rx_dup, t->link.st.failures);
	close(t->fd);
	return rc;
usage:
	usage(stderr);
	return 2;
}
