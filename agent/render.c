/*
 * render: label templates and text drawing (see render.h).
 *
 * render_layout decides every element's text, font, scale and position from
 * the template of the label type; render_draw clears the planes and draws the
 * elements. The two halves are apart so tests can check pixels against the
 * positions the layout reports.
 */
#include "render.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "font.h"
#include "util.h"

#define ELLIPSIS 0x2026u
#define NAME_MAX_CPS 256
#define INV_PAD 3 /* rows and columns of box around inverse text (one less on the right) */

/* One label type's template: fixed positions so a shelf of labels lines up. */
struct tmpl {
	int16_t margin; /* left/right (and top) margin */
	uint8_t name_font;
	int16_t name_y; /* top of the first name line; the second follows directly */
	int16_t rule_y; /* 1-pixel rule under the name, -1 = none */
	struct {
		uint8_t font, scale; /* scale 0 ends the list */
	} price_steps[4]; /* price font and scale to try, largest first */
	int16_t price_top; /* cap top (top of the digits' ink) of the largest price step */
	bool reg_above; /* regular price above the price (else to its left) */
	uint8_t reg_fonts[3]; /* struck regular price: fonts to try, largest first */
	int16_t reg_top; /* cap top of the regular price when reg_above */
	uint8_t unit_font; /* "per kg", right-aligned under the price */
	int16_t unit_gap; /* rows between the price's baseline and the unit's cap top */
	uint8_t sku_font; /* bottom left */
	uint8_t until_font; /* bottom right, red */
	int16_t bottom_base; /* baseline of the bottom row (SKU, until) */
	uint8_t status_font, status_scale; /* "not for sale" */
};

/* 2.9" 296 x 128, b/w and b/w/red: two name lines, price x2 (40 px digits) */
static const struct tmpl tmpl_29 = {
	.margin = 4,
	.name_font = FONT_BOLD16,
	.name_y = 3,
	.rule_y = -1,
	.price_steps = {{FONT_BOLD32, 2}, {FONT_BOLD32, 1}, {FONT_BOLD20, 1}, {0, 0}},
	.price_top = 44,
	.reg_above = false,
	.reg_fonts = {FONT_BOLD20, FONT_TEXT, FONT_SMALL},
	.unit_font = FONT_TEXT,
	.unit_gap = 6,
	.sku_font = FONT_SMALL,
	.until_font = FONT_BOLD16,
	.bottom_base = 124,
	.status_font = FONT_BOLD32,
	.status_scale = 1,
};

/* 4.2" 400 x 300: bigger name, a rule, the regular price above a x4 price */
static const struct tmpl tmpl_42 = {
	.margin = 8,
	.name_font = FONT_BOLD24,
	.name_y = 8,
	.rule_y = 62,
	.price_steps = {{FONT_BOLD32, 4}, {FONT_BOLD32, 3}, {FONT_BOLD32, 2}, {FONT_BOLD32, 1}},
	.price_top = 108,
	.reg_above = true,
	.reg_fonts = {FONT_BOLD24, FONT_BOLD24, FONT_BOLD24}, /* above the price: always fits */
	.reg_top = 76,
	.unit_font = FONT_BOLD20,
	.unit_gap = 10,
	.sku_font = FONT_TEXT,
	.until_font = FONT_BOLD24,
	.bottom_base = 288,
	.status_font = FONT_BOLD24,
	.status_scale = 2,
};

static const struct tmpl *tmpl_find(uint8_t type)
{
	switch (type) {
	case ESL_LT_29_BW:
	case ESL_LT_29_BWR:
		return &tmpl_29;
	case ESL_LT_42_BWR:
		return &tmpl_42;
	}
	return NULL;
}

/* Money */

struct currency_info {
	char code[4];
	int8_t exponent;
	const char *mark; /* NULL: show the code */
};

/* Exceptions to "2 decimals, shown by its code" (ISO 4217 minor units). */
static const struct currency_info currencies[] = {
	{"EUR", 2, "\u20ac"}, {"GBP", 2, "\u00a3"}, {"USD", 2, "$"},  {"CNY", 2, "\u00a5"},
	{"JPY", 0, "\u00a5"}, {"KRW", 0, NULL},	    {"ISK", 0, NULL}, {"CLP", 0, NULL},
	{"VND", 0, NULL},     {"PYG", 0, NULL},	    {"UGX", 0, NULL}, {"XAF", 0, NULL},
	{"XOF", 0, NULL},     {"XPF", 0, NULL},	    {"BHD", 3, NULL}, {"KWD", 3, NULL},
	{"OMR", 3, NULL},     {"JOD", 3, NULL},	    {"IQD", 3, NULL}, {"LYD", 3, NULL},
	{"TND", 3, NULL},     {"BIF", 0, NULL},	    {"DJF", 0, NULL}, {"GNF", 0, NULL},
	{"KMF", 0, NULL},     {"RWF", 0, NULL},	    {"VUV", 0, NULL},
};

static const struct currency_info *currency_find(const char *code)
{
	if (!code)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(currencies); i++)
		if (strcmp(currencies[i].code, code) == 0)
			return &currencies[i];
	return NULL;
}

static bool currency_valid(const char *code)
{
	if (!code)
		return false;
	for (int i = 0; i < 3; i++)
		if (code[i] < 'A' || code[i] > 'Z')
			return false;
	return code[3] == '\0';
}

int render_currency_exponent(const char *code)
{
	const struct currency_info *ci = currency_find(code);

	return ci ? ci->exponent : 2;
}

const char *render_currency_mark(const char *code)
{
	const struct currency_info *ci = currency_find(code);

	return ci && ci->mark ? ci->mark : code;
}

int render_money(int64_t minor, const char *code, char *buf, size_t sz)
{
	int e = render_currency_exponent(code);
	/* the magnitude as unsigned: -INT64_MIN does not fit an int64_t */
	uint64_t mag = minor < 0 ? (uint64_t)(-(minor + 1)) + 1u : (uint64_t)minor;
	char tmp[24];
	int n = 0, len = 0;

	/* digits backwards, with the decimal mark after @e digits */
	do {
		if (e > 0 && n == e)
			tmp[n++] = '.';
		tmp[n++] = (char)('0' + mag % 10u);
		mag /= 10u;
	} while (mag || n <= e);
	if (minor < 0)
		tmp[n++] = '-';
	if ((size_t)n + 1 > sz)
		return -EMSGSIZE;
	while (n)
		buf[len++] = tmp[--n];
	buf[len] = '\0';
	return len;
}

/* Text placement */

static int put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	/* the fonts hold only BMP characters: 3 bytes at most */
	p[0] = (char)(0xe0 | (cp >> 12));
	p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/*
 * Decode @s into at most @max codepoints of what @font draws: control
 * characters and runs of white space become one space (trimmed at both
 * ends), characters the font lacks become '?'. Sets *@more when
 * input was left over. Returns the count.
 */
static size_t decode_text(const struct font *f, const char *s, uint32_t *out, size_t max,
			  bool *more)
{
	size_t n = 0, len = strlen(s), i = 0;

	*more = false;
	while (i < len) {
		uint32_t cp;

		i += (size_t)font_utf8_next(s + i, len - i, &cp);
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xa0 || cp == 0x2028 ||
		    cp == 0x2029)
			cp = ' ';
		if (cp == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		if (cp == 0xfffd || !font_has(f, cp))
			cp = '?'; /* malformed UTF-8 and missing glyphs alike */
		if (n == max) {
			*more = true;
			break;
		}
		out[n++] = cp;
	}
	while (n && out[n - 1] == ' ') {
		n--;
	}
	return n;
}

/* Store @n codepoints as the element's UTF-8 text and set its size. */
static void text_set(struct render_text *t, const uint32_t *cps, size_t n)
{
	const struct font *f = font_get(t->font);
	size_t o = 0, i;

	for (i = 0; i < n && o + 4 < sizeof(t->text); i++)
		o += (size_t)put_utf8(t->text + o, cps[i]);
	t->text[o] = '\0';
	t->w = (int16_t)(i * f->width * t->scale);
	t->h = (int16_t)(f->height * t->scale);
}

/* Cells of width @cell that fit in @px pixels. */
static size_t cells_in(int px, int cell)
{
	return px > 0 ? (size_t)(px / cell) : 0;
}

/*
 * Set element @t to @s in its font and scale, cut to @max_cells with an
 * ellipsis when longer. Returns the number of cells.
 */
static size_t text_fit(struct render_text *t, const char *s, size_t max_cells)
{
	const struct font *f = font_get(t->font);
	uint32_t cps[64];
	bool more;
	size_t n;

	if (max_cells > ARRAY_SIZE(cps))
		max_cells = ARRAY_SIZE(cps);
	n = decode_text(f, s, cps, ARRAY_SIZE(cps), &more);
	if ((n > max_cells || more) && max_cells > 0) {
		n = max_cells - 1;
		while (n && cps[n - 1] == ' ')
			n--;
		cps[n++] = font_has(f, ELLIPSIS) ? ELLIPSIS : '.';
	} else if (n > max_cells) {
		n = 0;
	}
	text_set(t, cps, n);
	return n;
}

static void elem_init(struct render_text *t, uint8_t font, uint8_t scale, uint8_t plane)
{
	memset(t, 0, sizeof(*t));
	t->font = font;
	t->scale = scale;
	t->plane = plane;
}

/* Place @t with its cap top at row @cap_top and its left edge at @x. */
static void place(struct render_text *t, int x, int cap_top)
{
	const struct font *f = font_get(t->font);

	t->x = (int16_t)x;
	t->y = (int16_t)(cap_top - f->cap_top * t->scale);
}

/* Place @t on baseline @base (the row just below the ink of 'H'). */
static void place_base(struct render_text *t, int x, int base)
{
	const struct font *f = font_get(t->font);

	t->x = (int16_t)x;
	t->y = (int16_t)(base - f->baseline * t->scale);
}

/* Height of a font's cap ink at @scale. */
static int cap_height(uint8_t font, int scale)
{
	const struct font *f = font_get(font);

	return (f->baseline - f->cap_top) * scale;
}

/*
 * Wrap the product name onto the two name lines: greedy by words; a word
 * longer than a line is broken; what does not fit ends in an ellipsis.
 */
static void layout_name(const struct tmpl *tp, const char *name, struct render_layout *lay)
{
	const struct font *f = font_get(tp->name_font);
	size_t cap = cells_in(lay->width - 2 * tp->margin, f->width);
	struct render_text *l1 = &lay->elem[RENDER_NAME1], *l2 = &lay->elem[RENDER_NAME2];
	uint32_t cps[NAME_MAX_CPS];
	size_t n, pos = 0, end;
	bool more;

	elem_init(l1, tp->name_font, 1, 0);
	elem_init(l2, tp->name_font, 1, 0);
	l1->x = l2->x = tp->margin;
	l1->y = tp->name_y;
	l2->y = (int16_t)(tp->name_y + f->height);
	l1->clip_x0 = l2->clip_x0 = tp->margin;
	l1->clip_x1 = l2->clip_x1 = (int16_t)(lay->width - tp->margin);
	if (!name || cap < 2)
		return;
	n = decode_text(f, name, cps, ARRAY_SIZE(cps), &more);
	if (n <= cap) {
		text_set(l1, cps, n);
		return;
	}
	/* line 1: up to the last space that keeps it within cap */
	end = cap;
	while (end > 0 && cps[end] != ' ')
		end--;
	if (end == 0)
		end = cap; /* one long word: break it */
	text_set(l1, cps, end);
	pos = end;
	while (pos < n && cps[pos] == ' ')
		pos++;
	/* line 2: the rest, cut with an ellipsis */
	if (n - pos <= cap && !more) {
		text_set(l2, cps + pos, n - pos);
		return;
	}
	end = pos + cap - 1;
	while (end > pos && cps[end - 1] == ' ')
		end--;
	cps[end++] = ELLIPSIS;
	text_set(l2, cps + pos, end - pos);
}

/* "until DD.MM." from Unix epoch ms (UTC). */
static void format_until(int64_t ms, char *buf, size_t sz)
{
	/* days since 1970-01-01, floored, then the civil date (H. Hinnant) */
	int64_t days = ms / 86400000;
	int64_t era, doe, yoe, doy, mp, d, m;

	if (ms % 86400000 < 0)
		days--;
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	snprintf(buf, sz, "until %02d.%02d.", (int)d, (int)m);
}

/* The price block: currency mark and amount in @font at scale @s, right-aligned. */
static void price_at(const struct tmpl *tp, struct render_layout *lay, uint8_t font, int s,
		     const char *mark, const char *amount, uint8_t plane)
{
	struct render_text *cur = &lay->elem[RENDER_CURRENCY], *pr = &lay->elem[RENDER_PRICE];
	int cs = (s + 1) / 2; /* the mark at about half the digits' size */
	int right = lay->width - tp->margin;
	int gap = s >= 3 ? 6 : 3;
	int base = tp->price_top + cap_height(tp->price_steps[0].font, tp->price_steps[0].scale);

	/* all steps share the baseline; the mark is top-aligned with the digits */
	elem_init(pr, font, (uint8_t)s, plane);
	text_fit(pr, amount, 64);
	elem_init(cur, font, (uint8_t)cs, plane);
	text_fit(cur, mark, 64);
	place_base(pr, right - pr->w, base);
	place(cur, pr->x - gap - cur->w, base - cap_height(font, s));
	pr->clip_x0 = cur->clip_x0 = tp->margin;
	pr->clip_x1 = cur->clip_x1 = (int16_t)right;
}

/* Width from the currency mark to the right margin. */
static int price_width(const struct render_layout *lay, const struct tmpl *tp)
{
	return lay->width - tp->margin - lay->elem[RENDER_CURRENCY].x;
}

static void layout_prices(const struct tmpl *tp, const struct label_content *c,
			  struct render_layout *lay)
{
	const char *mark = render_currency_mark(c->currency);
	struct render_text *reg = &lay->elem[RENDER_REGULAR];
	int inner = lay->width - 2 * tp->margin;
	char amount[32], regular[48];
	int reg_room = 0;

	lay->promo = c->regular >= 0 && c->regular > c->price;
	render_money(c->price, c->currency, amount, sizeof(amount));
	if (lay->promo) {
		/* the regular price with its mark, struck through */
		size_t ml = strlen(mark);

		memcpy(regular, mark, ml);
		if (!currency_find(c->currency) || !currency_find(c->currency)->mark)
			regular[ml++] = ' ';
		render_money(c->regular, c->currency, regular + ml, sizeof(regular) - ml);
	}
	/*
	 * The largest scale at which the price fits, and beside it (2.9") the
	 * regular price in the largest font that still fits.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(tp->price_steps) && tp->price_steps[i].scale; i++) {
		price_at(tp, lay, tp->price_steps[i].font, tp->price_steps[i].scale, mark, amount,
			 lay->promo ? 1 : 0);
		for (size_t k = 0; lay->promo && k < ARRAY_SIZE(tp->reg_fonts); k++) {
			elem_init(reg, tp->reg_fonts[k], 1, 0);
			reg->struck = true;
			text_fit(reg, regular, 64);
			reg_room = tp->reg_above ? 0 : reg->w + 8;
			if (price_width(lay, tp) + reg_room <= inner)
				break;
		}
		if (price_width(lay, tp) + reg_room <= inner)
			break;
	}
	if (price_width(lay, tp) > inner) {
		/* cut on the right, so the sign and leading digits stay (absurd values) */
		struct render_text *cur = &lay->elem[RENDER_CURRENCY];
		int shift = tp->margin - cur->x;

		cur->x = (int16_t)(cur->x + shift);
		lay->elem[RENDER_PRICE].x = (int16_t)(lay->elem[RENDER_PRICE].x + shift);
		lay->clipped = true;
	}
	if (lay->promo) {
		if (tp->reg_above) {
			place(reg, lay->width - tp->margin - reg->w, tp->reg_top);
		} else {
			/* a number is never shown cut: no room, no regular price */
			if (price_width(lay, tp) + reg_room > inner) {
				reg->text[0] = '\0';
				lay->clipped = true;
			}
			place(reg, tp->margin,
			      lay->elem[RENDER_PRICE].y +
				      font_get(lay->elem[RENDER_PRICE].font)->cap_top *
					      lay->elem[RENDER_PRICE].scale);
		}
		reg->clip_x0 = tp->margin;
		reg->clip_x1 = (int16_t)(lay->width - tp->margin);
	}
	/* "per kg" right-aligned under the price */
	if (c->unit && c->unit[0]) {
		struct render_text *u = &lay->elem[RENDER_UNIT];
		char text[128];

		elem_init(u, tp->unit_font, 1, 0);
		snprintf(text, sizeof(text), "per %s", c->unit);
		text_fit(u, text, cells_in(inner, font_get(u->font)->width));
		place(u, lay->width - tp->margin - u->w,
		      tp->price_top +
			      cap_height(tp->price_steps[0].font, tp->price_steps[0].scale) +
			      tp->unit_gap);
		u->clip_x0 = tp->margin;
		u->clip_x1 = (int16_t)(lay->width - tp->margin);
	}
}

static void layout_not_for_sale(const struct tmpl *tp, struct render_layout *lay)
{
	struct render_text *st = &lay->elem[RENDER_STATUS];
	int inner = lay->width - 2 * tp->margin;
	int area = cap_height(tp->price_steps[0].font, tp->price_steps[0].scale);
	int h;

	elem_init(st, tp->status_font, tp->status_scale, 0);
	text_fit(st, "not for sale", cells_in(inner, font_get(st->font)->width * st->scale));
	h = cap_height(st->font, st->scale);
	place(st, tp->margin + (inner - st->w) / 2, tp->price_top + (area - h) / 2);
	st->clip_x0 = tp->margin;
	st->clip_x1 = (int16_t)(lay->width - tp->margin);
}

int render_layout(uint8_t type, const struct label_content *c, struct render_layout *lay)
{
	const struct tmpl *tp = tmpl_find(type);
	struct render_text *sku, *until;
	int inner, until_w = 0;

	if (!tp || !c || !lay || !c->sku || !currency_valid(c->currency))
		return -EINVAL;
	memset(lay, 0, sizeof(*lay));
	if (esl_label_geometry(type, &lay->width, &lay->height, &lay->planes))
		return -EINVAL;
	lay->rule_y = tp->rule_y;
	inner = lay->width - 2 * tp->margin;
	for (int i = 0; i < RENDER_NELEMS; i++)
		elem_init(&lay->elem[i], FONT_SMALL, 1, 0);
	layout_name(tp, c->name, lay);
	if (c->not_for_sale)
		layout_not_for_sale(tp, lay);
	else
		layout_prices(tp, c, lay);

	/* bottom row: SKU left, the promo's end date right (red) */
	sku = &lay->elem[RENDER_SKU];
	until = &lay->elem[RENDER_UNTIL];
	if (!c->not_for_sale && c->promo_until_ms != 0) {
		char text[32];

		elem_init(until, tp->until_font, 1, lay->promo ? 1 : 0);
		format_until(c->promo_until_ms, text, sizeof(text));
		text_fit(until, text, cells_in(inner, font_get(until->font)->width));
		until->inverse = lay->promo;
		place_base(until, lay->width - tp->margin - until->w - (INV_PAD - 1),
			   tp->bottom_base);
		until->clip_x0 = tp->margin;
		until->clip_x1 = (int16_t)(lay->width - tp->margin);
		until_w = until->w + INV_PAD + 8;
	}
	elem_init(sku, tp->sku_font, 1, 0);
	text_fit(sku, c->sku, cells_in(inner - until_w, font_get(sku->font)->width));
	place_base(sku, tp->margin, tp->bottom_base);
	sku->clip_x0 = tp->margin;
	sku->clip_x1 = (int16_t)(tp->margin + inner - until_w);
	return 0;
}

/* Drawing */

struct canvas {
	uint8_t *data;
	int w, h, stride, planes;
	size_t psize; /* bytes per plane */
};

/* Ink the pixels [x0, x1) x [y0, y1) of @plane, clipped to the image. */
static void fill(const struct canvas *cv, int plane, int x0, int y0, int x1, int y1)
{
	uint8_t *base = cv->data + (size_t)plane * cv->psize;

	if (x0 < 0)
		x0 = 0;
	if (y0 < 0)
		y0 = 0;
	if (x1 > cv->w)
		x1 = cv->w;
	if (y1 > cv->h)
		y1 = cv->h;
	for (int y = y0; y < y1; y++) {
		uint8_t *row = base + (size_t)y * cv->stride;

		for (int x = x0; x < x1; x++)
			row[x >> 3] |= (uint8_t)(0x80u >> (x & 7));
	}
}

/* @bits (@n bits, 1..16, MSB first) with every bit repeated @s times, left-aligned in 64. */
static uint64_t widen(uint32_t bits, int n, int s)
{
	uint64_t out = 0;

	if (s == 1)
		return (uint64_t)bits << (64 - n);
	for (int i = 0; i < n; i++) {
		uint64_t b = (bits >> (n - 1 - i)) & 1u;

		out = (out << s) | (b ? (1ull << s) - 1 : 0);
	}
	return out << (64 - n * s);
}

/*
 * Set (@ink) or clear the pixels of @bits (bit 63 = pixel @x, @n bits) in
 * @row, only those in [cx0, cx1), which lies within the row.
 */
static void blit(uint8_t *row, int x, uint64_t bits, int n, int cx0, int cx1, bool ink)
{
	int sh;

	if (x + n > cx1)
		bits &= cx1 - x <= 0 ? 0 : ~(~0ull >> (cx1 - x));
	if (x < cx0) {
		if (cx0 - x >= 64)
			return;
		bits &= ~0ull >> (cx0 - x);
	}
	if (x < 0) {
		/* the bits left of 0 are clear now (cx0 >= 0) */
		if (-x >= 64)
			return;
		bits <<= -x;
		x = 0;
	}
	sh = x & 7;
	row += x >> 3;
	for (int i = 0; i < 9; i++) {
		int shift = 8 * i - sh; /* of byte i's first bit, relative to bit 63 */
		uint8_t v;

		if (shift >= 64)
			break;
		v = (uint8_t)(shift < 0 ? bits >> (56 - shift) : (bits << shift) >> 56);
		if (v)
			row[i] = ink ? (uint8_t)(row[i] | v) : (uint8_t)(row[i] & ~v);
	}
}

/*
 * Draw one element: each glyph row is widened by the scale and written to
 * scale rows, clipped to [clip_x0, clip_x1) and to the image.
 */
static void draw_text(const struct canvas *cv, const struct render_text *t)
{
	const struct font *f = font_get(t->font);
	int plane = (t->plane && cv->planes > 1) ? 1 : 0;
	uint8_t *base = cv->data + (size_t)plane * cv->psize;
	int s = t->scale, cw = f->width * s;
	int cx0 = t->clip_x0 > 0 ? t->clip_x0 : 0;
	int cx1 = t->clip_x1 < cv->w ? t->clip_x1 : cv->w;
	size_t len = strnlen(t->text, sizeof(t->text)), i = 0;
	int x = t->x;

	if (t->inverse && len)
		fill(cv, plane, t->x - INV_PAD * s > cx0 ? t->x - INV_PAD * s : cx0,
		     t->y + (f->cap_top - INV_PAD) * s,
		     t->x + t->w + (INV_PAD - 1) * s < cx1 ? t->x + t->w + (INV_PAD - 1) * s : cx1,
		     t->y + (f->baseline + INV_PAD) * s);
	while (i < len && x < cx1) {
		uint32_t cp;
		const uint8_t *g;

		i += (size_t)font_utf8_next(t->text + i, len - i, &cp);
		g = font_glyph(f, cp);
		if (x + cw <= cx0) {
			x += cw;
			continue;
		}
		for (int r = 0; r < f->height; r++) {
			const uint8_t *gr = g + r * f->stride;
			uint32_t bits = gr[0];
			uint64_t wide;

			/* the row's pixels as the low f->width bits */
			if (f->stride == 2)
				bits = bits << 8 | gr[1];
			bits >>= 8 * f->stride - f->width;

			if (!bits)
				continue;
			wide = widen(bits, f->width, s);
			for (int dy = 0; dy < s; dy++) {
				int y = t->y + r * s + dy;

				if (y >= 0 && y < cv->h)
					blit(base + (size_t)y * cv->stride, x, wide, cw, cx0, cx1,
					     !t->inverse);
			}
		}
		x += cw;
	}
	if (t->struck && len) {
		/* a line through the middle of the cap height, 2 px per scale step */
		int th = 2 * s;
		int mid = t->y + (f->cap_top + f->baseline) * s / 2;
		int x0 = t->x - s > cx0 ? t->x - s : cx0;
		int x1 = t->x + t->w + s < cx1 ? t->x + t->w + s : cx1;

		fill(cv, 0, x0, mid - th / 2, x1, mid - th / 2 + th);
	}
}

int render_draw(const struct render_layout *lay, struct esl_image *img, uint8_t *buf, size_t cap)
{
	struct canvas cv;
	uint32_t bytes;

	if (!lay || !img || !buf || lay->planes < 1 || lay->planes > 2 ||
	    lay->width > ESL_IMG_MAX_W || lay->height > ESL_IMG_MAX_H)
		return -EINVAL;
	bytes = esl_img_bytes(lay->width, lay->height, lay->planes);
	if (cap < bytes)
		return -EMSGSIZE;
	for (int i = 0; i < RENDER_NELEMS; i++) {
		const struct font *f = font_get(lay->elem[i].font);

		if (!f || lay->elem[i].scale < 1 || f->width * lay->elem[i].scale > 64 ||
		    f->stride > 2)
			return -EINVAL;
	}
	memset(buf, 0, bytes);
	cv.data = buf;
	cv.w = lay->width;
	cv.h = lay->height;
	cv.stride = esl_img_stride(lay->width);
	cv.planes = lay->planes;
	cv.psize = (size_t)cv.stride * cv.h;
	if (lay->rule_y >= 0)
		fill(&cv, 0, 0, lay->rule_y, cv.w, lay->rule_y + 1);
	for (int i = 0; i < RENDER_NELEMS; i++)
		if (lay->elem[i].text[0])
			draw_text(&cv, &lay->elem[i]);
	img->width = lay->width;
	img->height = lay->height;
	img->planes = lay->planes;
	img->data = buf;
	return 0;
}

int render_label(uint8_t type, const struct label_content *c, struct esl_image *img, uint8_t *buf,
		 size_t cap)
{
	struct render_layout lay;
	int rc;

	if (!img || !buf)
		return -EINVAL;
	rc = render_layout(type, c, &lay);
	if (rc)
		return rc;
	return render_draw(&lay, img, buf, cap);
}
