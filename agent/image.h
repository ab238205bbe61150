/*
 * image: write an esl_image (firmware/proto/esl_image.h) to a file a person
 * can open: PBM (black plane, or both planes merged as ink) and PNG (indexed,
 * palette white/black/red). Host-only; used by `shelfctl labels preview`, the
 * base-station emulator's framebuffer dumps and the render golden tests.
 *
 * PNG is written with stored (uncompressed) deflate blocks, so it needs no
 * zlib: the files are a few tens of kilobytes at most.
 */
#ifndef SHELF_IMAGE_H
#define SHELF_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "esl_image.h"

/*
 * Write one plane as a binary PBM (P4): @plane 0 = black, 1 = red, -1 = any
 * ink (black or red) as 1. Returns 0, -EINVAL (no such plane) or -errno.
 */
int image_write_pbm(const struct esl_image *img, int plane, const char *path);

/* Write an indexed PNG (white, black, red). 0 or -errno. */
int image_write_png(const struct esl_image *img, const char *path);

/*
 * Read a binary PBM (P4) into @img as one plane; @buf of @cap bytes holds the
 * pixels. For golden-image tests. Returns 0, -errno, -EINVAL for a malformed
 * file or -EMSGSIZE when it does not fit in @cap.
 */
int image_read_pbm(const char *path, struct esl_image *img, uint8_t *buf, size_t cap);

#endif
