/*
 * fuzz_prices: fuzz target for the price-batch parser (agent/prices.c) and
 * through it the JSON scanner (agent/jscan.c), libFuzzer interface.
 *
 * Each input goes to price_batch_parse() and price_snapshot_parse(). On
 * success every value must keep the documented rules (SKU charset and
 * length, money 0..10^9, regular >= price, name/unit length, valid UTF-8
 * without control characters, no SKU twice across items and remove, store
 * ids, snapshot fields, not empty), and the batch written back as JSON must
 * parse to the same batch. On failure: 1..PRICE_MAX_ERRORS errors listed,
 * the total at least that, each NUL-terminated, valid UTF-8 and non-empty,
 * and the batch empty. Any violation aborts.
 *
 * Without libFuzzer (gcc, make test) a small main() is compiled in: it
 * replays the files given as arguments, or runs -n N inputs (default 20000,
 * seed -s 1) made by mutating a few seed batches, each copied into a buffer
 * of exactly its size so that sanitizers see over-reads. Build the
 * libFuzzer version with -DFUZZ_NO_MAIN (see tests/fuzz/README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prices.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_prices: invariant failed: %s (%s:%d)\n", #cond,      \
				__FILE__, __LINE__);                                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static unsigned long n_accepted, n_rejected;
static struct price_errors errs;

static bool charset_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c && strchr(extra, c))))
			return false;
	}
	return true;
}

static void check_text(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	CHECK(n <= max);
	CHECK(utf8_valid(s, n));
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_batch(const struct price_batch *b, bool snapshot_file)
{
	size_t n_skus = b->n_items + b->n_remove;
	const char **skus;

	CHECK(b->n_items <= PRICE_MAX_ITEMS && b->n_remove <= PRICE_MAX_ITEMS);
	for (size_t i = 0; i < b->n_items; i++) {
		const struct price_item *it = &b->items[i];

		CHECK(charset_ok(it->sku, PRICE_SKU_MAX, "._-"));
		CHECK(it->price >= 0 && it->price <= PRICE_MONEY_MAX);
		CHECK(it->regular == -1 ||
		      (it->regular >= it->price && it->regular <= PRICE_MONEY_MAX));
		check_text(it->name, PRICE_NAME_MAX);
		check_text(it->unit, PRICE_UNIT_MAX);
	}
	for (size_t i = 0; i < b->n_remove; i++)
		CHECK(charset_ok(b->remove[i], PRICE_SKU_MAX, "._-"));
	skus = malloc((n_skus + 1) * sizeof(*skus));
	CHECK(skus);
	for (size_t i = 0; i < b->n_items; i++)
		skus[i] = b->items[i].sku;
	for (size_t i = 0; i < b->n_remove; i++)
		skus[b->n_items + i] = b->remove[i];
	qsort(skus, n_skus, sizeof(*skus), cmp_str);
	for (size_t i = 1; i < n_skus; i++)
		CHECK(strcmp(skus[i - 1], skus[i]) != 0);
	free(skus);
	if (snapshot_file) {
		CHECK(b->n_remove == 0 && b->n_stores == 0 && !b->has_snapshot && !b->id[0]);
		return;
	}
	CHECK(strlen(b->id) >= 1 && strlen(b->id) <= PRICE_ID_MAX);
	for (const char *p = b->id; *p; p++)
		CHECK(*p >= 0x20 && *p <= 0x7e);
	CHECK(strlen(b->currency) == 3);
	for (int i = 0; i < 3; i++)
		CHECK(b->currency[i] >= 'A' && b->currency[i] <= 'Z');
	CHECK(b->n_stores <= PRICE_MAX_STORES);
	CHECK(!b->has_stores || b->n_stores >= 1);
	CHECK(b->has_stores || b->n_stores == 0);
	for (size_t i = 0; i < b->n_stores; i++) {
		CHECK(charset_ok(b->stores[i], 64, "_-"));
		CHECK(strcmp(b->stores[i], "fleet") != 0);
	}
	if (b->has_snapshot) {
		CHECK(b->n_items == 0 && b->n_remove == 0);
		CHECK(b->snapshot_url && strlen(b->snapshot_url) <= PRICE_URL_MAX);
		CHECK(strncasecmp(b->snapshot_url, "http://", 7) == 0 ||
		      strncasecmp(b->snapshot_url, "https://", 8) == 0);
		CHECK(strlen(b->snapshot_sha256) == 64);
		CHECK(strspn(b->snapshot_sha256, "0123456789abcdef") == 64);
		CHECK(b->snapshot_size >= 1 && b->snapshot_size <= PRICE_SNAPSHOT_MAX);
	} else {
		CHECK(b->n_items + b->n_remove > 0);
		CHECK(!b->snapshot_url);
	}
}

static void add_ts(struct dynbuf *d, const char *key, int64_t ms)
{
	char ts[TS_BUFSZ];

	ts_format(ms, ts);
	CHECK(dynbuf_addf(d, ",\"%s\":\"%s\"", key, ts) == 0);
}

/* The batch as JSON, in the input format. */
static void write_batch(const struct price_batch *b, struct dynbuf *d, bool snapshot_file)
{
	CHECK(dynbuf_adds(d, b->has_snapshot ? "{\"items\":null" : "{\"items\":[") == 0);
	for (size_t i = 0; i < b->n_items; i++) {
		const struct price_item *it = &b->items[i];

		CHECK(dynbuf_adds(d, i ? ",{\"sku\":" : "{\"sku\":") == 0);
		CHECK(dynbuf_add_json_str(d, it->sku) == 0);
		CHECK(dynbuf_addf(d, ",\"price\":%lld", (long long)it->price) == 0);
		if (it->regular >= 0)
			CHECK(dynbuf_addf(d, ",\"regular\":%lld", (long long)it->regular) == 0);
		if (it->name) {
			CHECK(dynbuf_adds(d, ",\"name\":") == 0);
			CHECK(dynbuf_add_json_str(d, it->name) == 0);
		}
		if (it->unit) {
			CHECK(dynbuf_adds(d, ",\"unit\":") == 0);
			CHECK(dynbuf_add_json_str(d, it->unit) == 0);
		}
		if (it->promo_until_ms)
			add_ts(d, "promo_until", it->promo_until_ms);
		CHECK(dynbuf_adds(d, "}") == 0);
	}
	CHECK(dynbuf_adds(d, b->has_snapshot ? "" : "]") == 0);
	if (!snapshot_file) {
		CHECK(dynbuf_adds(d, ",\"id\":") == 0 && dynbuf_add_json_str(d, b->id) == 0);
		add_ts(d, "issued_at", b->issued_at_ms);
		CHECK(dynbuf_addf(d, ",\"currency\":\"%s\"", b->currency) == 0);
		if (b->effective_at_ms)
			add_ts(d, "effective_at", b->effective_at_ms);
		if (b->n_remove) {
			CHECK(dynbuf_adds(d, ",\"remove\":[") == 0);
			for (size_t i = 0; i < b->n_remove; i++) {
				CHECK(dynbuf_adds(d, i ? "," : "") == 0);
				CHECK(dynbuf_add_json_str(d, b->remove[i]) == 0);
			}
			CHECK(dynbuf_adds(d, "]") == 0);
		}
		if (b->has_stores) {
			CHECK(dynbuf_adds(d, ",\"stores\":[") == 0);
			for (size_t i = 0; i < b->n_stores; i++) {
				CHECK(dynbuf_adds(d, i ? "," : "") == 0);
				CHECK(dynbuf_add_json_str(d, b->stores[i]) == 0);
			}
			CHECK(dynbuf_adds(d, "]") == 0);
		}
		if (b->has_snapshot) {
			CHECK(dynbuf_adds(d, ",\"snapshot\":{\"url\":") == 0);
			CHECK(dynbuf_add_json_str(d, b->snapshot_url) == 0);
			CHECK(dynbuf_addf(d, ",\"sha256\":\"%s\",\"size\":%lld}",
					  b->snapshot_sha256, (long long)b->snapshot_size) == 0);
		}
	}
	CHECK(dynbuf_adds(d, "}") == 0);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct price_batch *a, const struct price_batch *b)
{
	CHECK(strcmp(a->id, b->id) == 0 && strcmp(a->currency, b->currency) == 0);
	CHECK(a->issued_at_ms == b->issued_at_ms && a->effective_at_ms == b->effective_at_ms);
	CHECK(a->n_items == b->n_items && a->n_remove == b->n_remove && a->n_stores == b->n_stores);
	CHECK(a->has_stores == b->has_stores && a->has_snapshot == b->has_snapshot);
	for (size_t i = 0; i < a->n_items; i++) {
		const struct price_item *x = &a->items[i], *y = &b->items[i];

		CHECK(strcmp(x->sku, y->sku) == 0 && x->price == y->price);
		CHECK(x->regular == y->regular && x->promo_until_ms == y->promo_until_ms);
		CHECK(same_str(x->name, y->name) && same_str(x->unit, y->unit));
	}
	for (size_t i = 0; i < a->n_remove; i++)
		CHECK(strcmp(a->remove[i], b->remove[i]) == 0);
	for (size_t i = 0; i < a->n_stores; i++)
		CHECK(strcmp(a->stores[i], b->stores[i]) == 0);
	CHECK(same_str(a->snapshot_url, b->snapshot_url));
	CHECK(strcmp(a->snapshot_sha256, b->snapshot_sha256) == 0);
	CHECK(a->snapshot_size == b->snapshot_size);
}

static void check_rejected(int rc, const struct price_batch *b)
{
	CHECK(rc == -EINVAL);
	CHECK(errs.total >= 1 && errs.n >= 1 && errs.n <= PRICE_MAX_ERRORS && errs.n <= errs.total);
	CHECK(errs.n == (errs.total < PRICE_MAX_ERRORS ? errs.total : PRICE_MAX_ERRORS));
	for (size_t i = 0; i < errs.n; i++) {
		const struct price_error *e = &errs.e[i];

		CHECK(memchr(e->at, '\0', sizeof(e->at)));
		CHECK(memchr(e->error, '\0', sizeof(e->error)));
		CHECK(e->error[0]);
		CHECK(utf8_valid(e->at, strlen(e->at)));
		CHECK(utf8_valid(e->error, strlen(e->error)));
	}
	CHECK(!b->mem && !b->items && b->n_items == 0 && b->n_remove == 0 && b->n_stores == 0);
	CHECK(!b->has_snapshot && !b->has_stores);
}

static void run(const char *buf, size_t len, bool snapshot_file)
{
	struct price_batch b, again;
	struct dynbuf d;
	int rc;

	memset(&errs, 0x5a, sizeof(errs));
	rc = snapshot_file ? price_snapshot_parse(buf, len, &b, &errs)
			   : price_batch_parse(buf, len, &b, &errs);
	if (rc != 0) {
		n_rejected++;
		check_rejected(rc, &b);
		price_batch_free(&b);
		return;
	}
	n_accepted++;
	CHECK(errs.total == 0 && errs.n == 0);
	check_batch(&b, snapshot_file);
	dynbuf_init(&d, PRICE_BATCH_MAX);
	write_batch(&b, &d, snapshot_file);
	rc = snapshot_file ? price_snapshot_parse(d.buf, d.len, &again, &errs)
			   : price_batch_parse(d.buf, d.len, &again, &errs);
	if (rc != 0)
		fprintf(stderr, "fuzz_prices: round trip rejected: %s: %s\n%.500s\n",
			errs.n ? errs.e[0].at : "", errs.n ? errs.e[0].error : "", d.buf);
	CHECK(rc == 0);
	check_same(&b, &again);
	price_batch_free(&again);
	price_batch_free(&b);
	dynbuf_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run((const char *)data, size, false);
	run((const char *)data, size, true);
	return 0;
}

#ifndef FUZZ_NO_MAIN
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORK_MAX 8192

static const char *const seeds[] = {
	"{\"id\":\"b-1\",\"issued_at\":\"2026-11-23T02:00:00.120Z\",\"currency\":\"CNY\","
	"\"effective_at\":\"2026-11-24T00:00:00+08:00\",\"items\":[{\"sku\":\"6901234567892\","
	"\"price\":1290,\"regular\":1590,\"name\":\"Caf\\u00e9 \\ud83e\\udd5b \xe7\x89\x9b\","
	"\"unit\":\"1L\",\"promo_until\":\"2026-12-01T00:00:00Z\"},{\"sku\":\"A.b_c-9\",\"price\":"
	"0,"
	"\"x\":{\"y\":[1,2.5,null]}}],\"remove\":[\"OLD-1\"],\"stores\":[\"S042\",\"s_7\"]}",
	"{\"id\":\"b-2\",\"issued_at\":\"2026-11-23T02:00:00Z\",\"currency\":\"EUR\","
	"\"snapshot\":{\"url\":\"https://hq.example.com/s/1.json\",\"sha256\":"
	"\"0123456789ABCDEFabcdef0123456789abcdef0123456789abcdef0123456789\",\"size\":1048576}}",
	"{\"items\":[{\"sku\":\"A\",\"price\":1},{\"sku\":\"B\",\"price\":2,\"name\":null}],"
	"\"generated\":\"x\"}",
	"{\"id\":\"\",\"items\":[{\"sku\":\"A\",\"price\":12.9,\"price\":1e400},{\"sku\":\"A\","
	"\"price\":-1,\"regular\":99999999999999999999}],\"remove\":[\"A\"],\"snapshot\":{}}",
};

static const char *const tokens[] = {
	"\"",
	"\\",
	"\\u",
	"\\ud800",
	"\\udc00",
	"\\u0000",
	"{",
	"}",
	"[",
	"]",
	",",
	":",
	"null",
	"true",
	"-",
	"0",
	"1e3",
	".5",
	"1000000001",
	"99999999999999999999",
	"\"sku\"",
	"\"price\"",
	"\"regular\"",
	"\"name\"",
	"\"items\"",
	"\"remove\"",
	"\"stores\"",
	"\"snapshot\"",
	"\"fleet\"",
	"\xc3",
	"\xe2\x82\xac",
	"\xff",
	"\t",
	"\n",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	"]]]]]]]]",
	"\"id\":\"b\"",
	"{\"sku\":\"Z\",\"price\":5}",
	"\"2026-11-23T02:00:00Z\"",
};

static unsigned long long rng_state;

static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return n ? (unsigned)(rng_state >> 33) % n : 0;
}

/* One exact-size copy through the target. */
static void one(const char *buf, size_t len)
{
	char *copy = malloc(len ? len : 1);

	CHECK(copy);
	memcpy(copy, buf, len);
	LLVMFuzzerTestOneInput((const uint8_t *)copy, len);
	free(copy);
}

static size_t mutate(char *w, size_t len)
{
	int rounds = 1 + (int)rnd(4);

	for (int r = 0; r < rounds; r++) {
		size_t pos = len ? rnd((unsigned)len + 1) : 0;

		switch (rnd(5)) {
		case 0: /* flip a byte */
			if (len)
				w[rnd((unsigned)len)] ^= (char)(1u << rnd(8));
			break;
		case 1: { /* insert a token */
			const char *t = tokens[rnd(ARRAY_SIZE(tokens))];
			size_t n = strlen(t);

			if (len + n < WORK_MAX) {
				memmove(w + pos + n, w + pos, len - pos);
				memcpy(w + pos, t, n);
				len += n;
			}
			break;
		}
		case 2: { /* delete a range */
			size_t n = rnd(16) + 1;

			if (pos + n <= len) {
				memmove(w + pos, w + pos + n, len - pos - n);
				len -= n;
			}
			break;
		}
		case 3: { /* duplicate a range */
			size_t n = rnd(64) + 1;

			if (pos + n <= len && len + n < WORK_MAX) {
				memmove(w + pos + n, w + pos, len - pos);
				len += n;
			}
			break;
		}
		default: /* truncate */
			len = pos;
			break;
		}
	}
	return len;
}

static int replay(const char *path)
{
	struct stat st;
	FILE *f;
	char *buf;
	size_t n;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct dirent *de;
		char sub[4096];

		if (!dir)
			return -1;
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			replay(sub);
		}
		closedir(dir);
		return 0;
	}
	f = fopen(path, "rb");
	if (!f)
		return -1;
	buf = malloc((size_t)st.st_size + 1);
	CHECK(buf);
	n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	one(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 20000, seed = 1;
	static char w[WORK_MAX];
	int opt;

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (opt == 's')
			seed = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++)
			replay(argv[i]);
	} else {
		rng_state = seed;
		for (size_t i = 0; i < ARRAY_SIZE(seeds); i++)
			one(seeds[i], strlen(seeds[i]));
		for (unsigned long i = 0; i < n; i++) {
			const char *s = seeds[rnd(ARRAY_SIZE(seeds))];
			size_t len = strlen(s);

			memcpy(w, s, len);
			len = mutate(w, len);
			one(w, len);
		}
	}
	printf("fuzz_prices: %lu accepted, %lu rejected, 0 crashes\n", n_accepted, n_rejected);
	return 0;
}
#endif
