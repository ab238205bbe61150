/*
 * image: PBM and PNG writers for label images (see image.h).
 */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int close_checked(FILE *f, int rc)
{
	if (ferror(f) && rc == 0)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

int image_write_pbm(const struct esl_image *img, int plane, const char *path)
{
	uint32_t stride = esl_img_stride(img->width);
	uint32_t psize = stride * img->height;
	FILE *f;

	if (plane < -1 || plane >= (int)img->planes)
		return -EINVAL;
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	fprintf(f, "P4\n%u %u\n", img->width, img->height);
	for (uint32_t i = 0; i < psize; i++) {
		uint8_t b;

		if (plane >= 0)
			b = img->data[(uint32_t)plane * psize + i];
		else
			b = img->data[i] | (img->planes > 1 ? img->data[psize + i] : 0);
		fputc(b, f);
	}
	return close_checked(f, 0);
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	if (crc_table[1])
		return;
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc_update(uint32_t c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void write_chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
	uint8_t hdr[8], tail[4];
	uint32_t c;

	put_be32(hdr, len);
	memcpy(hdr + 4, type, 4);
	fwrite(hdr, 1, 8, f);
	if (len)
		fwrite(data, 1, len, f);
	c = crc_update(0xffffffffu, hdr + 4, 4);
	c = crc_update(c, data, len);
	put_be32(tail, c ^ 0xffffffffu);
	fwrite(tail, 1, 4, f);
}

int image_write_png(const struct esl_image *img, const char *path)
{
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	static const uint8_t plte[9] = {255, 255, 255, 0, 0, 0, 255, 0, 0};
	uint32_t w = img->width, h = img->height;
	uint32_t row = 1 + (w + 1) / 2; /* filter byte + 4-bit indices */
	uint32_t raw_len = row * h;
	uint32_t nblocks = (raw_len + 65534) / 65535;
	uint32_t zlen = 2 + raw_len + 5 * nblocks + 4;
	uint8_t ihdr[13];
	uint8_t *raw, *z;
	uint32_t a = 1, b = 0;
	FILE *f;
	int rc = 0;

	crc_init();
	raw = calloc(1, raw_len);
	z = malloc(zlen);
	if (!raw || !z) {
		free(raw);
		free(z);
		return -ENOMEM;
	}
	for (uint32_t y = 0; y < h; y++) {
		uint8_t *r = raw + y * row;

		for (uint32_t x = 0; x < w; x++) {
			uint8_t v = (uint8_t)esl_img_get(img, x, y);

			r[1 + x / 2] |= (uint8_t)((x % 2) ? v : v << 4);
		}
	}
	/* zlib stream of stored blocks, then the Adler-32 of the raw data */
	uint32_t o = 0;

	z[o++] = 0x78;
	z[o++] = 0x01;
	for (uint32_t off = 0; off < raw_len || off == 0; off += 65535) {
		uint32_t n = raw_len - off > 65535 ? 65535 : raw_len - off;

		z[o++] = off + n >= raw_len ? 1 : 0;
		z[o++] = (uint8_t)(n & 0xff);
		z[o++] = (uint8_t)(n >> 8);
		z[o++] = (uint8_t)(~n & 0xff);
		z[o++] = (uint8_t)((~n >> 8) & 0xff);
		memcpy(z + o, raw + off, n);
		o += n;
		if (raw_len == 0)
			break;
	}
	for (uint32_t i = 0; i < raw_len; i++) {
		a = (a + raw[i]) % 65521;
		b = (b + a) % 65521;
	}
	put_be32(z + o, (b << 16) | a);
	o += 4;

	put_be32(ihdr, w);
	put_be32(ihdr + 4, h);
	ihdr[8] = 4; /* bit depth */
	ihdr[9] = 3; /* indexed colour */
	ihdr[10] = 0;
	ihdr[11] = 0;
	ihdr[12] = 0;
	f = fopen(path, "wb");
	if (!f) {
		rc = -errno;
	} else {
		fwrite(sig, 1, sizeof(sig), f);
		write_chunk(f, "IHDR", ihdr, sizeof(ihdr));
		write_chunk(f, "PLTE", plte, sizeof(plte));
		write_chunk(f, "IDAT", z, o);
		write_chunk(f, "IEND", NULL, 0);
		rc = close_checked(f, 0);
	}
	free(raw);
	free(z);
	return rc;
}

/* Read one whitespace/comment-separated unsigned number from a PBM header. */
static int pbm_num(FILE *f, unsigned *out)
{
	int c;
	unsigned v = 0;
	int digits = 0;

	for (;;) {
		c = fgetc(f);
		if (c == '#') {
			while (c != '\n' && c != EOF)
				c = fgetc(f);
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			break;
		}
	}
	while (c >= '0' && c <= '9') {
		if (v > 100000)
			return -EINVAL;
		v = v * 10 + (unsigned)(c - '0');
		digits++;
		c = fgetc(f);
	}
	if (!digits)
		return -EINVAL;
	*out = v; /* the one whitespace byte after the number is consumed */
	return 0;
}

int image_read_pbm(const char *path, struct esl_image *img, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	unsigned w, h;
	size_t need;
	int rc = 0;

	if (!f)
		return -errno;
	if (fgetc(f) != 'P' || fgetc(f) != '4' || pbm_num(f, &w) || pbm_num(f, &h) || !w || !h ||
	    w > 0xffff || h > 0xffff) {
		rc = -EINVAL;
		goto out;
	}
	need = (size_t)esl_img_stride((uint16_t)w) * h;
	if (need > cap) {
		rc = -EMSGSIZE;
		goto out;
	}
	if (fread(buf, 1, need, f) != need) {
		rc = -EINVAL;
		goto out;
	}
	img->width = (uint16_t)w;
	img->height = (uint16_t)h;
	img->planes = 1;
	img->data = buf;
out:
	fclose(f);
	return rc;
}
