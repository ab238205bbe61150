/*
 * test_render: label rendering (agent/render.c, agent/font.c).
 *
 * Golden images: every label type x {regular price, promo with an end date,
 * not for sale, long name} is rendered and compared pixel by pixel with
 * tests/unit/golden/<type>-<case>.pbm (plane 0) and <type>-<case>-red.pbm
 * (plane 1 of 3-colour types); a mismatch names the first differing pixel.
 * SHELF_REGEN_GOLDEN=1 rewrites the goldens instead; SHELF_TEST_ARTIFACTS=DIR
 * also writes a PNG of every case there, to look at.
 *
 * Then: the price digits are exactly the font's glyphs (scaled) at the
 * positions the layout reports; promo colours and the strike line; name
 * wrapping and ellipsis; money formatting by ISO 4217 exponent; dates;
 * missing glyphs and bad UTF-8 as '?'; absurd values clip without writing
 * outside the buffer; argument errors; determinism and the content hash;
 * and the render time of a 2.9" label (printed).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "esl_image.h"
#include "font.h"
#include "image.h"
#include "log.h"
#include "render.h"
#include "util.h"

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/unit/golden"
#endif

/* 2026-12-24T18:30:00Z */
#define XMAS_MS 1798137000000LL

static const struct label_content case_regular = {
	.sku = "4006381333931",
	.name = "Gala Apples, Class I",
	.price = 249,
	.regular = -1,
	.currency = "EUR",
	.unit = "kg",
};

static const struct label_content case_promo = {
	.sku = "8000070012345",
	.name = "Espresso Beans Dark Roast 1 kg",
	.price = 1299,
	.regular = 1649,
	.currency = "EUR",
	.unit = "pack",
	.promo_until_ms = XMAS_MS,
};

static const struct label_content case_nfs = {
	.sku = "2000000000017",
	.name = "Gift Card Display",
	.price = 0,
	.regular = -1,
	.currency = "EUR",
	.not_for_sale = true,
};

static const struct label_content case_long = {
	.sku = "5201234567890",
	.name = "Extra Virgin Olive Oil, Cold Pressed, First Harvest, Single Estate from "
		"the Hills of Crete, Unfiltered and Bottled at Source",
	.price = 1899,
	.regular = -1,
	.currency = "EUR",
	.unit = "750 ml",
};

static const struct {
	const char *name;
	const struct label_content *c;
} cases[] = {
	{"regular", &case_regular},
	{"promo", &case_promo},
	{"notforsale", &case_nfs},
	{"longname", &case_long},
};

static const struct {
	uint8_t type;
	const char *name;
} types[] = {
	{ESL_LT_29_BW, "29bw"},
	{ESL_LT_29_BWR, "29bwr"},
	{ESL_LT_42_BWR, "42bwr"},
};

static uint8_t buf[ESL_IMG_MAX_BYTES];
static uint8_t gold[ESL_IMG_MAX_BYTES];

static void render_ok(uint8_t type, const struct label_content *c, struct esl_image *img,
		      struct render_layout *lay)
{
	struct render_layout l;

	assert_int_equal(render_layout(type, c, lay ? lay : &l), 0);
	assert_int_equal(render_draw(lay ? lay : &l, img, buf, sizeof(buf)), 0);
}

/* One plane of @img as its own 1-plane image (aliasing the data). */
static struct esl_image plane_of(const struct esl_image *img, int plane)
{
	struct esl_image p = *img;

	p.planes = 1;
	p.data = img->data + (size_t)plane * esl_img_stride(img->width) * img->height;
	return p;
}

/* Compare plane @plane of @img with the golden PBM @path, pixel by pixel. */
static void compare_golden(const struct esl_image *img, int plane, const char *path)
{
	struct esl_image want, got = plane_of(img, plane);
	int rc = image_read_pbm(path, &want, gold, sizeof(gold));

	if (rc)
		fail_msg("%s: cannot read (%s); run SHELF_REGEN_GOLDEN=1 %s", path, strerror(-rc),
			 "build/tests/test_render");
	if (want.width != got.width || want.height != got.height)
		fail_msg("%s: golden is %ux%u, render is %ux%u", path, want.width, want.height,
			 got.width, got.height);
	for (unsigned y = 0; y < got.height; y++)
		for (unsigned x = 0; x < got.width; x++)
			if (esl_img_get(&want, x, y) != esl_img_get(&got, x, y))
				fail_msg("%s: first differing pixel at x=%u y=%u: golden %d, "
					 "render %d",
					 path, x, y, esl_img_get(&want, x, y),
					 esl_img_get(&got, x, y));
}

/* More contents to look at (not golden): odd currencies, scripts, sizes. */
static void write_extra_artifacts(const char *dir)
{
	struct label_content x[4] = {case_promo, case_promo, case_regular, case_regular};
	static const char *const names[] = {"jpy-cjk", "chf-wide", "greek-nodate", "absurd"};

	x[0].currency = "JPY";
	x[0].price = 1280;
	x[0].regular = 1580;
	x[0].name = "\u725b\u5976 Hokkaido Milk 1 l";
	x[0].unit = "bottle";
	x[1].currency = "CHF";
	x[1].price = 999999;
	x[1].regular = 1499999;
	x[1].name = "Cr\u00e8me br\u00fbl\u00e9e Dessert, 4 \u00d7 100 g";
	x[2].name =
		"\u039a\u03b1\u03bb\u03b1\u03bc\u03ac\u03c4\u03b1 \u0395\u03bb\u03b9\u03ad\u03c2 "
		"/ \u041c\u0430\u0441\u043b\u0438\u043d\u044b";
	x[2].regular = 299;
	x[2].unit = "jar";
	x[3].price = INT64_MIN;
	x[3].name = NULL;
	x[3].unit = "piece of a very long unit description that cannot fit anywhere";
	x[3].sku = "SKU-WITH-A-VERY-LONG-IDENTIFIER-0000000000000000000000000000";
	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		for (size_t k = 0; k < ARRAY_SIZE(x); k++) {
			struct esl_image img;
			char path[512];

			render_ok(types[t].type, &x[k], &img, NULL);
			snprintf(path, sizeof(path), "%s/extra-%s-%s.png", dir, types[t].name,
				 names[k]);
			assert_int_equal(image_write_png(&img, path), 0);
		}
	}
}

static void test_golden(void **state)
{
	bool regen = getenv("SHELF_REGEN_GOLDEN") && strcmp(getenv("SHELF_REGEN_GOLDEN"), "1") == 0;
	const char *art = getenv("SHELF_TEST_ARTIFACTS");

	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
			struct esl_image img;
			char path[512];

			render_ok(types[t].type, cases[k].c, &img, NULL);
			for (int p = 0; p < img.planes; p++) {
				snprintf(path, sizeof(path), "%s/%s-%s%s.pbm", GOLDEN_DIR,
					 types[t].name, cases[k].name, p ? "-red" : "");
				if (regen)
					assert_int_equal(image_write_pbm(&img, p, path), 0);
				else
					compare_golden(&img, p, path);
			}
			if (art && art[0]) {
				snprintf(path, sizeof(path), "%s/render-%s-%s.png", art,
					 types[t].name, cases[k].name);
				assert_int_equal(image_write_png(&img, path), 0);
			}
		}
	}
	if (regen)
		print_message("golden images rewritten in %s\n", GOLDEN_DIR);
	if (art && art[0])
		write_extra_artifacts(art);
}

/*
 * The cells of @t hold exactly the font's glyphs scaled by the layout's
 * scale, in the plane the layout says, and nothing in the other plane. Every
 * pixel of the glyph rows from two above the cap top to two below the
 * baseline is compared, ink and blank; the glyph must have no ink outside
 * that band (true for digits, symbols and most letters). The rest of the
 * cell is blank in the glyph but may hold a neighbour's ink: cells of
 * stacked lines overlap in their blank rows.
 */
static void check_glyph_cells(const struct esl_image *img, const struct render_text *t,
			      const char *want_text)
{
	const struct font *f = font_get(t->font);
	int s = t->scale, plane = (t->plane && img->planes > 1) ? 2 : 1;
	int r0 = f->cap_top >= 2 ? f->cap_top - 2 : 0;
	int r1 = f->baseline + 2 <= f->height ? f->baseline + 2 : f->height;
	size_t len = strlen(t->text), i = 0;
	int x = t->x;

	assert_string_equal(t->text, want_text);
	while (i < len) {
		uint32_t cp;
		const uint8_t *g;

		i += (size_t)font_utf8_next(t->text + i, len - i, &cp);
		assert_true(font_has(f, cp) || cp == '?');
		g = font_glyph(f, cp);
		for (int r = 0; r < f->height; r++)
			for (int b = 0; b < f->stride; b++)
				if (r < r0 || r >= r1)
					assert_int_equal(g[r * f->stride + b], 0);
		for (int py = r0 * s; py < r1 * s; py++) {
			for (int px = 0; px < f->width * s; px++) {
				int r = py / s, c = px / s;
				int ink = (g[r * f->stride + c / 8] >> (7 - c % 8)) & 1;
				int got =
					esl_img_get(img, (unsigned)(x + px), (unsigned)(t->y + py));

				if (got != (ink ? plane : 0))
					fail_msg("U+%04X at cell x=%d: pixel (%d,%d) is %d, glyph "
						 "says %d",
						 (unsigned)cp, x, x + px, t->y + py, got,
						 ink ? plane : 0);
			}
		}
		x += f->width * s;
	}
	assert_int_equal(t->w, x - t->x);
}

static void test_price_digits_pixel_exact(void **state)
{
	/* every price step of every template, black and red */
	static const struct {
		uint8_t type;
		int64_t price;
		bool promo;
		const char *text;
		uint8_t font, scale;
	} v[] = {
		{ESL_LT_29_BW, 1234567, false, "12345.67", FONT_BOLD32, 2},
		{ESL_LT_29_BW, 89010, false, "890.10", FONT_BOLD32, 2},
		{ESL_LT_29_BWR, 8909, true, "89.09", FONT_BOLD32, 2},
		{ESL_LT_29_BW, 12345678, false, "123456.78", FONT_BOLD32, 1},
		{ESL_LT_29_BWR, INT64_MAX - 1, true, "92233720368547758.06", FONT_BOLD20, 1},
		{ESL_LT_42_BWR, 1299, true, "12.99", FONT_BOLD32, 4},
		{ESL_LT_42_BWR, 123456, false, "1234.56", FONT_BOLD32, 3},
		{ESL_LT_42_BWR, 12345678, true, "123456.78", FONT_BOLD32, 2},
		{ESL_LT_42_BWR, 1234567890123, false, "12345678901.23", FONT_BOLD32, 1},
	};

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct label_content c = case_promo;
		struct render_layout lay;
		struct esl_image img;
		const struct render_text *pr = &lay.elem[RENDER_PRICE];

		c.price = v[i].price;
		c.regular = !v[i].promo			? -1
			    : c.price > INT64_MAX - 100 ? INT64_MAX
							: c.price + 100;
		c.promo_until_ms = 0;
		render_ok(v[i].type, &c, &img, &lay);
		assert_int_equal(pr->font, v[i].font);
		assert_int_equal(pr->scale, v[i].scale);
		assert_int_equal(pr->plane, v[i].promo ? 1 : 0);
		check_glyph_cells(&img, pr, v[i].text);
		check_glyph_cells(&img, &lay.elem[RENDER_CURRENCY], "\u20ac");
		/* right-aligned at the margin */
		assert_int_equal(pr->x + pr->w, img.width - (img.width == 400 ? 8 : 4));
	}
}

/* The price is the largest element; it steps down when it does not fit. */
static void test_price_scales(void **state)
{
	struct label_content c = case_regular;
	struct render_layout lay;

	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		assert_int_equal(render_layout(types[t].type, &c, &lay), 0);
		for (int i = 0; i < RENDER_NELEMS; i++) {
			if (i == RENDER_PRICE || !lay.elem[i].text[0])
				continue;
			const struct font *f = font_get(lay.elem[i].font);
			const struct font *pf = font_get(lay.elem[RENDER_PRICE].font);

			assert_true((f->baseline - f->cap_top) * lay.elem[i].scale <
				    (pf->baseline - pf->cap_top) * lay.elem[RENDER_PRICE].scale);
		}
		assert_false(lay.clipped);
	}
	c.price = 12345678; /* 123456.78 on 2.9": x1 */
	assert_int_equal(render_layout(ESL_LT_29_BW, &c, &lay), 0);
	assert_int_equal(lay.elem[RENDER_PRICE].scale, 1);
	assert_false(lay.clipped);
	assert_true(lay.elem[RENDER_CURRENCY].x >= 4);
	c.price = 123456; /* 1234.56 on 4.2": x3 */
	assert_int_equal(render_layout(ESL_LT_42_BWR, &c, &lay), 0);
	assert_int_equal(lay.elem[RENDER_PRICE].scale, 3);
}

static int count_ink(const struct esl_image *img, int val, int x0, int y0, int x1, int y1)
{
	int n = 0;

	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			n += esl_img_get(img, (unsigned)x, (unsigned)y) == val;
	return n;
}

static void test_promo(void **state)
{
	struct render_layout lay;
	struct esl_image img;
	const struct render_text *reg, *pr, *until;
	const struct font *pf;
	struct label_content c;
	int y0, y1;

	/* b/w/r: promo price and date red, regular black and struck */
	render_ok(ESL_LT_29_BWR, &case_promo, &img, &lay);
	assert_true(lay.promo);
	reg = &lay.elem[RENDER_REGULAR];
	pr = &lay.elem[RENDER_PRICE];
	until = &lay.elem[RENDER_UNTIL];
	assert_string_equal(reg->text, "\u20ac16.49");
	assert_true(reg->struck);
	assert_string_equal(until->text, "until 24.12.");
	/* the cell box reaches below the baseline into the unit line: check the ink rows */
	pf = font_get(pr->font);
	y0 = pr->y + pf->cap_top * pr->scale;
	y1 = pr->y + pf->baseline * pr->scale;
	assert_int_equal(count_ink(&img, 1, pr->x, y0, pr->x + pr->w, y1), 0);
	assert_true(count_ink(&img, 2, pr->x, y0, pr->x + pr->w, y1) > 200);
	assert_true(count_ink(&img, 2, until->x, until->y, until->x + until->w, 128) > 20);
	assert_int_equal(count_ink(&img, 2, reg->x, reg->y, reg->x + reg->w, reg->y + reg->h), 0);
	/* the strike: an unbroken ink row across the whole regular price */
	{
		const struct font *f = font_get(reg->font);
		int mid = reg->y + (f->cap_top + f->baseline) / 2;

		assert_int_equal(count_ink(&img, 1, reg->x, mid, reg->x + reg->w, mid + 1), reg->w);
	}
	/* b/w: the same in black */
	render_ok(ESL_LT_29_BW, &case_promo, &img, &lay);
	pr = &lay.elem[RENDER_PRICE];
	assert_true(count_ink(&img, 1, pr->x, pr->y, pr->x + pr->w, pr->y + pr->h) > 200);

	/* a wide price and code: the regular steps down to a smaller font ... */
	c = case_promo;
	c.currency = "CHF";
	c.price = 999999;
	c.regular = 1499999;
	render_ok(ESL_LT_29_BWR, &c, &img, &lay);
	assert_string_equal(lay.elem[RENDER_REGULAR].text, "CHF 14999.99");
	assert_int_equal(lay.elem[RENDER_REGULAR].font, FONT_TEXT);
	assert_false(lay.clipped);
	/* ... and is left out, never cut, when even that does not fit */
	c.price = INT64_MAX / 2;
	c.regular = INT64_MAX;
	render_ok(ESL_LT_29_BWR, &c, &img, &lay);
	assert_string_equal(lay.elem[RENDER_PRICE].text, "46116860184273879.03");
	assert_string_equal(lay.elem[RENDER_REGULAR].text, "");
	assert_true(lay.clipped);

	/* regular not above the price: no promo, no strike */
	c = case_promo;
	c.regular = c.price;
	render_ok(ESL_LT_29_BWR, &c, &img, &lay);
	assert_false(lay.promo);
	assert_string_equal(lay.elem[RENDER_REGULAR].text, "");
	assert_int_equal(lay.elem[RENDER_PRICE].plane, 0);
	assert_int_equal(count_ink(&img, 2, 0, 0, img.width, img.height), 0);
}

struct box {
	int x0, y0, x1, y1; /* ink bounding box, [x0, x1) x [y0, y1); x0 > x1 when empty */
};

/* The ink of element @i of @lay alone (text, strike, inverse box). */
static struct box elem_ink(const struct render_layout *lay, int i)
{
	static uint8_t scratch[ESL_IMG_MAX_BYTES];
	struct render_layout one = *lay;
	struct box b = {10000, 10000, -1, -1};
	struct esl_image img;

	for (int k = 0; k < RENDER_NELEMS; k++)
		if (k != i)
			one.elem[k].text[0] = '\0';
	one.rule_y = -1;
	assert_int_equal(render_draw(&one, &img, scratch, sizeof(scratch)), 0);
	for (int y = 0; y < img.height; y++) {
		for (int x = 0; x < img.width; x++) {
			if (!esl_img_get(&img, (unsigned)x, (unsigned)y))
				continue;
			b.x0 = x < b.x0 ? x : b.x0;
			b.y0 = y < b.y0 ? y : b.y0;
			b.x1 = x + 1 > b.x1 ? x + 1 : b.x1;
			b.y1 = y + 1 > b.y1 ? y + 1 : b.y1;
		}
	}
	return b;
}

/*
 * Layout sanity for many contents: the ink of no two elements comes closer
 * than 2 pixels, nothing is clipped, every element's ink is inside the
 * margins, and the name rule does not cut through any text.
 */
static void check_no_overlap(uint8_t type, const struct label_content *c)
{
	struct render_layout lay;
	struct box b[RENDER_NELEMS];

	assert_int_equal(render_layout(type, c, &lay), 0);
	assert_false(lay.clipped);
	for (int i = 0; i < RENDER_NELEMS; i++) {
		b[i] = elem_ink(&lay, i);
		if (b[i].x1 < 0)
			continue;
		if (b[i].x0 < 2 || b[i].x1 > lay.width - 2 || b[i].y0 < 2 ||
		    b[i].y1 > lay.height - 1)
			fail_msg(
				"type %u element %d \"%s\" ink at [%d,%d)x[%d,%d) touches the edge",
				type, i, lay.elem[i].text, b[i].x0, b[i].x1, b[i].y0, b[i].y1);
		if (lay.rule_y >= 0 && b[i].y0 <= lay.rule_y && b[i].y1 > lay.rule_y)
			fail_msg("type %u element %d crosses the rule", type, i);
		for (int k = 0; k < i; k++) {
			if (b[k].x1 < 0)
				continue;
			if (b[i].x0 < b[k].x1 + 2 && b[k].x0 < b[i].x1 + 2 &&
			    b[i].y0 < b[k].y1 + 2 && b[k].y0 < b[i].y1 + 2)
				fail_msg("type %u: \"%s\" [%d,%d)x[%d,%d) and \"%s\" "
					 "[%d,%d)x[%d,%d) overlap",
					 type, lay.elem[k].text, b[k].x0, b[k].x1, b[k].y0, b[k].y1,
					 lay.elem[i].text, b[i].x0, b[i].x1, b[i].y0, b[i].y1);
		}
	}
}

static void test_layout_no_overlap(void **state)
{
	static const int64_t prices[] = {0, 5, 99, 249, 1299, 9999, 99999, 999999, 9999999};
	static const char *const curs[] = {"EUR", "JPY", "CHF", "BHD", "GBP"};
	static const char *const units[] = {NULL, "kg", "500 g", "piece of 6 bottles and more"};

	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		for (size_t k = 0; k < ARRAY_SIZE(cases); k++)
			check_no_overlap(types[t].type, cases[k].c);
		for (size_t p = 0; p < ARRAY_SIZE(prices); p++) {
			for (size_t cu = 0; cu < ARRAY_SIZE(curs); cu++) {
				struct label_content c = case_long;

				c.price = prices[p];
				c.currency = curs[cu];
				c.unit = units[(p + cu) % ARRAY_SIZE(units)];
				c.sku = "12345678901234567890123456789012345678901234567890";
				check_no_overlap(types[t].type, &c);
				c.regular = c.price * 3 / 2 + 1;
				c.promo_until_ms = XMAS_MS;
				check_no_overlap(types[t].type, &c);
			}
		}
	}
}

static void test_not_for_sale(void **state)
{
	struct render_layout lay;
	struct esl_image img;

	render_ok(ESL_LT_42_BWR, &case_nfs, &img, &lay);
	assert_string_equal(lay.elem[RENDER_STATUS].text, "not for sale");
	assert_string_equal(lay.elem[RENDER_PRICE].text, "");
	assert_string_equal(lay.elem[RENDER_CURRENCY].text, "");
	assert_string_equal(lay.elem[RENDER_UNIT].text, "");
	assert_string_equal(lay.elem[RENDER_SKU].text, "2000000000017");
	/* centred */
	assert_true(abs(lay.elem[RENDER_STATUS].x * 2 + lay.elem[RENDER_STATUS].w - 400) <= 1);
}

static void expect_name(uint8_t type, const char *name, const char *l1, const char *l2)
{
	struct label_content c = case_regular;
	struct render_layout lay;

	c.name = name;
	assert_int_equal(render_layout(type, &c, &lay), 0);
	if (strcmp(lay.elem[RENDER_NAME1].text, l1) || strcmp(lay.elem[RENDER_NAME2].text, l2))
		fail_msg("name \"%s\": got \"%s\" / \"%s\", want \"%s\" / \"%s\"", name,
			 lay.elem[RENDER_NAME1].text, lay.elem[RENDER_NAME2].text, l1, l2);
}

static void test_name_wrap(void **state)
{
	/* 2.9": 36 cells a line */
	expect_name(ESL_LT_29_BW, "Milk", "Milk", "");
	expect_name(ESL_LT_29_BW, NULL, "", "");
	expect_name(ESL_LT_29_BW, "  Milk \t\n  1 l  ", "Milk 1 l", "");
	expect_name(ESL_LT_29_BW, "Extra Virgin Olive Oil, Cold Pressed, First Harvest",
		    "Extra Virgin Olive Oil, Cold", "Pressed, First Harvest");
	expect_name(ESL_LT_29_BW, "123456789012345678901234567890123456",
		    "123456789012345678901234567890123456", "");
	expect_name(ESL_LT_29_BW, "1234567890123456789012345678901234567890",
		    "123456789012345678901234567890123456", "7890");
	expect_name(ESL_LT_29_BW,
		    "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo",
		    "aaaa bbbb cccc dddd eeee ffff gggg",
		    "hhhh iiii jjjj kkkk llll mmmm nnnn\u2026");
	/* UTF-8 kept; CJK and malformed bytes become '?' */
	expect_name(ESL_LT_29_BW, "Cr\u00e8me br\u00fbl\u00e9e \u0412\u043e\u0434\u0430",
		    "Cr\u00e8me br\u00fbl\u00e9e \u0412\u043e\u0434\u0430", "");
	expect_name(ESL_LT_29_BW, "\u725b\u5976 milk", "?? milk", "");
	expect_name(ESL_LT_29_BW, "a\xff\xc3(b\xe2\x82",
		    "a?"
		    "?(b??",
		    "");
	/* 4.2": 32 cells of 12 px */
	expect_name(ESL_LT_42_BWR, "Extra Virgin Olive Oil, Cold Pressed, First Harvest",
		    "Extra Virgin Olive Oil, Cold", "Pressed, First Harvest");
}

/* The '?' glyph is what a missing character looks like on the label. */
static void test_missing_glyph_visible(void **state)
{
	struct label_content c = case_regular;
	struct render_layout lay;
	struct esl_image img;

	c.name = "\u725b";
	render_ok(ESL_LT_29_BW, &c, &img, &lay);
	check_glyph_cells(&img, &lay.elem[RENDER_NAME1], "?");
}

static void expect_utf8(const char *s, size_t n, uint32_t cp, int len)
{
	uint32_t got = 0;

	assert_int_equal(font_utf8_next(s, n, &got), len);
	assert_int_equal(got, cp);
}

static void test_font(void **state)
{
	static const uint32_t need[] = {0x20ac, 0x2026, 0x00a3, 0x00a5, '$'};

	for (int id = 0; id < FONT_COUNT; id++) {
		const struct font *f = font_get((enum font_id)id);
		const uint8_t *sp;

		assert_non_null(f);
		assert_int_equal(f->stride, (f->width + 7) / 8);
		assert_true(f->cap_top < f->baseline && f->baseline <= f->height);
		/* ASCII and Latin-1 printable, the euro sign and the ellipsis */
		for (uint32_t cp = 0x20; cp < 0x7f; cp++)
			assert_true(font_has(f, cp));
		for (uint32_t cp = 0xa0; cp <= 0xff; cp++)
			assert_true(font_has(f, cp));
		for (size_t i = 0; i < ARRAY_SIZE(need); i++)
			assert_true(font_has(f, need[i]));
		/* missing: '?' */
		assert_false(font_has(f, 0x725b));
		assert_false(font_has(f, 0x1f34e));
		assert_false(font_has(f, 0x0a));
		assert_int_equal(font_lookup(f, 0x725b), -1);
		assert_ptr_equal(font_glyph(f, 0x725b), font_glyph(f, '?'));
		assert_ptr_not_equal(font_glyph(f, 'A'), font_glyph(f, '?'));
		sp = font_glyph(f, ' ');
		for (int i = 0; i < f->height * f->stride; i++)
			assert_int_equal(sp[i], 0);
	}
	/* text fonts also carry Latin Extended, Greek and Cyrillic */
	assert_true(font_has(font_get(FONT_BOLD16), 0x0142)); /* l with stroke */
	assert_true(font_has(font_get(FONT_BOLD16), 0x03a9)); /* Omega */
	assert_true(font_has(font_get(FONT_BOLD24), 0x0416)); /* Zhe */
	assert_null(font_get(FONT_COUNT));
	assert_null(font_get((enum font_id) - 1));

	expect_utf8("A", 1, 'A', 1);
	expect_utf8("\u00e9", 2, 0xe9, 2);
	expect_utf8("\u20ac", 3, 0x20ac, 3);
	expect_utf8("\U0001f34e", 4, 0x1f34e, 4);
	expect_utf8("\u20ac", 2, 0xfffd, 1); /* truncated */
	expect_utf8("\xc0\xaf", 2, 0xfffd, 1); /* overlong */
	expect_utf8("\xe0\x80\xaf", 3, 0xfffd, 1);
	expect_utf8("\xed\xa0\x80", 3, 0xfffd, 1); /* surrogate */
	expect_utf8("\xf4\x90\x80\x80", 4, 0xfffd, 1); /* > U+10FFFF */
	expect_utf8("\x80", 1, 0xfffd, 1);
	expect_utf8("\xff", 1, 0xfffd, 1);
	expect_utf8("\xc3(", 2, 0xfffd, 1);
}

/* render_draw refuses a hand-made layout it cannot draw safely. */
static void test_draw_rejects(void **state)
{
	struct render_layout lay;
	struct esl_image img;

	assert_int_equal(render_layout(ESL_LT_29_BW, &case_regular, &lay), 0);
	lay.elem[RENDER_PRICE].scale = 5; /* 16 * 5 > 64 bits a row */
	assert_int_equal(render_draw(&lay, &img, buf, sizeof(buf)), -EINVAL);
	lay.elem[RENDER_PRICE].scale = 0;
	assert_int_equal(render_draw(&lay, &img, buf, sizeof(buf)), -EINVAL);
	lay.elem[RENDER_PRICE].scale = 2;
	lay.elem[RENDER_PRICE].font = FONT_COUNT;
	assert_int_equal(render_draw(&lay, &img, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(render_layout(ESL_LT_29_BW, &case_regular, &lay), 0);
	lay.width = 401;
	assert_int_equal(render_draw(&lay, &img, buf, sizeof(buf)), -EINVAL);
	lay.width = 296;
	lay.planes = 3;
	assert_int_equal(render_draw(&lay, &img, buf, sizeof(buf)), -EINVAL);
}

static void expect_money(int64_t v, const char *cur, const char *want)
{
	char b[32];
	int n = render_money(v, cur, b, sizeof(b));

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(b, want);
}

static void test_money(void **state)
{
	char small[4];

	expect_money(1299, "EUR", "12.99");
	expect_money(5, "EUR", "0.05");
	expect_money(0, "USD", "0.00");
	expect_money(-50, "GBP", "-0.50");
	expect_money(1280, "JPY", "1280");
	expect_money(0, "KRW", "0");
	expect_money(1250, "BHD", "1.250");
	expect_money(7, "KWD", "0.007");
	expect_money(990, "CHF", "9.90");
	expect_money(990, "ZZZ", "9.90");
	expect_money(INT64_MAX, "EUR", "92233720368547758.07");
	expect_money(INT64_MIN, "EUR", "-92233720368547758.08");
	expect_money(INT64_MIN, "JPY", "-9223372036854775808");
	assert_int_equal(render_money(1299, "EUR", small, sizeof(small)), -EMSGSIZE);
	assert_int_equal(render_money(999, "JPY", small, sizeof(small)), 3);
	assert_int_equal(render_currency_exponent("JPY"), 0);
	assert_int_equal(render_currency_exponent("OMR"), 3);
	assert_int_equal(render_currency_exponent("CNY"), 2);
	assert_int_equal(render_currency_exponent(NULL), 2);
	assert_string_equal(render_currency_mark("EUR"), "\u20ac");
	assert_string_equal(render_currency_mark("CNY"), "\u00a5");
	assert_string_equal(render_currency_mark("CHF"), "CHF");
}

static void test_currency_shown(void **state)
{
	struct label_content c = case_promo;
	struct render_layout lay;

	c.currency = "JPY";
	c.price = 1280;
	c.regular = 1580;
	assert_int_equal(render_layout(ESL_LT_29_BWR, &c, &lay), 0);
	assert_string_equal(lay.elem[RENDER_CURRENCY].text, "\u00a5");
	assert_string_equal(lay.elem[RENDER_PRICE].text, "1280");
	assert_string_equal(lay.elem[RENDER_REGULAR].text, "\u00a51580");
	c.currency = "CHF";
	c.price = 990;
	c.regular = 1290;
	assert_int_equal(render_layout(ESL_LT_29_BWR, &c, &lay), 0);
	assert_string_equal(lay.elem[RENDER_CURRENCY].text, "CHF");
	assert_string_equal(lay.elem[RENDER_PRICE].text, "9.90");
	assert_string_equal(lay.elem[RENDER_REGULAR].text, "CHF 12.90");
	assert_string_equal(lay.elem[RENDER_UNIT].text, "per pack");
}

static void expect_until(int64_t ms, const char *want)
{
	struct label_content c = case_promo;
	struct render_layout lay;

	c.promo_until_ms = ms;
	assert_int_equal(render_layout(ESL_LT_29_BWR, &c, &lay), 0);
	assert_string_equal(lay.elem[RENDER_UNTIL].text, want);
}

static void test_until_date(void **state)
{
	expect_until(XMAS_MS, "until 24.12.");
	expect_until(1, "until 01.01.");
	expect_until(-1, "until 31.12.");
	expect_until(951782400000LL, "until 29.02."); /* 2000-02-29T00:00Z */
	expect_until(951868799999LL, "until 29.02.");
	expect_until(INT64_MAX, "until 17.08."); /* far future: still a valid date */
	expect_until(INT64_MIN, "until 16.05.");
	expect_until(0, "");
}

static void test_errors(void **state)
{
	struct label_content c = case_regular;
	struct render_layout lay;
	struct esl_image img;

	assert_int_equal(render_label(0, &c, &img, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(render_label(4, &c, &img, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(render_label(ESL_LT_29_BW, NULL, &img, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(render_label(ESL_LT_29_BW, &c, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(render_label(ESL_LT_29_BW, &c, &img, NULL, sizeof(buf)), -EINVAL);
	assert_int_equal(render_layout(ESL_LT_29_BW, &c, NULL), -EINVAL);
	assert_int_equal(render_draw(NULL, &img, buf, sizeof(buf)), -EINVAL);
	c.sku = NULL;
	assert_int_equal(render_label(ESL_LT_29_BW, &c, &img, buf, sizeof(buf)), -EINVAL);
	c = case_regular;
	c.currency = NULL;
	assert_int_equal(render_label(ESL_LT_29_BW, &c, &img, buf, sizeof(buf)), -EINVAL);
	c.currency = "eur";
	assert_int_equal(render_label(ESL_LT_29_BW, &c, &img, buf, sizeof(buf)), -EINVAL);
	c.currency = "EURO";
	assert_int_equal(render_label(ESL_LT_29_BW, &c, &img, buf, sizeof(buf)), -EINVAL);
	c.currency = "";
	assert_int_equal(render_layout(ESL_LT_29_BW, &c, &lay), -EINVAL);
	c = case_regular;
	/* capacity: exactly enough works, one byte less does not */
	assert_int_equal(render_label(ESL_LT_29_BW, &c, &img, buf, 296 / 8 * 128), 0);
	assert_int_equal(render_label(ESL_LT_29_BW, &c, &img, buf, 296 / 8 * 128 - 1), -EMSGSIZE);
	assert_int_equal(render_label(ESL_LT_29_BWR, &c, &img, buf, 296 / 8 * 128), -EMSGSIZE);
	assert_int_equal(render_label(ESL_LT_42_BWR, &c, &img, buf, ESL_IMG_MAX_BYTES), 0);
	assert_int_equal(img.width, 400);
	assert_int_equal(img.height, 300);
	assert_int_equal(img.planes, 2);
	assert_ptr_equal(img.data, buf);
}

/*
 * Absurd content renders without touching a byte past the image: the buffer
 * is surrounded by canaries. Also a layout moved off the image by hand.
 */
static void test_absurd_values_clip(void **state)
{
	static const int64_t prices[] = {INT64_MIN, -1, INT64_MAX, 999999999999LL, 0};
	static char huge[4096];
	static uint8_t area[ESL_IMG_MAX_BYTES + 128];
	uint8_t *b = area + 64;
	struct label_content c = case_promo;
	struct render_layout lay;
	struct esl_image img;

	memset(huge, 'W', sizeof(huge) - 1);
	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		for (size_t i = 0; i < ARRAY_SIZE(prices); i++) {
			for (size_t j = 0; j < ARRAY_SIZE(prices); j++) {
				uint32_t n;

				c.price = prices[i];
				c.regular = prices[j];
				c.name = (i + j) % 2 ? huge : "\xf0\x9f\x8d\x8e\xff\xfe";
				c.unit = (i + j) % 3 ? huge : "";
				c.sku = j % 2 ? huge : "";
				c.promo_until_ms = prices[j];
				c.currency = i % 2 ? "JPY" : "XXX";
				memset(area, 0xa5, sizeof(area));
				assert_int_equal(render_layout(types[t].type, &c, &lay), 0);
				assert_int_equal(render_draw(&lay, &img, b, ESL_IMG_MAX_BYTES), 0);
				n = esl_img_bytes(img.width, img.height, img.planes);
				for (size_t k = 0; k < 64; k++)
					assert_int_equal(area[k], 0xa5);
				for (size_t k = 64 + n; k < sizeof(area); k++)
					assert_int_equal(area[k], 0xa5);
			}
		}
	}
	/* any int64 fits a 2.9" label in the smallest price step */
	c = case_regular;
	c.currency = "CHF";
	c.price = INT64_MIN;
	assert_int_equal(render_layout(ESL_LT_29_BW, &c, &lay), 0);
	assert_false(lay.clipped);
	assert_int_equal(lay.elem[RENDER_PRICE].font, FONT_BOLD20);
	assert_string_equal(lay.elem[RENDER_PRICE].text, "-92233720368547758.08");
	/* not on 4.2" (smallest step 16 px): cut on the right, the sign stays */
	assert_int_equal(render_layout(ESL_LT_42_BWR, &c, &lay), 0);
	assert_true(lay.clipped);
	assert_int_equal(lay.elem[RENDER_CURRENCY].x, 8);
	assert_true(lay.elem[RENDER_PRICE].x > 8 + 48);
	render_ok(ESL_LT_42_BWR, &c, &img, &lay);
	assert_true(count_ink(&img, 1, lay.elem[RENDER_PRICE].x, lay.elem[RENDER_PRICE].y,
			      lay.elem[RENDER_PRICE].x + 16,
			      lay.elem[RENDER_PRICE].y + lay.elem[RENDER_PRICE].h) > 0);
	/* hand-made garbage: text without a terminating NUL, not UTF-8 */
	assert_int_equal(render_layout(ESL_LT_42_BWR, &case_promo, &lay), 0);
	for (int i = 0; i < RENDER_NELEMS; i++)
		memset(lay.elem[i].text, i % 2 ? 'W' : 0xe2, sizeof(lay.elem[i].text));
	assert_int_equal(render_draw(&lay, &img, b, ESL_IMG_MAX_BYTES), 0);
	/* elements pushed outside the image in every direction */
	for (int d = 0; d < 4; d++) {
		assert_int_equal(render_layout(ESL_LT_29_BWR, &case_promo, &lay), 0);
		for (int i = 0; i < RENDER_NELEMS; i++) {
			struct render_text *t = &lay.elem[i];

			t->x = (int16_t)(d == 0 ? -2000 : d == 1 ? 290 : t->x);
			t->y = (int16_t)(d == 2 ? -30 : d == 3 ? 120 : t->y);
			t->clip_x0 = -5000;
			t->clip_x1 = 5000;
			t->scale = 4;
		}
		lay.rule_y = 127;
		memset(area, 0xa5, sizeof(area));
		assert_int_equal(render_draw(&lay, &img, b, ESL_IMG_MAX_BYTES), 0);
		for (size_t k = 64 + 2 * 37 * 128; k < sizeof(area); k++)
			assert_int_equal(area[k], 0xa5);
	}
}

/* Same content, same pixels and hash; any change, another hash. */
static void test_deterministic_hash(void **state)
{
	struct label_content c = case_promo;
	struct esl_image img;
	uint64_t h1, h2, h3;

	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		memset(buf, 0xff, sizeof(buf)); /* stale bytes must not leak into the render */
		assert_int_equal(render_label(types[t].type, &c, &img, buf, sizeof(buf)), 0);
		h1 = esl_img_hash(&img);
		assert_int_equal(render_label(types[t].type, &c, &img, buf, sizeof(buf)), 0);
		h2 = esl_img_hash(&img);
		assert_true(h1 == h2);
		c.price++;
		assert_int_equal(render_label(types[t].type, &c, &img, buf, sizeof(buf)), 0);
		h3 = esl_img_hash(&img);
		c.price--;
		assert_true(h3 != h1);
	}
	/* the same content on two types hashes differently (geometry, planes) */
	assert_int_equal(render_label(ESL_LT_29_BW, &case_regular, &img, buf, sizeof(buf)), 0);
	h1 = esl_img_hash(&img);
	assert_int_equal(render_label(ESL_LT_29_BWR, &case_regular, &img, buf, sizeof(buf)), 0);
	assert_true(esl_img_hash(&img) != h1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Render time per label; printed for the report, bounded loosely. */
static void test_render_speed(void **state)
{
	struct label_content c = case_promo;
	struct esl_image img;
	const int n = 20000;

	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		double t0 = now_s(), us;

		for (int i = 0; i < n; i++) {
			c.price = 100 + i;
			assert_int_equal(render_label(types[t].type, &c, &img, buf, sizeof(buf)),
					 0);
		}
		us = (now_s() - t0) * 1e6 / n;
		print_message("render %s: %.1f us per label (%d labels)\n", types[t].name, us, n);
		/* what goes on the wire: PackBits size of each golden case */
		for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
			static uint8_t enc[2 * ESL_IMG_MAX_BYTES];
			size_t e;

			render_ok(types[t].type, cases[k].c, &img, NULL);
			e = esl_pack_encode(img.data,
					    esl_img_bytes(img.width, img.height, img.planes), enc,
					    sizeof(enc));
			print_message("  %s %-10s %5u raw bytes, %5zu PackBits\n", types[t].name,
				      cases[k].name,
				      esl_img_bytes(img.width, img.height, img.planes), e);
		}
		assert_true(us < 5000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_price_digits_pixel_exact),
		cmocka_unit_test(test_price_scales),
		cmocka_unit_test(test_promo),
		cmocka_unit_test(test_layout_no_overlap),
		cmocka_unit_test(test_not_for_sale),
		cmocka_unit_test(test_name_wrap),
		cmocka_unit_test(test_missing_glyph_visible),
		cmocka_unit_test(test_font),
		cmocka_unit_test(test_draw_rejects),
		cmocka_unit_test(test_money),
		cmocka_unit_test(test_currency_shown),
		cmocka_unit_test(test_until_date),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_absurd_values_clip),
		cmocka_unit_test(test_deterministic_hash),
		cmocka_unit_test(test_render_speed),
	};

	log_init("test_render", LOG_LVL_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
