/*
 * font: the bitmap fonts the label renderer draws with, and glyph lookup by
 * Unicode codepoint.
 *
 * The glyphs are Terminus Font (SIL OFL 1.1, agent/font-OFL.txt), converted
 * from Debian's PSF console fonts by scripts/gen-font into the committed
 * agent/font_data.inc; the build needs no font package. Every font is a fixed
 * cell of width x height pixels; a glyph is height rows of `stride` bytes,
 * most significant bit = leftmost pixel, set bit = ink. Coverage: ASCII,
 * Latin-1, Latin Extended-A/B, Greek, Cyrillic, general punctuation and the
 * currency symbols (EUR, GBP, JPY/CNY, USD) in the text fonts; ASCII, Latin-1,
 * the euro sign, U+2026 and U+2212 in the price font. CJK is not covered: a
 * codepoint the font lacks is drawn as '?' (font_glyph) so a missing
 * character stays visible.
 *
 * All data is static const: nothing to allocate or free, safe to share.
 */
#ifndef SHELF_FONT_H
#define SHELF_FONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fonts, in scripts/gen-font's FONTS order. */
enum font_id {
	FONT_SMALL, /* 6x12 regular: SKU, unit, dates on 2.9" */
	FONT_TEXT, /* 8x16 regular: unit, dates on 4.2" */
	FONT_BOLD16, /* 8x16 bold: product name on 2.9" */
	FONT_BOLD20, /* 10x20 bold: regular (struck) price, "not for sale" */
	FONT_BOLD24, /* 12x24 bold: product name on 4.2" */
	FONT_BOLD32, /* 16x32 bold: the price, drawn scaled x2 or x3 */
	FONT_COUNT
};

struct font {
	const char *name;
	uint8_t width; /* cell width in pixels (the advance: monospaced) */
	uint8_t height; /* cell height in pixels */
	uint8_t stride; /* bytes per glyph row, ceil(width / 8) */
	uint8_t cap_top; /* first ink row of 'H' in the cell */
	uint8_t baseline; /* the row just below the ink of 'H' */
	uint16_t nglyphs;
	uint16_t replacement; /* glyph index drawn for missing codepoints: '?' */
	const uint8_t *bits; /* nglyphs * height * stride bytes */
	const uint16_t *latin; /* U+0000..U+00FF -> glyph index, 0xffff = none */
	const uint32_t *cps; /* codepoints >= U+0100, ascending */
	const uint16_t *cp_glyphs; /* glyph index of cps[i] */
	uint16_t ncps;
};

/* The font @id; NULL for an id out of range. */
const struct font *font_get(enum font_id id);

/* Glyph index of @cp in @f, or -1 when the font lacks it. */
int font_lookup(const struct font *f, uint32_t cp);

/* True if @f has a glyph of its own for @cp. */
bool font_has(const struct font *f, uint32_t cp);

/*
 * The bitmap of @cp (height * stride bytes, see above); the replacement
 * glyph '?' when the font lacks @cp. Never NULL.
 */
const uint8_t *font_glyph(const struct font *f, uint32_t cp);

/*
 * Decode one UTF-8 character from @s (at most @n bytes). Stores the
 * codepoint in @cp and returns the bytes consumed (1..4). A malformed or
 * truncated sequence, an overlong form or a surrogate consumes one byte and
 * yields U+FFFD, so any byte string decodes without stalling. @n must be > 0.
 */
int font_utf8_next(const char *s, size_t n, uint32_t *cp);

#endif
