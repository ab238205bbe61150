/*
 * fuzz_main: a plain driver for libFuzzer-style targets, for builds without
 * -fsanitize=fuzzer (gcc, cross builds, CI smoke runs).
 *
 *   fuzz_TARGET FILE|DIR...      replay each file (each regular file in a DIR)
 *   fuzz_TARGET [-n N] [-s SEED] run N inputs (default 20000, seed 1) made by
 *                             mutating a few valid and tricky seed lines
 *
 * Every input is copied into a buffer of exactly its size, so that a sanitizer
 * build catches reads past the end. A failed invariant aborts; on success the
 * last line is "fuzz_TARGET: N inputs, 0 crashes" and the exit status 0.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pos.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_target_stats(unsigned long *accepted, unsigned long *rejected);

static const char *prog = "fuzz"; /* the target's name (argv[0]), for messages */

#define FILE_MAX (1024 * 1024) /* replayed files are truncated here */
#define WORK_MAX (POS_LINE_MAX + 64) /* mutated inputs stay below this */

static const char *const seeds[] = {
	"{\"type\":\"sale\",\"receipt\":\"R-1\",\"till\":\"T1\",\"ts\":\"2026-11-23T02:00:00."
	"120Z\","
	"\"lines\":[{\"sku\":\"6901234567892\",\"qty\":1,\"unit_price\":1290}],\"total\":1290,"
	"\"member\":\"M-77\"}",
	"{\"type\":\"refund\",\"receipt\":\"R-9\",\"lines\":[{\"sku\":\"A\",\"qty\":-2,"
	"\"unit_price\":300,\"amount\":-550}],\"total\":-550}",
	"{\"type\":\"void\",\"receipt\":\"收据\",\"ts\":\"2026-11-23T10:00:00.5+08:00\",\"lines\":["
	"{\"sku\":\"A\",\"qty\":2,\"unit_price\":5},{\"sku\":\"B\",\"qty\":1.0,\"unit_price\":1e3,"
	"\"amount\":null}],\"total\":1010,\"vendor\":{\"x\":[1,2,{\"y\":null}]}}",
	"\xef\xbb\xbf{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"S\",\"qty\":1,"
	"\"unit_price\":1000000000000}],\"total\":1000000000000}\r",
	"{\"type\":\"sale\",\"receipt\":\"R\\u00e9\\n\",\"lines\":[{\"sku\":\"\\\\u0000\","
	"\"qty\":1,\"unit_price\":12.9}],\"total\":1,\"total\":2}",
};

static const char *const tokens[] = {
	"\"",
	"\\",
	"\\u0000",
	"\\ud800",
	"\\u00e9",
	"\xc0\xaf",
	"\xed\xa0\x80",
	"\xf4\x90\x80\x80",
	"\xef\xbb\xbf",
	"\xe2\x82",
	"\x80",
	"1e300",
	"-1e400",
	"-0",
	"0",
	"12.9",
	"1.0",
	"1e3",
	"9007199254740993",
	"1000000000001",
	"-1000000000000",
	"null",
	"true",
	"false",
	"[",
	"]",
	"{",
	"}",
	",",
	":",
	"\r",
	"\n",
	"\t",
	" ",
	"\"lines\":",
	"\"qty\":0,",
	"\"type\":\"refund\",",
	"\"total\":",
	"\"amount\":",
	"\"ts\":\"2026-02-29T00:00:00Z\",",
	"\"till\":null,",
	"{\"sku\":\"A\",\"qty\":1,\"unit_price\":1},",
};

static uint64_t rng_state;

/* xorshift64*: plenty for picking mutations, reproducible from the seed. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

struct work {
	char *buf;
	size_t len;
};

static void insert(struct work *w, size_t at, const char *p, size_t n)
{
	if (n > WORK_MAX - w->len)
		n = WORK_MAX - w->len;
	memmove(w->buf + at + n, w->buf + at, w->len - at);
	memcpy(w->buf + at, p, n);
	w->len += n;
}

static void erase(struct work *w, size_t at, size_t n)
{
	if (n > w->len - at)
		n = w->len - at;
	memmove(w->buf + at, w->buf + at + n, w->len - at - n);
	w->len -= n;
}

static void mutate_once(struct work *w)
{
	size_t at = rnd_below(w->len + 1);
	char c;

	switch (rnd_below(9)) {
	case 0: /* flip a bit */
		if (w->len)
			w->buf[rnd_below(w->len)] ^= (char)(1u << rnd_below(8));
		break;
	case 1: /* random byte */
		if (w->len)
			w->buf[rnd_below(w->len)] = (char)rnd();
		break;
	case 2: /* insert a random byte */
		c = (char)rnd();
		insert(w, at, &c, 1);
		break;
	case 3: /* delete a few bytes */
		if (at < w->len)
			erase(w, at, 1 + rnd_below(8));
		break;
	case 4:
	case 5: { /* insert a token */
		const char *t = tokens[rnd_below(ARRAY_SIZE(tokens))];

		insert(w, at, t, strlen(t));
		break;
	}
	case 6: { /* duplicate a chunk (grows arrays, repeats keys) */
		size_t from = rnd_below(w->len + 1);
		size_t n = rnd_below(w->len - from + 1);
		char *tmp = malloc(n + 1);

		if (tmp) {
			memcpy(tmp, w->buf + from, n);
			insert(w, at, tmp, n);
			free(tmp);
		}
		break;
	}
	case 7: { /* splice in part of another seed */
		const char *s = seeds[rnd_below(ARRAY_SIZE(seeds))];
		size_t sl = strlen(s), from = rnd_below(sl + 1);

		insert(w, at, s + from, rnd_below(sl - from + 1));
		break;
	}
	case 8: /* truncate */
		w->len = at;
		break;
	}
}

/* Occasionally: sizes around the line limit, or very deep nesting. */
static void special(struct work *w)
{
	switch (rnd_below(3)) {
	case 0: { /* pad with spaces to POS_LINE_MAX - 1 .. + 1 */
		size_t target = POS_LINE_MAX - 1 + rnd_below(3);

		if (w->len < target) {
			memset(w->buf + w->len, ' ', target - w->len);
			w->len = target;
		}
		break;
	}
	case 1: { /* an unknown key holding thousands of nested arrays */
		size_t depth = 500 + rnd_below(3000);
		size_t at = w->len ? w->len - 1 : 0;

		for (size_t i = 0; i < depth && w->len < WORK_MAX - 16; i++)
			insert(w, at, "[", 1);
		break;
	}
	case 2: { /* many lines */
		static const char item[] = "{\"sku\":\"A\",\"qty\":1,\"unit_price\":1},";
		const char *p = strstr(w->buf, "\"lines\":[");
		size_t n = 990 + rnd_below(20);

		if (!p || (size_t)(p - w->buf) >= w->len)
			break;
		for (size_t i = 0; i < n; i++)
			insert(w, (size_t)(p - w->buf) + 9, item, sizeof(item) - 1);
		break;
	}
	}
}

/* Run the target on a private exact-size copy. */
static void run_one(const char *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(1);
	}
	memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

static int replay_file(const char *path, unsigned long *count)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	buf = malloc(FILE_MAX);
	if (!buf) {
		fclose(f);
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	n = fread(buf, 1, FILE_MAX, f);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: read error\n", prog, path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	run_one(buf, n);
	free(buf);
	(*count)++;
	return 0;
}

static int replay(const char *path, unsigned long *count)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char sub[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode) && replay_file(sub, count) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int run_random(unsigned long n, unsigned long long seed)
{
	struct work w;

	w.buf = malloc(WORK_MAX + 1);
	if (!w.buf) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	if (!rng_state)
		rng_state = 1;
	for (unsigned long i = 0; i < n; i++) {
		const char *s = seeds[rnd_below(ARRAY_SIZE(seeds))];
		size_t muts = rnd_below(4) == 0 ? 0 : 1 + rnd_below(8);

		w.len = strlen(s);
		memcpy(w.buf, s, w.len);
		w.buf[w.len] = '\0';
		if (rnd_below(50) == 0)
			special(&w);
		for (size_t k = 0; k < muts; k++)
			mutate_once(&w);
		run_one(w.buf, w.len);
		w.buf[w.len] = '\0';
	}
	free(w.buf);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [-n N] [-s SEED] | %s FILE|DIR...\n", prog, prog);
}

int main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	unsigned long long seed = 1;
	unsigned long count = 0, accepted, rejected;
	long long n = -1, v;
	int opt, rc = 0;

	prog = slash ? slash + 1 : argv[0];

	while ((opt = getopt(argc, argv, "n:s:h")) != -1) {
		switch (opt) {
		case 'n':
			if (parse_ll(optarg, 0, 1000000000, &n) < 0) {
				usage();
				return 2;
			}
			break;
		case 's':
			if (parse_ll(optarg, 0, LLONG_MAX, &v) < 0) {
				usage();
				return 2;
			}
			seed = (unsigned long long)v;
			break;
		default:
			usage();
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (replay(argv[i], &count) < 0)
			rc = 1;
	}
	if (n < 0 && optind == argc)
		n = 20000;
	if (n > 0) {
		if (run_random((unsigned long)n, seed) < 0)
			return 1;
		count += (unsigned long)n;
	}
	fuzz_target_stats(&accepted, &rejected);
	if (n > 0)
		printf("%s: seed %llu\n", prog, seed);
	printf("%s: %lu accepted, %lu rejected\n", prog, accepted, rejected);
	printf("%s: %lu inputs, 0 crashes\n", prog, count);
	return rc;
}
