/*
 * test_image: the label image format (firmware/proto/esl_image.c) and the
 * image files written from it (agent/image.c).
 *
 * PNG: the file is taken apart in C, independently of the writer: signature,
 * chunk order and lengths, every chunk CRC (a bitwise CRC-32 of our own),
 * IHDR and PLTE fields, the zlib stream (header check, each stored block's
 * LEN/NLEN, Adler-32) and finally every pixel of the inflated scanlines,
 * also for an image large enough to need several stored blocks. PBM: write
 * and read back each plane and the merged planes; malformed files. PackBits:
 * round trips, the worst case (n + ceil(n / 128)) and a capacity one byte
 * short of it, truncated and overrunning input, the no-op byte, garbage that
 * must not write past the output. The content hash: a fixed value for a fixed
 * image (gateway and firmware must agree forever) and its sensitivity.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "esl_image.h"
#include "image.h"
#include "log.h"
#include "util.h"

static char tmp_path[64];

static int setup(void **state)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_image.%ld", (long)getpid());
	return 0;
}

static int teardown(void **state)
{
	unlink(tmp_path);
	return 0;
}

/* A small deterministic generator (xorshift32), so failures reproduce. */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* An image of @w x @h, @planes planes, with a pattern of black and red. */
static struct esl_image make_image(uint16_t w, uint16_t h, uint8_t planes, uint8_t *data)
{
	struct esl_image img = {w, h, planes, data};
	uint32_t stride = esl_img_stride(w), psize = stride * h;

	memset(data, 0, esl_img_bytes(w, h, planes));
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			uint8_t m = (uint8_t)(0x80u >> (x % 8));

			if ((x * 7 + y * 3) % 5 == 0 || x == y)
				data[y * stride + x / 8] |= m;
			if (planes > 1 && (x + 2 * y) % 7 == 0)
				data[psize + y * stride + x / 8] |= m;
		}
	}
	return img;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC-32 (ISO-HDLC, as PNG), bit by bit: independent of the writer's table. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
	uint32_t a = 1, b = 0;

	for (size_t i = 0; i < n; i++) {
		a = (a + p[i]) % 65521u;
		b = (b + a) % 65521u;
	}
	return b << 16 | a;
}

/*
 * Parse the PNG at @path and check it shows @img: every structural rule we
 * rely on, every CRC, then every pixel. Returns the number of stored blocks.
 */
static int check_png(const char *path, const struct esl_image *img)
{
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	static const uint8_t plte[9] = {255, 255, 255, 0, 0, 0, 255, 0, 0};
	size_t len, off = 8, zlen = 0, rawlen = 0;
	uint8_t *f = read_file(path, &len), *z = NULL, *raw;
	uint32_t row = 1 + (img->width + 1u) / 2u, want_raw = row * img->height;
	int nchunk = 0, seen_iend = 0, blocks = 0;

	assert_true(len > 8);
	assert_memory_equal(f, sig, 8);
	z = malloc(len);
	raw = malloc(want_raw + 1);
	assert_non_null(z);
	assert_non_null(raw);
	while (off < len) {
		uint32_t clen, crc;
		const uint8_t *type, *data;

		assert_false(seen_iend); /* nothing after IEND */
		assert_true(off + 12 <= len);
		clen = be32(f + off);
		assert_true(clen <= len - off - 12);
		type = f + off + 4;
		data = f + off + 8;
		crc = be32(f + off + 8 + clen);
		if (crc != crc32_bitwise(type, 4 + clen))
			fail_msg("chunk %d (%.4s): CRC %08x, computed %08x", nchunk,
				 (const char *)type, crc, crc32_bitwise(type, 4 + clen));
		if (nchunk == 0) {
			assert_memory_equal(type, "IHDR", 4);
			assert_int_equal(clen, 13);
			assert_int_equal(be32(data), img->width);
			assert_int_equal(be32(data + 4), img->height);
			assert_int_equal(data[8], 4); /* bit depth */
			assert_int_equal(data[9], 3); /* indexed colour */
			assert_int_equal(data[10], 0); /* deflate */
			assert_int_equal(data[11], 0); /* filter method */
			assert_int_equal(data[12], 0); /* no interlace */
		} else if (nchunk == 1) {
			assert_memory_equal(type, "PLTE", 4);
			assert_int_equal(clen, sizeof(plte));
			assert_memory_equal(data, plte, sizeof(plte));
		} else if (memcmp(type, "IDAT", 4) == 0) {
			memcpy(z + zlen, data, clen);
			zlen += clen;
		} else {
			assert_memory_equal(type, "IEND", 4);
			assert_int_equal(clen, 0);
			seen_iend = 1;
		}
		off += 12 + clen;
		nchunk++;
	}
	assert_true(seen_iend);
	assert_int_equal(off, len);

	/* zlib: CMF/FLG, stored blocks, Adler-32 of the inflated data */
	assert_true(zlen >= 2 + 5 + 4);
	assert_int_equal(z[0] & 0x0f, 8); /* deflate */
	assert_int_equal((z[0] * 256u + z[1]) % 31u, 0);
	assert_int_equal(z[1] & 0x20, 0); /* no preset dictionary */
	off = 2;
	for (;;) {
		uint32_t n, nn;
		int final;

		assert_true(off + 5 <= zlen);
		final = z[off] & 1;
		assert_int_equal((z[off] >> 1) & 3, 0); /* BTYPE 00: stored */
		n = z[off + 1] | (uint32_t)z[off + 2] << 8;
		nn = z[off + 3] | (uint32_t)z[off + 4] << 8;
		assert_int_equal(n ^ 0xffffu, nn);
		off += 5;
		assert_true(off + n <= zlen);
		assert_true(rawlen + n <= want_raw);
		memcpy(raw + rawlen, z + off, n);
		rawlen += n;
		off += n;
		blocks++;
		if (final)
			break;
	}
	assert_int_equal(off + 4, zlen);
	assert_int_equal(be32(z + off), adler32(raw, rawlen));
	assert_int_equal(rawlen, want_raw);

	/* scanlines: filter 0, two 4-bit palette indices a byte, high nibble first */
	for (uint32_t y = 0; y < img->height; y++) {
		const uint8_t *r = raw + y * row;

		assert_int_equal(r[0], 0);
		for (uint32_t x = 0; x < img->width; x++) {
			int v = (r[1 + x / 2] >> ((x % 2) ? 0 : 4)) & 0x0f;

			if (v != esl_img_get(img, x, y))
				fail_msg("PNG pixel (%u,%u) = %d, image %d", x, y, v,
					 esl_img_get(img, x, y));
		}
		if (img->width % 2)
			assert_int_equal(r[row - 1] & 0x0f, 0); /* padding nibble */
	}
	free(f);
	free(z);
	free(raw);
	return blocks;
}

static void test_png(void **state)
{
	static uint8_t data[ESL_IMG_MAX_BYTES];
	struct esl_image img;

	img = make_image(296, 128, 2, data);
	assert_int_equal(image_write_png(&img, tmp_path), 0);
	assert_int_equal(check_png(tmp_path, &img), 1);
	img = make_image(400, 300, 2, data);
	assert_int_equal(image_write_png(&img, tmp_path), 0);
	assert_int_equal(check_png(tmp_path, &img), 1);
	img = make_image(296, 128, 1, data);
	assert_int_equal(image_write_png(&img, tmp_path), 0);
	check_png(tmp_path, &img);
	/* odd width: a padding nibble at the end of each row */
	img = make_image(13, 5, 2, data);
	assert_int_equal(image_write_png(&img, tmp_path), 0);
	check_png(tmp_path, &img);
	img = make_image(1, 1, 1, data);
	assert_int_equal(image_write_png(&img, tmp_path), 0);
	check_png(tmp_path, &img);
	assert_int_equal(image_write_png(&img, "/nonexistent/dir/x.png"), -ENOENT);
}

/* More than 65535 bytes of scanlines: several stored blocks. */
static void test_png_multiblock(void **state)
{
	uint16_t w = 1000, h = 300;
	uint8_t *data = malloc(esl_img_bytes(w, h, 2));
	struct esl_image img;

	assert_non_null(data);
	img = make_image(w, h, 2, data);
	assert_int_equal(image_write_png(&img, tmp_path), 0);
	assert_int_equal(check_png(tmp_path, &img), 3); /* 501 * 300 = 150300 bytes */
	free(data);
}

/* The bit of @plane at (x, y), whatever the other plane holds. */
static int raw_bit(const struct esl_image *img, int plane, unsigned x, unsigned y)
{
	uint32_t stride = esl_img_stride(img->width);
	const uint8_t *p = img->data + (size_t)plane * stride * img->height;

	return (p[y * stride + x / 8] >> (7 - x % 8)) & 1;
}

static void test_pbm_round_trip(void **state)
{
	static uint8_t data[ESL_IMG_MAX_BYTES], back[ESL_IMG_MAX_BYTES];
	static const uint16_t dims[][2] = {{296, 128}, {400, 300}, {13, 7}, {1, 1}};

	for (size_t d = 0; d < ARRAY_SIZE(dims); d++) {
		struct esl_image img = make_image(dims[d][0], dims[d][1], 2, data), got;

		for (int plane = -1; plane < 2; plane++) {
			assert_int_equal(image_write_pbm(&img, plane, tmp_path), 0);
			assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), 0);
			assert_int_equal(got.width, img.width);
			assert_int_equal(got.height, img.height);
			assert_int_equal(got.planes, 1);
			assert_ptr_equal(got.data, back);
			for (unsigned y = 0; y < img.height; y++) {
				for (unsigned x = 0; x < img.width; x++) {
					int want = plane >= 0 ? raw_bit(&img, plane, x, y)
							      : raw_bit(&img, 0, x, y) |
									raw_bit(&img, 1, x, y);

					assert_int_equal(esl_img_get(&got, x, y), want);
				}
			}
		}
	}
}

static void write_raw(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_pbm_errors(void **state)
{
	static uint8_t data[ESL_IMG_MAX_BYTES], back[64];
	struct esl_image img = make_image(16, 2, 1, data), got;

	/* a header with comments and CRLF is fine */
	{
		static const char hand[] = "P4\r\n# made by hand\n16 # width\n2\n\xff\x00\x0f\xf0";

		write_raw(tmp_path, hand, sizeof(hand) - 1);
	}
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), 0);
	assert_int_equal(got.width, 16);
	assert_int_equal(got.height, 2);
	assert_int_equal(back[0], 0xff);
	assert_int_equal(back[3], 0xf0);

	write_raw(tmp_path, "P1\n16 2\n", 8);
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), -EINVAL);
	write_raw(tmp_path, "P4\n16 2\n\xff\x00\x0f", 11); /* one byte short */
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), -EINVAL);
	write_raw(tmp_path, "P4\n0 2\n", 7);
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), -EINVAL);
	write_raw(tmp_path, "P4\nx 2\n", 7);
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), -EINVAL);
	write_raw(tmp_path, "P4\n99999999 2\n", 14);
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), -EINVAL);
	write_raw(tmp_path, "P4\n400 300\n", 11);
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), -EMSGSIZE);
	write_raw(tmp_path, "", 0);
	assert_int_equal(image_read_pbm(tmp_path, &got, back, sizeof(back)), -EINVAL);
	assert_int_equal(image_read_pbm("/nonexistent/x.pbm", &got, back, sizeof(back)), -ENOENT);

	assert_int_equal(image_write_pbm(&img, 1, tmp_path), -EINVAL); /* 1 plane only */
	assert_int_equal(image_write_pbm(&img, -2, tmp_path), -EINVAL);
	assert_int_equal(image_write_pbm(&img, 0, "/nonexistent/dir/x.pbm"), -ENOENT);
}

static void pack_round_trip(const uint8_t *in, size_t n, size_t *enc_len)
{
	static uint8_t enc[2 * ESL_IMG_MAX_BYTES], dec[ESL_IMG_MAX_BYTES + 1];
	size_t e = esl_pack_encode(in, n, enc, sizeof(enc));

	assert_true(e > 0 || n == 0);
	assert_true(e <= n + (n + 127) / 128);
	dec[n] = 0x5a;
	assert_int_equal(esl_pack_decode(enc, e, dec, n), 0);
	assert_memory_equal(dec, in, n);
	assert_int_equal(dec[n], 0x5a);
	/* every byte is a valid control byte sequence: never the no-op 128 */
	*enc_len = e;
}

static void test_packbits_round_trip(void **state)
{
	static uint8_t in[ESL_IMG_MAX_BYTES];
	size_t e;

	/* all white: 2 bytes per 128 */
	memset(in, 0, sizeof(in));
	pack_round_trip(in, sizeof(in), &e);
	assert_int_equal(e, 2 * ((sizeof(in) + 127) / 128));
	/* runs of every length 1..300 of alternating values */
	size_t n = 0;

	for (size_t len = 1; n + len <= sizeof(in) && len <= 300; len++) {
		memset(in + n, (int)(len & 1 ? 0xff : 0x00), len);
		n += len;
	}
	pack_round_trip(in, n, &e);
	/* random, mixed with runs, at every small length */
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (rnd() % 4 == 0) ? 0 : (uint8_t)rnd();
	for (size_t len = 0; len < 600; len++)
		pack_round_trip(in, len, &e);
	pack_round_trip(in, sizeof(in), &e);
	/* two equal bytes at the very end, and a lone byte */
	pack_round_trip((const uint8_t *)"abcc", 4, &e);
	pack_round_trip((const uint8_t *)"cc", 2, &e);
	assert_int_equal(e, 2);
	pack_round_trip((const uint8_t *)"c", 1, &e);
	assert_int_equal(e, 2);
}

/* No byte repeats three times: every packet is a literal, n + ceil(n / 128). */
static void test_packbits_worst_case(void **state)
{
	static uint8_t in[ESL_IMG_MAX_BYTES], enc[ESL_IMG_MAX_BYTES + 512];
	size_t n = sizeof(in), worst = n + (n + 127) / 128, e;

	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)(i * 7 + i / 256);
	pack_round_trip(in, n, &e);
	assert_int_equal(e, worst);
	assert_int_equal(esl_pack_encode(in, n, enc, worst), worst);
	assert_int_equal(esl_pack_encode(in, n, enc, worst - 1), 0);
	assert_int_equal(esl_pack_encode(in, 1, enc, 1), 0);
	assert_int_equal(esl_pack_encode(in, 0, enc, 0), 0);
}

static void test_packbits_truncated(void **state)
{
	static uint8_t in[4096], enc[8192], dec[4096 + 16];
	size_t n = sizeof(in), e;

	for (size_t i = 0; i < n; i++)
		in[i] = (i / 50) % 2 ? (uint8_t)(i / 100) : (uint8_t)rnd();
	e = esl_pack_encode(in, n, enc, sizeof(enc));
	assert_true(e > 0);
	/* every proper prefix is refused, never written past @want */
	for (size_t cut = 0; cut < e; cut++) {
		memset(dec, 0xa5, sizeof(dec));
		assert_int_equal(esl_pack_decode(enc, cut, dec, n), -1);
		for (size_t k = n; k < sizeof(dec); k++)
			assert_int_equal(dec[k], 0xa5);
	}
	/* more data than wanted, and less */
	assert_int_equal(esl_pack_decode(enc, e, dec, n - 1), -1);
	assert_int_equal(esl_pack_decode(enc, e, dec, n + 1), -1);
	/* a repeat packet without its byte; a literal running past the input */
	assert_int_equal(esl_pack_decode((const uint8_t *)"\xfe", 1, dec, 3), -1);
	assert_int_equal(esl_pack_decode((const uint8_t *)"\x03"
							  "ab",
					 3, dec, 4),
			 -1);
	/* 128 is a no-op */
	assert_int_equal(esl_pack_decode((const uint8_t *)"\x80\x00x\x80", 4, dec, 1), 0);
	assert_int_equal(dec[0], 'x');
	assert_int_equal(esl_pack_decode(NULL, 0, dec, 0), 0);
}

/* Random garbage decodes or fails, but never writes past @want. */
static void test_packbits_garbage(void **state)
{
	static uint8_t g[512], dec[256 + 64];

	for (int round = 0; round < 20000; round++) {
		size_t n = rnd() % sizeof(g), want = rnd() % 257;

		for (size_t i = 0; i < n; i++)
			g[i] = (uint8_t)rnd();
		memset(dec, 0xa5, sizeof(dec));
		(void)esl_pack_decode(g, n, dec, want);
		for (size_t k = want; k < sizeof(dec); k++)
			assert_int_equal(dec[k], 0xa5);
	}
}

static void test_geometry_and_get(void **state)
{
	uint16_t w, h;
	uint8_t p;
	uint8_t data[2 * 2 * 2] = {0};
	struct esl_image img = {9, 2, 2, data};

	assert_int_equal(esl_label_geometry(ESL_LT_29_BW, &w, &h, &p), 0);
	assert_true(w == 296 && h == 128 && p == 1);
	assert_int_equal(esl_label_geometry(ESL_LT_29_BWR, &w, &h, &p), 0);
	assert_true(w == 296 && h == 128 && p == 2);
	assert_int_equal(esl_label_geometry(ESL_LT_42_BWR, &w, &h, &p), 0);
	assert_true(w == 400 && h == 300 && p == 2);
	assert_int_equal(esl_label_geometry(0, &w, &h, &p), -1);
	assert_int_equal(esl_label_geometry(4, &w, &h, &p), -1);
	assert_int_equal(esl_img_bytes(400, 300, 2), ESL_IMG_MAX_BYTES);
	assert_int_equal(esl_img_stride(9), 2);

	data[0] = 0x80; /* (0,0) black */
	data[3] = 0x80; /* (8,1) black */
	data[4 + 1] = 0x40; /* (1,0) red only */
	data[4 + 3] = 0x80; /* (8,1) black and red: red */
	assert_int_equal(esl_img_get(&img, 0, 0), 1);
	assert_int_equal(esl_img_get(&img, 1, 0), 0);
	assert_int_equal(esl_img_get(&img, 8, 0), 0);
	assert_int_equal(esl_img_get(&img, 8, 1), 2);
	img.planes = 1;
	assert_int_equal(esl_img_get(&img, 8, 1), 1);
}

/*
 * The hash is part of the wire contract: the label reports the hash of what
 * it shows and the gateway compares. These values must never change.
 */
static void test_hash_stable(void **state)
{
	static uint8_t data[ESL_IMG_MAX_BYTES];
	struct esl_image img = {296, 128, 1, data};
	uint64_t h0, h;

	memset(data, 0, sizeof(data));
	h0 = esl_img_hash(&img);
	assert_true(h0 == 0x690bddbcff48e4a9ull);
	img = make_image(400, 300, 2, data);
	assert_true(esl_img_hash(&img) == 0x2ad0d58c657d5d22ull);

	/* one pixel, the geometry, the plane count: each changes it */
	img = make_image(296, 128, 2, data);
	h = esl_img_hash(&img);
	data[100] ^= 0x01;
	assert_true(esl_img_hash(&img) != h);
	data[100] ^= 0x01;
	assert_true(esl_img_hash(&img) == h);
	img.width = 128;
	img.height = 296;
	assert_true(esl_img_hash(&img) != h);
	img.width = 296;
	img.height = 128;
	img.planes = 1;
	assert_true(esl_img_hash(&img) != h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_png, setup, teardown),
		cmocka_unit_test_setup_teardown(test_png_multiblock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pbm_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pbm_errors, setup, teardown),
		cmocka_unit_test(test_packbits_round_trip),
		cmocka_unit_test(test_packbits_worst_case),
		cmocka_unit_test(test_packbits_truncated),
		cmocka_unit_test(test_packbits_garbage),
		cmocka_unit_test(test_geometry_and_get),
		cmocka_unit_test(test_hash_stable),
	};

	log_init("test_image", LOG_LVL_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
