/*
 * sim_radio: simulated radio and labels for the emulator (see sim_radio.h).
 */
#include "sim_radio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_FREE = 0, OP_WAIT, OP_AIR };

struct sim_op {
	uint8_t phase;
	uint8_t kind;
	uint8_t attempts;
	uint32_t label;
	uint32_t t; /* end of the current phase */
	struct bs_image img;
	struct esl_flash flash;
	struct esl_page page;
};

struct sim {
	struct sim_cfg cfg;
	struct bs *bs;
	uint32_t now;
	uint64_t rng;
	uint32_t first_id;
	struct sim_label *labels;
	size_t nlabels;
	uint32_t next_checkin_due;
	uint32_t air_free; /* when the air channel is free again */
	struct sim_op ops[BS_MAX_XFERS];
	struct sim_stats st;
	uint8_t enc[ESL_IMG_MAX_BYTES + ESL_IMG_MAX_BYTES / 128 + 16];
	uint8_t raw[ESL_IMG_MAX_BYTES];
};

static bool reached(uint32_t now, uint32_t t)
{
	return (int32_t)(now - t) >= 0;
}

static uint32_t rnd(struct sim *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (uint32_t)((s->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rnd_upto(struct sim *s, uint32_t max)
{
	return max ? rnd(s) % (max + 1) : 0;
}

/* Next check-in: the interval with +-25% jitter. */
static uint32_t checkin_interval(struct sim *s)
{
	uint32_t base = s->cfg.checkin_ms ? s->cfg.checkin_ms : 1;

	return base - base / 4 + rnd_upto(s, base / 2);
}

struct sim *sim_new(const struct sim_cfg *cfg, const char *spec, uint32_t first_id, char *err,
		    size_t errcap)
{
	struct sim *s = calloc(1, sizeof(*s));
	const char *p = spec;
	size_t cap = 0;

	if (!s) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	if (!s->cfg.tries)
		s->cfg.tries = 1;
	if (!s->cfg.air_kbps)
		s->cfg.air_kbps = 1;
	s->rng = cfg->seed ? cfg->seed : 0x9E3779B97F4A7C15ull;
	s->first_id = first_id;
	while (*p) {
		char *end;
		unsigned long n = strtoul(p, &end, 10), type = ESL_LT_29_BW;
		uint16_t w, h;
		uint8_t planes;

		if (end == p || n == 0 || n > 100000)
			goto bad;
		p = end;
		if (*p == ':') {
			type = strtoul(p + 1, &end, 10);
			if (end == p + 1)
				goto bad;
			p = end;
		}
		if (esl_label_geometry((uint8_t)type, &w, &h, &planes) != 0 || type > 255)
			goto bad;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
		if (s->nlabels + n > 100000)
			goto bad;
		if (s->nlabels + n > cap) {
			struct sim_label *nl;

			cap = s->nlabels + n;
			nl = realloc(s->labels, cap * sizeof(*nl));
			if (!nl)
				goto oom;
			s->labels = nl;
		}
		for (unsigned long i = 0; i < n; i++) {
			struct sim_label *l = &s->labels[s->nlabels];

			memset(l, 0, sizeof(*l));
			l->id = first_id + (uint32_t)s->nlabels;
			l->type = (uint8_t)type;
			l->width = w;
			l->height = h;
			l->planes = planes;
			l->fb = calloc(1, esl_img_bytes(w, h, planes));
			if (!l->fb)
				goto oom;
			s->nlabels++;
			l->battery_mv = (uint16_t)(2900 + rnd_upto(s, 200));
			l->temp_c = (int8_t)(18 + rnd_upto(s, 6));
			l->rssi = (int8_t)(-50 - (int)rnd_upto(s, 35));
			l->lqi = (uint8_t)(255 + 2 * l->rssi); /* -50..-85 dBm -> 155..85 */
			l->fw = 0x0203;
			l->next_checkin =
				rnd_upto(s, cfg->checkin_ms < 10000 ? cfg->checkin_ms : 10000);
		}
	}
	if (!s->nlabels)
		goto bad;
	return s;
bad:
	snprintf(err, errcap, "bad --labels \"%s\" (want N or N:TYPE,N:TYPE with types 1-3)", spec);
	sim_free(s);
	return NULL;
oom:
	snprintf(err, errcap, "out of memory for %zu labels", s->nlabels);
	sim_free(s);
	return NULL;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nlabels; i++)
		free(s->labels[i].fb);
	free(s->labels);
	free(s);
}

struct sim_label *sim_label(struct sim *s, uint32_t id)
{
	uint32_t i = id - s->first_id;

	return i < s->nlabels ? &s->labels[i] : NULL;
}

size_t sim_label_count(const struct sim *s)
{
	return s->nlabels;
}

const struct sim_stats *sim_stats(const struct sim *s)
{
	return &s->st;
}

void sim_set_loss(struct sim *s, double pct)
{
	s->cfg.loss_pct = pct;
}

double sim_loss(const struct sim *s)
{
	return s->cfg.loss_pct;
}

unsigned sim_pending(const struct sim *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < BS_MAX_XFERS; i++)
		n += s->ops[i].phase != OP_FREE;
	return n;
}

void sim_reset(struct sim *s, struct bs *bs, uint32_t now)
{
	s->bs = bs;
	s->now = now;
	memset(s->ops, 0, sizeof(s->ops));
}

/* Queue an operation on @handle: the label wakes up within wake_ms. */
static uint8_t op_start(struct sim *s, uint16_t handle, uint8_t kind, uint32_t label)
{
	struct sim_op *op;

	if (handle >= BS_MAX_XFERS)
		return ESL_ST_BUSY;
	if (!sim_label(s, label))
		return ESL_ST_NO_LABEL;
	op = &s->ops[handle];
	memset(op, 0, sizeof(*op));
	op->phase = OP_WAIT;
	op->kind = kind;
	op->label = label;
	op->t = s->now + rnd_upto(s, s->cfg.wake_ms);
	return ESL_ST_OK;
}

static uint8_t r_image(void *arg, uint16_t handle, const struct bs_image *img)
{
	struct sim *s = arg;
	uint8_t st = op_start(s, handle, ESL_K_IMAGE, img->label);

	if (st == ESL_ST_OK)
		s->ops[handle].img = *img;
	return st;
}

static uint8_t r_flash(void *arg, uint16_t handle, const struct esl_flash *f)
{
	struct sim *s = arg;
	uint8_t st = op_start(s, handle, ESL_K_FLASH, f->label);

	if (st == ESL_ST_OK)
		s->ops[handle].flash = *f;
	return st;
}

static uint8_t r_page(void *arg, uint16_t handle, const struct esl_page *p)
{
	struct sim *s = arg;
	uint8_t st = op_start(s, handle, ESL_K_PAGE, p->label);

	if (st == ESL_ST_OK)
		s->ops[handle].page = *p;
	return st;
}

const struct bs_radio_ops sim_radio_ops = {r_image, r_flash, r_page};

/* The label received an image whole: decode, verify, show. */
static uint8_t apply_image(struct sim *s, struct sim_label *l, uint16_t handle,
			   const struct bs_image *img)
{
	struct esl_image im = {img->width, img->height, img->planes, s->raw};

	if (img->width != l->width || img->height != l->height || img->planes != l->planes)
		return ESL_ST_TYPE_MISMATCH;
	if (img->enc_len > sizeof(s->enc) || img->raw_len > sizeof(s->raw) ||
	    bs_image_read(s->bs, handle, 0, s->enc, img->enc_len) != 0)
		return ESL_ST_DECODE;
	if (img->enc == ESL_IMG_ENC_RAW) {
		if (img->enc_len != img->raw_len)
			return ESL_ST_DECODE;
		memcpy(s->raw, s->enc, img->raw_len);
	} else if (esl_pack_decode(s->enc, img->enc_len, s->raw, img->raw_len) != 0) {
		return ESL_ST_DECODE;
	}
	if (esl_img_hash(&im) != img->hash)
		return ESL_ST_HASH;
	memcpy(l->fb, s->raw, img->raw_len);
	l->hash = img->hash;
	l->page = 0;
	l->updates++;
	l->battery_mv =
		(uint16_t)(l->battery_mv > 2000 + s->cfg.drain_mv ? l->battery_mv - s->cfg.drain_mv
								  : 2000);
	return ESL_ST_OK;
}

static void op_finish(struct sim *s, uint16_t handle, uint8_t status)
{
	struct sim_op *op = &s->ops[handle];
	uint8_t attempts = op->attempts;
	struct sim_label *l = sim_label(s, op->label);

	if (status == ESL_ST_OK)
		s->st.delivered++;
	else {
		s->st.failed++;
		if (l)
			l->failures++;
	}
	op->phase = OP_FREE;
	bs_radio_done(s->bs, handle, status, attempts);
}

/* One phase of @handle ended at s->now. */
static void op_step(struct sim *s, uint16_t handle)
{
	struct sim_op *op = &s->ops[handle];
	struct sim_label *l = sim_label(s, op->label);
	uint32_t bytes, air_ms, start;
	uint8_t st = ESL_ST_OK;

	if (op->phase == OP_WAIT) {
		/* the label is awake: transmit when the channel is free */
		bytes = (op->kind == ESL_K_IMAGE ? op->img.enc_len : 0) + 24;
		air_ms = (bytes * 8 + s->cfg.air_kbps - 1) / s->cfg.air_kbps;
		start = reached(s->now, s->air_free) ? s->now : s->air_free;
		op->t = start + air_ms;
		s->air_free = op->t;
		op->phase = OP_AIR;
		op->attempts++;
		s->st.air_tx++;
		s->st.air_bytes += bytes;
		return;
	}
	/* on the air: lost, or received */
	if (s->cfg.loss_pct > 0 && (double)rnd_upto(s, 9999) < s->cfg.loss_pct * 100.0) {
		s->st.air_lost++;
		if (op->attempts >= s->cfg.tries) {
			op_finish(s, handle, ESL_ST_NO_RESPONSE);
			return;
		}
		op->phase = OP_WAIT; /* try again at the label's next wake-up */
		op->t = s->now + 10 + rnd_upto(s, s->cfg.wake_ms);
		return;
	}
	switch (op->kind) {
	case ESL_K_IMAGE:
		st = apply_image(s, l, handle, &op->img);
		break;
	case ESL_K_FLASH:
		l->flashes++;
		break;
	case ESL_K_PAGE:
		l->page = op->page.page;
		l->pages++;
		break;
	}
	op_finish(s, handle, st);
}

static void checkins(struct sim *s)
{
	uint32_t due = s->now + 3600000;

	for (size_t i = 0; i < s->nlabels; i++) {
		struct sim_label *l = &s->labels[i];

		if (reached(s->now, l->next_checkin)) {
			struct esl_checkin ci = {
				.label = l->id,
				.type = l->type,
				.page = l->page,
				.fw = l->fw,
				.battery_mv = l->battery_mv,
				.temp_c = l->temp_c,
				.rssi = (int8_t)(l->rssi - 2 + (int)rnd_upto(s, 4)),
				.lqi = l->lqi,
				.flags = l->battery_mv < 2400 ? ESL_CI_LOW_BATT : 0,
				.hash = l->hash,
			};

			bs_radio_checkin(s->bs, &ci);
			s->st.checkins++;
			l->next_checkin = s->now + checkin_interval(s);
		}
		if ((int32_t)(l->next_checkin - due) < 0)
			due = l->next_checkin;
	}
	s->next_checkin_due = due;
}

void sim_poll(struct sim *s, uint32_t now)
{
	if (!s->bs)
		return;
	s->now = now;
	for (;;) {
		int best = -1;

		for (unsigned i = 0; i < BS_MAX_XFERS; i++) {
			const struct sim_op *op = &s->ops[i];

			if (op->phase != OP_FREE && reached(now, op->t) &&
			    (best < 0 || (int32_t)(op->t - s->ops[best].t) < 0))
				best = (int)i;
		}
		if (best < 0)
			break;
		op_step(s, (uint16_t)best);
	}
	if (reached(now, s->next_checkin_due))
		checkins(s);
}

int32_t sim_timeout(const struct sim *s, uint32_t now)
{
	int32_t t = (int32_t)(s->next_checkin_due - now);

	for (unsigned i = 0; i < BS_MAX_XFERS; i++) {
		const struct sim_op *op = &s->ops[i];

		if (op->phase != OP_FREE && (int32_t)(op->t - now) < t)
			t = (int32_t)(op->t - now);
	}
	return t < 0 ? 0 : t;
}
