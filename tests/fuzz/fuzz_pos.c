/*
 * fuzz_pos: fuzz target for the POS jsonl parser (libFuzzer interface).
 *
 * Feeds the input, as one line, to pos_parse_line() and checks what comes
 * back. On success: the record has exactly the documented shape and key
 * order, every string is 1..POS_STR_MAX bytes of valid UTF-8 without control
 * characters, every number an integer within +-POS_MONEY_MAX, qty != 0,
 * 1..POS_LINES_MAX lines; and feeding the record back (kind renamed to type)
 * gives the same record. On failure: the error is filled in, bounded and
 * valid UTF-8, and ts_ms is 0. Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pos.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_target_stats(unsigned long *accepted, unsigned long *rejected);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_pos: invariant failed: %s (%s:%d)\n", #cond,         \
				__FILE__, __LINE__);                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static unsigned long n_accepted, n_rejected;

void fuzz_target_stats(unsigned long *accepted, unsigned long *rejected)
{
	*accepted = n_accepted;
	*rejected = n_rejected;
}

/*
 * The parser writes the record's members as text: parse {<members>} back
 * into a tree for the checks below (NULL when the line is rejected).
 */
static cJSON *parse_tree(const char *line, size_t len, int64_t *ts_ms, struct pos_err *err)
{
	struct pos_summary sum = {0};
	struct dynbuf d;
	cJSON *out = NULL;

	if (ts_ms)
		*ts_ms = 0;
	dynbuf_init(&d, 1 << 20);
	dynbuf_add(&d, "{", 1);
	if (pos_parse_line(line, len, &d, &sum, err) == 0) {
		dynbuf_add(&d, "}", 1);
		out = cJSON_ParseWithLength(d.buf, d.len);
		CHECK(out != NULL); /* the record is always valid JSON */
		if (ts_ms)
			*ts_ms = sum.ts_ms;
	} else {
		CHECK(d.len == 1); /* nothing of a rejected line is left behind */
	}
	dynbuf_free(&d);
	return out;
}

static void check_str(const cJSON *it, const char *key)
{
	size_t n;

	CHECK(it && it->string && strcmp(it->string, key) == 0);
	CHECK(cJSON_IsString(it) && it->valuestring);
	n = strlen(it->valuestring);
	CHECK(n >= 1 && n <= POS_STR_MAX);
	CHECK(utf8_valid(it->valuestring, n));
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)it->valuestring[i] >= 0x20 && it->valuestring[i] != 0x7f);
}

static void check_int(const cJSON *it, const char *key)
{
	double v;

	CHECK(it && it->string && strcmp(it->string, key) == 0);
	CHECK(cJSON_IsNumber(it));
	v = it->valuedouble;
	CHECK(v >= -(double)POS_MONEY_MAX && v <= (double)POS_MONEY_MAX);
	CHECK((double)(int64_t)v == v);
}

/* Walks the children in order: the key order is part of the contract. */
static void check_record(const cJSON *out)
{
	const cJSON *it, *line;
	int n = 0;

	CHECK(cJSON_IsObject(out));
	it = out->child;
	check_str(it, "kind");
	CHECK(strcmp(it->valuestring, "sale") == 0 || strcmp(it->valuestring, "refund") == 0 ||
	      strcmp(it->valuestring, "void") == 0);
	it = it->next;
	check_str(it, "receipt");
	it = it->next;
	if (it && it->string && strcmp(it->string, "till") == 0) {
		check_str(it, "till");
		it = it->next;
	}
	CHECK(it && it->string && strcmp(it->string, "lines") == 0 && cJSON_IsArray(it));
	cJSON_ArrayForEach(line, it)
	{
		const cJSON *f = line->child;

		n++;
		CHECK(cJSON_IsObject(line));
		check_str(f, "sku");
		f = f->next;
		check_int(f, "qty");
		CHECK(f->valuedouble != 0);
		f = f->next;
		check_int(f, "unit_price");
		f = f->next;
		check_int(f, "amount");
		CHECK(f->next == NULL);
	}
	CHECK(n >= 1 && n <= POS_LINES_MAX);
	it = it->next;
	check_int(it, "total");
	it = it->next;
	if (it) {
		check_str(it, "member");
		CHECK(it->next == NULL);
	}
}

/* The record, fed back as an input line, must come out unchanged. */
static void check_roundtrip(const cJSON *out, const char *printed)
{
	struct pos_err err;
	cJSON *in, *kind, *again;
	char *line, *printed2;

	in = cJSON_Duplicate(out, 1);
	if (!in)
		return; /* out of memory: nothing to learn */
	kind = cJSON_DetachItemFromObjectCaseSensitive(in, "kind");
	CHECK(kind);
	cJSON_AddItemToObject(in, "type", kind);
	line = cJSON_PrintUnformatted(in);
	cJSON_Delete(in);
	if (!line)
		return;
	again = parse_tree(line, strlen(line), NULL, &err);
	if (!again)
		fprintf(stderr, "fuzz_pos: round trip rejected: %s: %s\n%s\n", err.at, err.msg,
			line);
	CHECK(again);
	printed2 = cJSON_PrintUnformatted(again);
	CHECK(printed2 && strcmp(printed, printed2) == 0);
	cJSON_free(printed2);
	cJSON_Delete(again);
	cJSON_free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pos_err err;
	int64_t ts_ms = -1;
	cJSON *out;
	char *printed;

	memset(&err, 0x5a, sizeof(err));
	out = parse_tree((const char *)data, size, &ts_ms, &err);
	if (!out) {
		n_rejected++;
		CHECK(memchr(err.at, '\0', sizeof(err.at)) != NULL);
		CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		CHECK(err.msg[0] != '\0');
		CHECK(utf8_valid(err.msg, strlen(err.msg)));
		CHECK(utf8_valid(err.at, strlen(err.at)));
		CHECK(ts_ms == 0);
		return 0;
	}
	n_accepted++;
	CHECK(size <= POS_LINE_MAX);
	check_record(out);
	printed = cJSON_PrintUnformatted(out);
	if (printed) {
		check_roundtrip(out, printed);
		cJSON_free(printed);
	}
	cJSON_Delete(out);
	return 0;
}
