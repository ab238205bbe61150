/*
 * esl_image: the label image format shared by the gateway (renderer, ESL
 * driver) and the base station (firmware, emulator). Freestanding C: no
 * malloc, no stdio, no libc at all.
 *
 * An image is 1 or 2 bit planes of width x height pixels:
 *   plane 0 = black ink, plane 1 = red ink (only on 3-colour labels).
 * Each plane is height rows of stride = ceil(width / 8) bytes; in a byte the
 * most significant bit is the leftmost pixel; a set bit means ink. Where both
 * planes are set the pixel is red. The planes are stored back to back
 * (plane 0 first) in one buffer of esl_img_bytes() bytes.
 *
 * On the wire an image may be sent raw or PackBits-compressed (the encoder
 * is used only when it makes the data smaller). The content hash identifies
 * what a label shows: FNV-1a 64 over the geometry and the uncompressed
 * planes, so both sides compute it the same way from the pixels alone.
 */
#ifndef ESL_IMAGE_H
#define ESL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define ESL_IMG_ENC_RAW 0
#define ESL_IMG_ENC_PACKBITS 1

/* Largest label we support: 4.2" 400 x 300, 2 planes = 30,000 bytes. */
#define ESL_IMG_MAX_W 400
#define ESL_IMG_MAX_H 300
#define ESL_IMG_MAX_BYTES (2u * 50u * 300u)

/*
 * Label types. A label reports its type in every check-in; the gateway renders
 * for the type the label reported.
 */
enum esl_label_type {
	ESL_LT_29_BW = 1, /* 2.9" 296 x 128, black/white */
	ESL_LT_29_BWR = 2, /* 2.9" 296 x 128, black/white/red */
	ESL_LT_42_BWR = 3, /* 4.2" 400 x 300, black/white/red */
};

/* Geometry of a label type. Returns 0, or -1 for an unknown type. */
int esl_label_geometry(uint8_t type, uint16_t *width, uint16_t *height, uint8_t *planes);

struct esl_image {
	uint16_t width;
	uint16_t height;
	uint8_t planes; /* 1 or 2 */
	uint8_t *data; /* esl_img_bytes() bytes: plane 0, then plane 1 */
};

static inline uint16_t esl_img_stride(uint16_t width)
{
	return (uint16_t)((width + 7u) / 8u);
}

static inline uint32_t esl_img_bytes(uint16_t width, uint16_t height, uint8_t planes)
{
	return (uint32_t)esl_img_stride(width) * height * planes;
}

/* Pixel value at (x, y): 0 white, 1 black, 2 red. No bounds check. */
int esl_img_get(const struct esl_image *img, unsigned x, unsigned y);

/*
 * Content hash: FNV-1a 64 over width (2 bytes LE), height (2 bytes LE),
 * planes (1 byte), then the esl_img_bytes() bytes of data.
 */
uint64_t esl_img_hash(const struct esl_image *img);

/*
 * PackBits (as in TIFF/Apple): a control byte c; 0..127 = copy the next c+1
 * bytes literally; 129..255 = repeat the next byte 257-c times; 128 = no-op
 * (never emitted). Encode @n bytes of @in into @out (capacity @cap). Returns
 * the encoded length, or 0 when it does not fit in @cap (send raw instead).
 */
size_t esl_pack_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/*
 * Decode @n bytes of PackBits into exactly @want bytes at @out. Returns 0, or
 * -1 when the input is truncated, overruns @want, or decodes to fewer bytes.
 */
int esl_pack_decode(const uint8_t *in, size_t n, uint8_t *out, size_t want);

#endif
