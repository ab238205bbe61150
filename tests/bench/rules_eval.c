/*
 * rules_eval: the local rules engine's cost per event with 1,000 rules loaded
 * (issue 5; tests/bench/screens runs it as its "rules" bench, make bench).
 *
 *   rules_eval [-n EVENTS] [-g GAP_MS] [-s SEED] [-q] [-w FILE]
 *
 * Builds a rules.set of RULES_MAX (1,000) rules and loads it with
 * rules_parse() + rules_engine_set() (timed once):
 *   500  on "sale", "sku" in a list of 5..30 SKUs (judged on the lines); one in
 *        five with "unless" a sale of one of 1..5 slow sellers within 10/20/30m;
 *        one in three with a 15m cooldown; actions alert/screen/flash/price;
 *   100  on "sale", sku eq X and qty gte 2 (one line must have both);
 *    50  on "sale", till eq T and total gte 50,000..150,000 (fields of the sale
 *        itself: rarely true);
 *   300  on "footfall", zone eq Z (two in three) or zone in [2-3 zones], and
 *        in gte 5..40; half with "unless" a sale of 1..5 slow sellers within 30m;
 *    50  on "visit", dwell_s gte 300..1200 (and zone eq Z for half).
 * The "when" SKU lists are drawn uniformly from a 20,000-SKU catalogue, the
 * "unless" ones from its 18,000 slow sellers (so some windows survive and
 * fire, others are cancelled).
 *
 * Then feeds EVENTS (default 100,000) events, one every GAP_MS (default
 * 100 ms) of event time from 2026-11-23T08:00Z, "now" = ts + 0..200 ms:
 * 90% sales (1..10 lines, 70% of the lines from the 2,000 best sellers,
 * qty 1..3, the body shelfd records for a sale: 9 sales/s, a busy store),
 * 2% footfall intervals (12 zones, in 0..60: 0.2/s, each zone about once a
 * minute), 8% visits. For each event, timed separately with
 * CLOCK_MONOTONIC:
 *   parse   cJSON_Parse of the event's body + cJSON_Delete: the BASELINE, the
 *           least a daemon pays to have the fields object the engine takes;
 *   rules   rules_event(type, ts, fields, now) + rules_advance(now) +
 *           rules_next_deadline(): what the daemon runs per recorded event
 *           (advance and the deadline walk every rule's state);
 *   trivial a loop comparing the event type with the 1,000 rules' "when" and
 *           "unless" event names (strcmp) and counting matches: the cost of
 *           the dumbest dispatch, for scale;
 *   save    rules_state_save() when rules_state_dirty() after the event (the
 *           daemon persists the state in the turn that changed it): printed
 *           apart, with the bytes saved.
 * Prints p50/p99/max/mean of each, the ratio rules/parse (of the means and of
 * the p99s), firings, open windows; the last line is machine readable:
 *   RESULT key=value ...
 * -q: only the RESULT line. -w FILE: write the rules.set command to FILE and
 * exit (tests/bench/screens loads it into shelfd for its "loaded" bench).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rules.h"
#include "util.h"

#define N_SKU 20000
#define N_POPULAR 2000
#define N_ZONES 12
#define N_TILLS 4
#define T0_MS 1795420800000LL /* 2026-11-23T08:00:00Z */

static const char *const zones[N_ZONES] = {"dairy",  "bakery", "produce",  "frozen",
					   "drinks", "snacks", "baby",	   "health",
					   "meat",   "fish",   "entrance", "exit"};
static const char *const tills[N_TILLS] = {"till1", "till2", "till3", "till4"};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [lo, hi]. */
static int rint_in(int lo, int hi)
{
	return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static void sku_name(char *buf, size_t sz, int i)
{
	snprintf(buf, sz, "690%010d", 1000000 + i * 7);
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "rules_eval: %s failed (%d)\n", what, rc);
	exit(2);
}

static void ok(int rc)
{
	if (rc)
		die("building the rules.set (dynbuf)", rc);
}

/* "[\"sku\",...]" of @n distinct SKUs drawn from the catalogue from @from on. */
static void sku_list(struct dynbuf *d, int n, int from)
{
	int picked[64];
	char s[32];

	ok(dynbuf_adds(d, "["));
	for (int k = 0; k < n; k++) {
		int v, dup;

		do {
			v = rint_in(from, N_SKU - 1);
			dup = 0;
			for (int j = 0; j < k; j++)
				dup |= picked[j] == v;
		} while (dup);
		picked[k] = v;
		sku_name(s, sizeof(s), v);
		ok(dynbuf_addf(d, "%s\"%s\"", k ? "," : "", s));
	}
	ok(dynbuf_adds(d, "]"));
}

static void action(struct dynbuf *d, int i)
{
	char s[32];

	sku_name(s, sizeof(s), rint_in(0, N_SKU - 1));
	switch (i % 4) {
	case 0:
		ok(dynbuf_addf(d, "\"then\":{\"action\":\"alert\",\"message\":\"rule %d\"}", i));
		break;
	case 1:
		ok(dynbuf_addf(d,
			       "\"then\":{\"action\":\"screen\",\"zone\":\"%s\",\"headline\":"
			       "\"Today only\",\"items\":[{\"sku\":\"%s\"}]}",
			       zones[i % N_ZONES], s));
		break;
	case 2:
		ok(dynbuf_addf(d, "\"then\":{\"action\":\"flash\",\"sku\":\"%s\"}", s));
		break;
	default:
		ok(dynbuf_addf(d,
			       "\"then\":{\"action\":\"price\",\"sku\":\"%s\",\"price\":%d,"
			       "\"for\":\"2h\"}",
			       s, rint_in(100, 9999)));
	}
}

/* The rules.set command (mix in the header comment). */
static void build_rules(struct dynbuf *d, int *n_unless)
{
	static const char *const within[] = {"10m", "20m", "30m"};

	*n_unless = 0;
	ok(dynbuf_adds(d, "{\"id\":\"bench-rules\",\"issued_at\":\"2026-11-23T08:00:00Z\","
			  "\"action\":\"rules.set\",\"version\":1,\"rules\":["));
	for (int i = 0; i < RULES_MAX; i++) {
		char s[32];

		ok(dynbuf_addf(d, "%s{\"name\":\"r%04d\",", i ? "," : "", i));
		if (i < 500) {
			ok(dynbuf_adds(d,
				       "\"when\":{\"event\":\"sale\",\"where\":{\"sku\":{\"in\":"));
			sku_list(d, rint_in(5, 30), 0);
			ok(dynbuf_adds(d, "}}},"));
			if (i % 5 == 0) {
				ok(dynbuf_adds(d,
					       "\"unless\":{\"event\":\"sale\",\"where\":{\"sku\":"
					       "{\"in\":"));
				sku_list(d, rint_in(1, 5), N_POPULAR);
				ok(dynbuf_addf(d, "}},\"within\":\"%s\"},", within[i % 3]));
				(*n_unless)++;
			}
			if (i % 3 == 0)
				ok(dynbuf_adds(d, "\"cooldown\":\"15m\","));
		} else if (i < 600) {
			sku_name(s, sizeof(s), rint_in(0, N_POPULAR - 1));
			ok(dynbuf_addf(d,
				       "\"when\":{\"event\":\"sale\",\"where\":{\"sku\":\"%s\","
				       "\"qty\":{\"gte\":2}}},",
				       s));
		} else if (i < 650) {
			ok(dynbuf_addf(d,
				       "\"when\":{\"event\":\"sale\",\"where\":{\"till\":\"%s\","
				       "\"total\":{\"gte\":%d}}},",
				       tills[i % N_TILLS], rint_in(50000, 150000)));
		} else if (i < 950) {
			if (i % 3 != 0)
				ok(dynbuf_addf(
					d,
					"\"when\":{\"event\":\"footfall\",\"where\":{\"zone\":"
					"\"%s\",\"in\":{\"gte\":%d}}},",
					zones[i % N_ZONES], rint_in(5, 40)));
			else
				ok(dynbuf_addf(
					d,
					"\"when\":{\"event\":\"footfall\",\"where\":{\"zone\":"
					"{\"in\":[\"%s\",\"%s\",\"%s\"]},\"in\":{\"gte\":%d}}},",
					zones[i % N_ZONES], zones[(i + 1) % N_ZONES],
					zones[(i + 5) % N_ZONES], rint_in(5, 40)));
			if (i % 2 == 0) {
				ok(dynbuf_adds(d,
					       "\"unless\":{\"event\":\"sale\",\"where\":{\"sku\":"
					       "{\"in\":"));
				sku_list(d, rint_in(1, 5), N_POPULAR);
				ok(dynbuf_adds(d, "}},\"within\":\"30m\"},"));
				(*n_unless)++;
			}
			if (i % 4 == 1)
				ok(dynbuf_adds(d, "\"cooldown\":\"1h\","));
		} else {
			if (i % 2)
				ok(dynbuf_addf(
					d,
					"\"when\":{\"event\":\"visit\",\"where\":{\"dwell_s\":"
					"{\"gte\":%d}}},",
					rint_in(300, 1200)));
			else
				ok(dynbuf_addf(
					d,
					"\"when\":{\"event\":\"visit\",\"where\":{\"zone\":\"%s\","
					"\"dwell_s\":{\"gte\":%d}}},",
					zones[i % N_ZONES], rint_in(300, 1200)));
		}
		action(d, i);
		ok(dynbuf_adds(d, "}"));
	}
	ok(dynbuf_adds(d, "]}"));
}

static void ts_fmt(char *buf, size_t sz, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, sz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

enum ev_kind { EV_SALE, EV_FOOTFALL, EV_VISIT, EV_KINDS };
static const char *const ev_type[EV_KINDS] = {"sale", "footfall", "visit"};

/* The body of event @i (stamped @ts) into @d; returns its kind, *@lines a sale's lines. */
static enum ev_kind build_event(struct dynbuf *d, long i, int64_t ts, int *lines)
{
	int r = rint_in(0, 99);
	char s[32], a[32], b[32];

	dynbuf_reset(d);
	if (r < 90) {
		int n = *lines = rint_in(1, 10);
		long total = 0;

		ok(dynbuf_addf(d,
			       "{\"kind\":\"sale\",\"receipt\":\"R-%ld\",\"till\":\"%s\","
			       "\"lines\":[",
			       i, tills[i % N_TILLS]));
		for (int k = 0; k < n; k++) {
			int qty = rint_in(1, 3), price = rint_in(100, 9999);
			int v = rint_in(0, 99) < 70 ? rint_in(0, N_POPULAR - 1)
						    : rint_in(0, N_SKU - 1);

			sku_name(s, sizeof(s), v);
			ok(dynbuf_addf(d,
				       "%s{\"sku\":\"%s\",\"qty\":%d,\"unit_price\":%d,"
				       "\"amount\":%d}",
				       k ? "," : "", s, qty, price, qty * price));
			total += (long)qty * price;
		}
		ok(dynbuf_addf(d, "],\"total\":%ld%s}", total,
			       rint_in(0, 9) < 3 ? ",\"member\":\"M-1234\"" : ""));
		return EV_SALE;
	}
	if (r < 92) {
		int in = rint_in(0, 60);

		ts_fmt(a, sizeof(a), ts - 60000);
		ts_fmt(b, sizeof(b), ts);
		ok(dynbuf_addf(d,
			       "{\"period\":\"interval\",\"zone\":\"%s\",\"from\":\"%s\","
			       "\"to\":\"%s\",\"in\":%d,\"out\":%d,\"uturns\":%d,\"glitches\":0,"
			       "\"ambiguous\":0}",
			       zones[rint_in(0, N_ZONES - 1)], a, b, in, rint_in(0, 60),
			       rint_in(0, 3)));
		return EV_FOOTFALL;
	}
	ts_fmt(a, sizeof(a), ts - 600000);
	ts_fmt(b, sizeof(b), ts);
	ok(dynbuf_addf(d,
		       "{\"pseudonym\":\"%016llx\",\"first\":\"%s\",\"last\":\"%s\","
		       "\"dwell_s\":%d,\"class\":\"shopper\",\"max_rssi\":-%d,\"zone\":\"%s\","
		       "\"randomized\":false,\"repeat\":%s,\"sightings\":%d}",
		       (unsigned long long)rnd(), a, b, rint_in(30, 2400), rint_in(40, 90),
		       zones[rint_in(0, N_ZONES - 1)], rint_in(0, 1) ? "true" : "false",
		       rint_in(1, 200)));
	return EV_VISIT;
}

struct series {
	uint32_t *v;
	size_t n;
	double sum;
};

static void series_add(struct series *s, int64_t ns)
{
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	s->sum += (double)ns;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double p50, p99, max, mean;
	size_t n;
};

static struct stats series_stats(struct series *s)
{
	struct stats st = {0, 0, 0, 0, s->n};

	if (!s->n)
		return st;
	qsort(s->v, s->n, sizeof(*s->v), u32_cmp);
	st.p50 = s->v[(s->n - 1) / 2];
	st.p99 = s->v[(size_t)((double)(s->n - 1) * 0.99)];
	st.max = s->v[s->n - 1];
	st.mean = s->sum / (double)s->n;
	return st;
}

static void print_stats(const char *what, struct stats st)
{
	printf("  %-34s n=%-6zu p50 %8.0f  p99 %8.0f  max %9.0f  mean %8.0f ns\n", what, st.n,
	       st.p50, st.p99, st.max, st.mean);
}

static void usage(void)
{
	fprintf(stderr, "usage: rules_eval [-n EVENTS] [-g GAP_MS] [-s SEED] [-q] [-w FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long n_events = 100000, gap_ms = 100;
	int quiet = 0, opt, n_unless, rc;
	const char *write_to = NULL;
	struct dynbuf cmd, body, state;
	struct price_errors errs;
	struct rule_set *rs = NULL;
	struct rules_engine *e;
	struct series rules_s, parse_s, triv_s, save_s, by_kind[EV_KINDS], by_lines[2];
	const struct rules_fire *fires;
	const char **types;
	size_t nf, n_types, total_fires = 0, adv_fires = 0, max_windows = 0, n_saves = 0;
	size_t save_bytes_max = 0, n_kind[EV_KINDS] = {0};
	double save_bytes_sum = 0, timer_ns;
	long triv_matches = 0;
	int64_t a, b, c, t_load, t_run0, t_run;

	while ((opt = getopt(argc, argv, "n:g:s:qw:")) != -1) {
		switch (opt) {
		case 'n':
			n_events = atol(optarg);
			break;
		case 'g':
			gap_ms = atol(optarg);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'w':
			write_to = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (n_events < 1 || gap_ms < 0 || optind != argc)
		usage();

	dynbuf_init(&cmd, RULES_CMD_MAX);
	build_rules(&cmd, &n_unless);
	if (write_to) {
		FILE *f = fopen(write_to, "w");

		if (!f || fwrite(cmd.buf, 1, cmd.len, f) != cmd.len || fclose(f) != 0) {
			perror(write_to);
			return 2;
		}
		printf("rules_eval: %d rules (%d with unless), %zu bytes written to %s\n",
		       RULES_MAX, n_unless, cmd.len, write_to);
		dynbuf_free(&cmd);
		return 0;
	}
	memset(&errs, 0, sizeof(errs));
	a = now_ns();
	rc = rules_parse(cmd.buf, cmd.len, &rs, &errs, NULL);
	if (rc) {
		fprintf(stderr, "rules_eval: rules_parse: %d, %zu errors\n", rc, errs.total);
		for (size_t i = 0; i < errs.n && i < 5; i++)
			fprintf(stderr, "  at %s: %s\n", errs.e[i].at, errs.e[i].error);
		return 2;
	}
	e = rules_engine_new(-1);
	if (!e)
		die("rules_engine_new", -ENOMEM);
	rc = rules_engine_set(e, rs);
	if (rc)
		die("rules_engine_set", rc);
	t_load = now_ns() - a;

	/* The trivial matcher's table: every rule's when (and unless) event name. */
	types = calloc(2 * RULES_MAX, sizeof(*types));
	if (!types)
		die("calloc", -ENOMEM);
	n_types = 0;
	for (size_t i = 0; i < rules_engine_rules(e)->n_rules; i++) {
		const struct rule *r = &rules_engine_rules(e)->rules[i];

		types[n_types++] = r->when.event;
		if (r->has_unless)
			types[n_types++] = r->unless.event;
	}

	/* The timer's own cost (two clock_gettime), the best of 1000. */
	timer_ns = 1e9;
	for (int i = 0; i < 1000; i++) {
		a = now_ns();
		b = now_ns();
		if (b - a < timer_ns)
			timer_ns = (double)(b - a);
	}

	memset(&rules_s, 0, sizeof(rules_s));
	rules_s.v = calloc((size_t)n_events, sizeof(uint32_t));
	parse_s = triv_s = save_s = rules_s;
	parse_s.v = calloc((size_t)n_events, sizeof(uint32_t));
	triv_s.v = calloc((size_t)n_events, sizeof(uint32_t));
	save_s.v = calloc((size_t)n_events, sizeof(uint32_t));
	for (int k = 0; k < EV_KINDS; k++) {
		memset(&by_kind[k], 0, sizeof(by_kind[k]));
		by_kind[k].v = calloc((size_t)n_events, sizeof(uint32_t));
		if (!by_kind[k].v)
			die("calloc", -ENOMEM);
	}
	for (int k = 0; k < 2; k++) {
		memset(&by_lines[k], 0, sizeof(by_lines[k]));
		by_lines[k].v = calloc((size_t)n_events, sizeof(uint32_t));
		if (!by_lines[k].v)
			die("calloc", -ENOMEM);
	}
	if (!rules_s.v || !parse_s.v || !triv_s.v || !save_s.v)
		die("calloc", -ENOMEM);
	dynbuf_init(&body, 1 << 20);
	dynbuf_init(&state, RULES_STATE_MAX);
	/* the load itself leaves the state dirty: not an event's doing */
	if (rules_state_dirty(e)) {
		rc = rules_state_save(e, &state);
		if (rc)
			die("rules_state_save", rc);
	}

	t_run0 = now_ns();
	for (long i = 0; i < n_events; i++) {
		int64_t ts = T0_MS + i * gap_ms, now = ts + rint_in(0, 200), deadline;
		int lines = 0;
		enum ev_kind k = build_event(&body, i, ts, &lines);
		const char *type = ev_type[k];
		cJSON *f;
		long m = 0;

		n_kind[k]++;
		/* baseline: the parse the daemon needs to hand the fields over */
		a = now_ns();
		f = cJSON_ParseWithLength(body.buf, body.len);
		b = now_ns();
		if (!f)
			die("cJSON_Parse of an event", -EINVAL);
		/* the engine */
		rc = rules_event(e, type, ts, f, now, &fires, &nf);
		if (rc)
			die("rules_event", rc);
		total_fires += nf;
		rc = rules_advance(e, now, &fires, &nf);
		if (rc)
			die("rules_advance", rc);
		adv_fires += nf;
		deadline = rules_next_deadline(e);
		c = now_ns();
		(void)deadline;
		series_add(&rules_s, c - b);
		series_add(&by_kind[k], c - b);
		if (k == EV_SALE && (lines == 1 || lines == 10))
			series_add(&by_lines[lines == 10], c - b);
		a = b - a;
		b = now_ns();
		cJSON_Delete(f);
		c = now_ns();
		series_add(&parse_s, a + (c - b));
		/* the trivial matcher */
		a = now_ns();
		for (size_t j = 0; j < n_types; j++)
			m += !strcmp(types[j], type);
		b = now_ns();
		triv_matches += m;
		series_add(&triv_s, b - a);
		/* the state save the daemon would do in this turn */
		if (rules_state_dirty(e)) {
			dynbuf_reset(&state);
			a = now_ns();
			rc = rules_state_save(e, &state);
			b = now_ns();
			if (rc)
				die("rules_state_save", rc);
			series_add(&save_s, b - a);
			n_saves++;
			save_bytes_sum += (double)state.len;
			if (state.len > save_bytes_max)
				save_bytes_max = state.len;
		}
		if ((i & 1023) == 0) {
			size_t w = 0;
			struct rules_info info;

			for (size_t r = 0; rules_info(e, r, &info); r++)
				w += info.windows;
			if (w > max_windows)
				max_windows = w;
		}
	}
	t_run = now_ns() - t_run0;

	{
		struct stats sr = series_stats(&rules_s), sp = series_stats(&parse_s),
			     st = series_stats(&triv_s), ss = series_stats(&save_s), sk[EV_KINDS],
			     s1 = series_stats(&by_lines[0]), s10 = series_stats(&by_lines[1]);
		size_t windows_end = 0, late = 0, dropped = 0, suppressed = 0, cancelled = 0;
		struct rules_info info;

		for (int k = 0; k < EV_KINDS; k++)
			sk[k] = series_stats(&by_kind[k]);
		for (size_t r = 0; rules_info(e, r, &info); r++) {
			windows_end += info.windows;
			late += info.late;
			dropped += info.dropped;
			suppressed += info.suppressed;
			cancelled += info.cancelled;
		}
		if (!quiet) {
			printf("rules_eval: %d rules (%d with unless) in a %zu-byte rules.set, "
			       "parsed and loaded in %.2f ms\n",
			       RULES_MAX, n_unless, cmd.len, (double)t_load / 1e6);
			printf("  %ld events, one per %ld ms of event time (%.1f h): %zu sales, "
			       "%zu footfall, %zu visits; loop %.2f s wall; timer pair %.0f ns "
			       "(not "
			       "subtracted)\n",
			       n_events, gap_ms, (double)n_events * (double)gap_ms / 3.6e6,
			       n_kind[EV_SALE], n_kind[EV_FOOTFALL], n_kind[EV_VISIT],
			       (double)t_run / 1e9, timer_ns);
			print_stats("rules (event+advance+deadline)", sr);
			print_stats("  sale", sk[EV_SALE]);
			print_stats("    1-line sales", s1);
			print_stats("    10-line sales", s10);
			print_stats("  footfall", sk[EV_FOOTFALL]);
			print_stats("  visit", sk[EV_VISIT]);
			print_stats("BASELINE cJSON parse+delete", sp);
			print_stats("trivial type scan (2 strcmp/rule)", st);
			print_stats("state save when dirty", ss);
			printf("  ratio rules/parse: mean %.2f, p50 %.2f, p99 %.2f; rules/trivial "
			       "mean %.1f\n",
			       sr.mean / sp.mean, sr.p50 / sp.p50, sr.p99 / sp.p99,
			       sr.mean / st.mean);
			printf("  firings: %zu from events, %zu from windows; windows open at the "
			       "end %zu (max seen %zu), cancelled %zu, suppressed %zu, late %zu, "
			       "dropped %zu\n",
			       total_fires, adv_fires, windows_end, max_windows, cancelled,
			       suppressed, late, dropped);
			printf("  state dirty after %zu of %ld events (%.0f%%): saved %.0f bytes "
			       "on "
			       "average, %zu max\n",
			       n_saves, n_events, 100.0 * (double)n_saves / (double)n_events,
			       n_saves ? save_bytes_sum / (double)n_saves : 0.0, save_bytes_max);
			printf("  one core at the mean cost: %.0f events/s (rules alone)\n",
			       1e9 / sr.mean);
		}
		printf("RESULT rules_n=%d unless=%d events=%ld sales=%zu footfall=%zu visits=%zu "
		       "load_ms=%.3f rules_p50=%.0f rules_p99=%.0f rules_max=%.0f rules_mean=%.0f "
		       "sale_p50=%.0f sale_p99=%.0f sale_mean=%.0f ff_p50=%.0f ff_p99=%.0f "
		       "ff_mean=%.0f sale1_p50=%.0f sale10_p50=%.0f parse_p50=%.0f parse_p99=%.0f "
		       "parse_mean=%.0f triv_p50=%.0f "
		       "triv_p99=%.0f triv_mean=%.0f save_n=%zu save_p50=%.0f save_p99=%.0f "
		       "save_mean=%.0f save_bytes_avg=%.0f save_bytes_max=%zu fires=%zu "
		       "adv_fires=%zu windows_end=%zu windows_max=%zu cancelled=%zu suppressed=%zu "
		       "late=%zu dropped=%zu timer_ns=%.0f triv_matches=%ld\n",
		       RULES_MAX, n_unless, n_events, n_kind[EV_SALE], n_kind[EV_FOOTFALL],
		       n_kind[EV_VISIT], (double)t_load / 1e6, sr.p50, sr.p99, sr.max, sr.mean,
		       sk[EV_SALE].p50, sk[EV_SALE].p99, sk[EV_SALE].mean, sk[EV_FOOTFALL].p50,
		       sk[EV_FOOTFALL].p99, sk[EV_FOOTFALL].mean, s1.p50, s10.p50, sp.p50, sp.p99,
		       sp.mean, st.p50, st.p99, st.mean, n_saves, ss.p50, ss.p99, ss.mean,
		       n_saves ? save_bytes_sum / (double)n_saves : 0.0, save_bytes_max,
		       total_fires, adv_fires, windows_end, max_windows, cancelled, suppressed,
		       late, dropped, timer_ns, triv_matches);
	}
	rules_engine_free(e);
	dynbuf_free(&cmd);
	dynbuf_free(&body);
	dynbuf_free(&state);
	free(types);
	free(rules_s.v);
	free(parse_s.v);
	free(triv_s.v);
	free(save_s.v);
	for (int k = 0; k < EV_KINDS; k++)
		free(by_kind[k].v);
	free(by_lines[0].v);
	free(by_lines[1].v);
	return 0;
}
