/*
 * esl_image: label image helpers shared by gateway and base station (see
 * esl_image.h). Freestanding: only the compiler's own headers.
 */
#include "esl_image.h"

int esl_label_geometry(uint8_t type, uint16_t *width, uint16_t *height, uint8_t *planes)
{
	switch (type) {
	case ESL_LT_29_BW:
		*width = 296, *height = 128, *planes = 1;
		return 0;
	case ESL_LT_29_BWR:
		*width = 296, *height = 128, *planes = 2;
		return 0;
	case ESL_LT_42_BWR:
		*width = 400, *height = 300, *planes = 2;
		return 0;
	}
	return -1;
}

int esl_img_get(const struct esl_image *img, unsigned x, unsigned y)
{
	uint32_t stride = esl_img_stride(img->width);
	uint32_t off = y * stride + x / 8u;
	uint8_t mask = (uint8_t)(0x80u >> (x % 8u));

	if (img->planes > 1 && (img->data[(uint32_t)img->height * stride + off] & mask))
		return 2;
	return (img->data[off] & mask) ? 1 : 0;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t esl_img_hash(const struct esl_image *img)
{
	uint8_t hdr[5] = {
		(uint8_t)(img->width & 0xff),
		(uint8_t)(img->width >> 8),
		(uint8_t)(img->height & 0xff),
		(uint8_t)(img->height >> 8),
		img->planes,
	};
	uint64_t h = fnv1a(0xcbf29ce484222325ull, hdr, sizeof(hdr));

	return fnv1a(h, img->data, esl_img_bytes(img->width, img->height, img->planes));
}

size_t esl_pack_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < n) {
		size_t run = 1;

		while (i + run < n && run < 128 && in[i + run] == in[i])
			run++;
		if (run >= 3 || (run == 2 && i + run == n)) {
			/* a repeat packet: 2 bytes for up to 128 copies */
			if (o + 2 > cap)
				return 0;
			out[o++] = (uint8_t)(257 - run);
			out[o++] = in[i];
			i += run;
			continue;
		}
		/* a literal packet: extend until a run of 3 starts or 128 bytes */
		size_t start = i, len = 0;

		while (i < n && len < 128) {
			if (i + 2 < n && in[i] == in[i + 1] && in[i] == in[i + 2])
				break;
			i++;
			len++;
		}
		if (o + 1 + len > cap)
			return 0;
		out[o++] = (uint8_t)(len - 1);
		for (size_t k = 0; k < len; k++)
			out[o++] = in[start + k];
	}
	return o;
}

int esl_pack_decode(const uint8_t *in, size_t n, uint8_t *out, size_t want)
{
	size_t i = 0, o = 0;

	while (i < n) {
		uint8_t c = in[i++];

		if (c < 128) {
			size_t len = (size_t)c + 1;

			if (i + len > n || o + len > want)
				return -1;
			for (size_t k = 0; k < len; k++)
				out[o++] = in[i++];
		} else if (c > 128) {
			size_t len = 257u - c;

			if (i >= n || o + len > want)
				return -1;
			for (size_t k = 0; k < len; k++)
				out[o++] = in[i];
			i++;
		}
	}
	return o == want ? 0 : -1;
}
