/*
 * render: draw what a shelf label shows (product name, price, promo, unit,
 * SKU) into the 1- or 2-plane label image of firmware/proto/esl_image.h.
 *
 * One fixed template per label size (2.9" b/w and b/w/red share one, 4.2"
 * b/w/red): the product name on up to two lines (word-wrapped; a word longer
 * than a line is broken; the rest cut with U+2026); the price as the largest
 * element, right-aligned at the right margin on a fixed baseline, with its
 * currency symbol (or ISO code) in front, top-aligned with the digits; under
 * it the unit line ("per kg"); the SKU small in the bottom-left corner.
 * A promo (regular > price; a regular <= price is ignored) shows the regular
 * price struck through (beside the price on 2.9", above it on 4.2") and the
 * promo price in red (black on b/w), and, when an end date is set, "until
 * DD.MM." (UTC) as white text on a red (black) box in the bottom-right
 * corner. A SKU without a price shows "not for sale" instead of prices.
 * Elements sit at fixed positions per type, so a shelf of labels lines up.
 * A price too wide for its step falls back to the next smaller step (2.9":
 * x2, x1, then the 10x20 font; 4.2": x4 down to x1); the struck regular
 * price to a smaller font. A number is never shown cut on the left or with
 * an ellipsis: a regular price with no room is left out, and a price wider
 * than the label even at the smallest step (only absurd values, e.g. a
 * 19-digit amount on 4.2") is cut on the right; both set layout.clipped.
 *
 * Text uses the Terminus bitmap fonts of font.h, drawn 1:1 or integer-scaled:
 * no anti-aliasing, no dithering, pixel-exact glyphs. Names are UTF-8: Latin,
 * Greek and Cyrillic render; characters the fonts lack (CJK is not supported
 * yet), control characters aside, and malformed UTF-8 show as '?'; runs of
 * white space and control characters become one space. Labels are in English
 * ("per", "until", "not for sale"); money is written with '.' as the decimal
 * mark and no thousands grouping, with the currency's ISO 4217 minor-unit
 * exponent.
 *
 * Everything here is pure and deterministic (the same content gives the same
 * pixels and esl_img_hash on every run and machine, x86-64 and aarch64
 * alike), allocates nothing, uses about 2 KiB of stack for the layout, and
 * never writes outside the image: text that does not fit is cut at its box.
 */
#ifndef SHELF_RENDER_H
#define SHELF_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esl_image.h"

/* What one label shows. The strings are borrowed for the call only. */
struct label_content {
	const char *sku; /* shown small; required */
	const char *name; /* product name, UTF-8, may be NULL */
	int64_t price; /* minor units; ignored when not_for_sale */
	int64_t regular; /* regular price when this is a promo (> price), else -1 */
	const char *currency; /* ISO 4217 code, 3 letters A-Z: "EUR", "CNY", "JPY"; required */
	const char *unit; /* selling unit ("kg", "500 g", "piece"), may be NULL */
	int64_t promo_until_ms; /* 0 = none; else "until DD.MM." (UTC), bottom right; boxed on a
				   promo; not shown when not_for_sale */
	bool not_for_sale; /* the SKU has no price: "not for sale", no prices, no date */
};

/* The text elements of a template, in drawing order. */
enum render_elem {
	RENDER_NAME1, /* first line of the product name */
	RENDER_NAME2, /* second line (or empty) */
	RENDER_CURRENCY, /* symbol or ISO code in front of the price */
	RENDER_PRICE, /* the amount: "12.99" (the promo price during a promo) */
	RENDER_REGULAR, /* the regular price, struck through (promo only) */
	RENDER_UNTIL, /* "until 24.12." (promo end date, when set) */
	RENDER_UNIT, /* "per kg" */
	RENDER_SKU,
	RENDER_STATUS, /* "not for sale" */
	RENDER_NELEMS
};

#define RENDER_TEXT_MAX 208

/* One line of text as the layout placed it. */
struct render_text {
	char text[RENDER_TEXT_MAX]; /* UTF-8 as drawn; "" = element not shown */
	uint8_t font; /* enum font_id */
	uint8_t scale; /* integer scale, >= 1 */
	uint8_t plane; /* 0 black, 1 red (drawn into plane 0 on 1-plane labels) */
	bool struck; /* a line is drawn through the text */
	bool inverse; /* white text on a box of ink (the promo's end date) */
	int16_t x, y; /* top-left corner of the first glyph cell */
	int16_t w, h; /* cells * font width * scale, font height * scale */
	int16_t clip_x0, clip_x1; /* drawing is limited to x in [clip_x0, clip_x1) */
};

/* Where a render puts everything: for tests, previews and diagnostics. */
struct render_layout {
	uint16_t width, height;
	uint8_t planes;
	bool promo; /* regular > price, shown as a promo */
	bool clipped; /* some text did not fit its box and was cut (absurd values) */
	int16_t rule_y; /* a 1-pixel rule under the name at this row, -1 = none */
	struct render_text elem[RENDER_NELEMS];
};

/*
 * Lay out @c for label @type into @lay (caller's storage) without drawing;
 * the layout holds copies of all text and borrows nothing from @c. Returns
 * 0, or -EINVAL (unknown type, NULL @c/@lay, NULL sku or currency, a currency
 * that is not three letters A-Z).
 */
int render_layout(uint8_t type, const struct label_content *c, struct render_layout *lay);

/*
 * Render @c for label @type into @img using @buf (capacity @cap bytes;
 * ESL_IMG_MAX_BYTES is always enough): fills img->width/height/planes and
 * points img->data at @buf. Returns 0, -EINVAL (as render_layout, or NULL
 * @img/@buf) or -EMSGSIZE (@cap smaller than the image). The same as
 * render_layout followed by render_draw. Pure, deterministic, no allocation;
 * 8-10 us for a 2.9" label on the development machine (test_render prints it).
 */
int render_label(uint8_t type, const struct label_content *c, struct esl_image *img, uint8_t *buf,
		 size_t cap);

/*
 * Draw the layout @lay into @img using @buf (capacity @cap), as render_label:
 * clears the planes, then draws the rule and every element with non-empty
 * text, each clipped to [clip_x0, clip_x1) and to the image. A layout edited
 * by hand is drawn as safely. Returns 0, -EMSGSIZE, or -EINVAL (NULL
 * argument, planes not 1 or 2, larger than ESL_IMG_MAX_W x ESL_IMG_MAX_H, an
 * element with an unknown font, scale 0, or a cell wider than 64 pixels).
 */
int render_draw(const struct render_layout *lay, struct esl_image *img, uint8_t *buf, size_t cap);

/*
 * ISO 4217 minor-unit exponent of currency @code: 0 for JPY, KRW and the
 * other zero-decimal currencies, 3 for BHD, KWD, OMR, JOD, IQD, LYD, TND, 2
 * for everything else (also unknown codes).
 */
int render_currency_exponent(const char *code);

/*
 * Format @minor units of @code as the amount text: "12.99", "1280" (JPY),
 * "1.250" (BHD), "-0.50"; no symbol, no grouping. Any int64 works. Returns
 * the length, or -EMSGSIZE when @sz is too small (24 bytes always suffice).
 */
int render_money(int64_t minor, const char *code, char *buf, size_t sz);

/*
 * The currency mark shown for @code: the symbol where the fonts have it
 * (EUR "€", GBP "£", JPY and CNY "¥", USD "$"), else @code itself.
 */
const char *render_currency_mark(const char *code);

#endif
