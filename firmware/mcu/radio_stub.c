/*
 * radio_stub: every label "does not respond" (see radio_stub.h).
 */
#include "radio_stub.h"

static struct {
	struct bs *bs;
	uint32_t due[BS_MAX_XFERS];
	uint8_t pending[BS_MAX_XFERS];
	uint32_t now;
} rs;

static uint8_t start(uint16_t handle)
{
	if (handle >= BS_MAX_XFERS)
		return ESL_ST_BUSY;
	rs.pending[handle] = 1;
	rs.due[handle] = rs.now + RADIO_STUB_DELAY_MS;
	return ESL_ST_OK;
}

static uint8_t r_image(void *arg, uint16_t handle, const struct bs_image *img)
{
	(void)arg;
	(void)img;
	return start(handle);
}

static uint8_t r_flash(void *arg, uint16_t handle, const struct esl_flash *f)
{
	(void)arg;
	(void)f;
	return start(handle);
}

static uint8_t r_page(void *arg, uint16_t handle, const struct esl_page *p)
{
	(void)arg;
	(void)p;
	return start(handle);
}

const struct bs_radio_ops radio_stub_ops = {r_image, r_flash, r_page};

void radio_stub_reset(struct bs *bs)
{
	esl_memset(&rs, 0, sizeof(rs));
	rs.bs = bs;
}

void radio_stub_poll(uint32_t now)
{
	rs.now = now;
	for (uint16_t h = 0; h < BS_MAX_XFERS; h++) {
		if (rs.pending[h] && (int32_t)(now - rs.due[h]) >= 0) {
			rs.pending[h] = 0;
			bs_radio_done(rs.bs, h, ESL_ST_NO_RESPONSE, 1);
		}
	}
}
