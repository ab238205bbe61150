/*
 * font: glyph lookup in the generated Terminus tables (see font.h).
 */
#include <stddef.h>

#include "font.h"

#include "font_data.inc"

const struct font *font_get(enum font_id id)
{
	if ((unsigned)id >= FONT_COUNT)
		return NULL;
	return font_table[id];
}

int font_lookup(const struct font *f, uint32_t cp)
{
	size_t lo = 0, hi = f->ncps;

	if (cp < 256)
		return f->latin[cp] == 0xffff ? -1 : f->latin[cp];
	/* binary search over the sorted codepoints above U+00FF */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->cps[mid] == cp)
			return f->cp_glyphs[mid];
		if (f->cps[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool font_has(const struct font *f, uint32_t cp)
{
	return font_lookup(f, cp) >= 0;
}

const uint8_t *font_glyph(const struct font *f, uint32_t cp)
{
	int g = font_lookup(f, cp);

	if (g < 0)
		g = f->replacement;
	return f->bits + (size_t)g * f->height * f->stride;
}

int font_utf8_next(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c = p[0], min;
	int len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		len = 2, c &= 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		len = 3, c &= 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		len = 4, c &= 0x07, min = 0x10000;
	else
		goto bad;
	if ((size_t)len > n)
		goto bad;
	for (int i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*cp = c;
	return len;
bad:
	*cp = 0xfffd;
	return 1;
}
