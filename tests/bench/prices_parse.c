/*
 * prices_parse: time and memory of price_batch_parse() on a large batch, and
 * of the streaming pair price_batch_validate() + price_foreach_item().
 *
 *   prices_parse [-n ITEMS] [-r RUNS] [FILE]
 *
 * Without FILE, builds a batch of ITEMS (default 100,000) items shaped like a
 * catalog push (13-digit SKU, price, a name on every item, a regular price on
 * one in three, unit and promo_until on one in ten: about 78 bytes per item);
 * with FILE, parses that payload instead. Runs the parse RUNS times (default
 * 10) and prints the best and median wall time, the throughput, and the heap
 * the parser allocated: peak bytes in use during one parse and bytes still
 * held by the result. Then the same for validate followed by foreach (the
 * callback only reads each item): the time of both, the peak and held heap
 * of validate, and what foreach allocates (it should be 0). The heap
 * figures count only the parser's own malloc
 * calls: link with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
 * (the wrappers below count malloc_usable_size() of each block); without
 * those flags they print as 0.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prices.h"
#include "util.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static size_t heap_now, heap_peak;

static void heap_count(void *p, int sign)
{
	if (!p)
		return;
	if (sign > 0) {
		heap_now += malloc_usable_size(p);
		if (heap_now > heap_peak)
			heap_peak = heap_now;
	} else {
		heap_now -= malloc_usable_size(p);
	}
}

void *__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);

	heap_count(p, 1);
	return p;
}

void *__wrap_calloc(size_t n, size_t m)
{
	void *p = __real_calloc(n, m);

	heap_count(p, 1);
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	void *q;

	heap_count(p, -1);
	q = __real_realloc(p, n);
	heap_count(q ? q : p, 1);
	return q;
}

void __wrap_free(void *p)
{
	heap_count(p, -1);
	__real_free(p);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* What the foreach callback saw: enough that the compiler keeps the reads. */
struct sum {
	size_t n;
	int64_t total;
};

static int sum_item(void *arg, const struct price_item *it)
{
	struct sum *s = arg;

	s->n++;
	s->total +=
		it->price + (int64_t)strlen(it->sku) + (it->name ? (int64_t)strlen(it->name) : 0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int build(struct dynbuf *d, long n)
{
	int rc = dynbuf_adds(d, "{\"id\":\"bench-1\",\"issued_at\":\"2026-11-23T02:00:00.000Z\","
				"\"currency\":\"CNY\",\"items\":[");

	for (long i = 0; rc == 0 && i < n; i++) {
		rc = dynbuf_addf(d, "%s{\"sku\":\"69%011ld\",\"price\":%ld", i ? "," : "", i,
				 100 + i % 9000);
		if (rc == 0 && i % 3 == 0)
			rc = dynbuf_addf(d, ",\"regular\":%ld", 10000 + i % 9000);
		if (rc == 0)
			rc = dynbuf_addf(d, ",\"name\":\"Item %ld whole milk\"", i);
		if (rc == 0 && i % 10 == 0)
			rc = dynbuf_adds(d, ",\"unit\":\"1L\",\"promo_until\":"
					    "\"2026-12-01T00:00:00.000Z\"");
		if (rc == 0)
			rc = dynbuf_adds(d, "}");
	}
	if (rc == 0)
		rc = dynbuf_adds(d, "]}");
	return rc;
}

static int load(struct dynbuf *d, const char *path)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f)
		return -errno;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = dynbuf_add(d, chunk, n);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	static struct price_errors errs;
	struct price_batch b;
	struct dynbuf d;
	long n = 100000;
	int runs = 10, opt, rc = 0;
	double *t, *ts, *tv, *tf;
	size_t held = 0, peak = 0, n_items = 0, vheld = 0, vpeak = 0, fpeak = 0;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'r':
			runs = (int)strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: %s [-n ITEMS] [-r RUNS] [FILE]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1 || n < 0) {
		fprintf(stderr, "prices_parse: bad -n or -r\n");
		return 2;
	}
	dynbuf_init(&d, PRICE_BATCH_MAX);
	rc = optind < argc ? load(&d, argv[optind]) : build(&d, n);
	if (rc < 0) {
		fprintf(stderr, "prices_parse: cannot prepare the payload: %s\n", strerror(-rc));
		return 1;
	}
	t = calloc((size_t)runs * 4, sizeof(*t));
	if (!t)
		return 1;
	ts = t + runs; /* validate + foreach */
	tv = ts + runs; /* validate alone */
	tf = tv + runs; /* foreach alone */
	for (int i = 0; i < runs; i++) {
		double t0;

		heap_now = 0;
		heap_peak = 0;
		t0 = mono_ms();
		rc = price_batch_parse(d.buf, d.len, &b, &errs);
		t[i] = mono_ms() - t0;
		held = heap_now;
		peak = heap_peak;
		n_items = b.n_items;
		price_batch_free(&b);
		if (rc != 0) {
			fprintf(stderr, "prices_parse: rejected (%d), %zu errors, first: %s: %s\n",
				rc, errs.total, errs.n ? errs.e[0].at : "",
				errs.n ? errs.e[0].error : "");
			return 1;
		}
	}
	for (int i = 0; i < runs; i++) {
		struct sum sum = {0, 0};
		double t0, t1;

		heap_now = 0;
		heap_peak = 0;
		t0 = mono_ms();
		rc = price_batch_validate(d.buf, d.len, &b, &errs);
		t1 = mono_ms();
		vheld = heap_now;
		vpeak = heap_peak;
		heap_peak = heap_now;
		if (rc == 0)
			rc = price_foreach_item(d.buf, d.len, false, sum_item, &sum);
		tv[i] = t1 - t0;
		tf[i] = mono_ms() - t1;
		ts[i] = tv[i] + tf[i];
		fpeak = heap_peak - vheld;
		price_batch_free(&b);
		if (rc != 0 || sum.n != n_items) {
			fprintf(stderr, "prices_parse: validate/foreach failed (%d), %zu items\n",
				rc, sum.n);
			return 1;
		}
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
	qsort(ts, (size_t)runs, sizeof(*ts), cmp_double);
	qsort(tv, (size_t)runs, sizeof(*tv), cmp_double);
	qsort(tf, (size_t)runs, sizeof(*tf), cmp_double);
	printf("prices_parse: %zu items, %zu bytes of JSON, %d runs\n", n_items, d.len, runs);
	printf("  time: best %.1f ms, median %.1f ms (%.0f MB/s at best)\n", t[0], t[runs / 2],
	       (double)d.len / 1e6 / (t[0] / 1e3));
	printf("  heap: peak %.2f MB during a parse, %.2f MB held by the result "
	       "(%.1f bytes per item)\n",
	       (double)peak / 1048576, (double)held / 1048576,
	       n_items ? (double)held / (double)n_items : 0.0);
	printf("validate + foreach:\n");
	printf("  time: best %.1f ms, median %.1f ms (validate best %.1f ms, foreach best %.1f "
	       "ms)\n",
	       ts[0], ts[runs / 2], tv[0], tf[0]);
	printf("  heap: peak %.2f MB during validate (%.0f%% of the parse's), %.2f MB held "
	       "(%.1f bytes per item); foreach allocates %zu bytes\n",
	       (double)vpeak / 1048576, peak ? 100.0 * (double)vpeak / (double)peak : 0.0,
	       (double)vheld / 1048576, n_items ? (double)vheld / (double)n_items : 0.0, fpeak);
	free(t);
	dynbuf_free(&d);
	return 0;
}
