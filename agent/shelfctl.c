/*
 * shelfctl: the field technician's CLI. Talks to shelfd over its control
 * socket: sends one JSON request line, reads one JSON reply, prints it as a
 * table (default) or as the JSON document (--json).
 *
 * Exit codes: 0 ok, 1 the command failed, 2 usage error, 3 daemon unreachable.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "image.h"
#include "json.h"
#include "render.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/shelfd/ctl.sock"
#define REPLY_MAX (2 * 1024 * 1024)
#define TIMEOUT_MS 10000

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static void usage(FILE *f)
{
	fprintf(f, "usage: shelfctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
		   "commands:\n"
		   "  status            health at a glance: HQ link, outbox, devices\n"
		   "  devices           per device: state, lines, errors, last error\n"
		   "  outbox            events waiting for HQ, by type; drops\n"
		   "  events [-n N]     the last N events recorded (default 20, max 256)\n"
		   "  prices get SKU    the current price of one SKU (and where it came from)\n"
		   "  prices list [AFTER] [-n N]\n"
		   "                    live prices in SKU order, N at a time (default 50)\n"
		   "  labels list [--state queued|sent|delivered|failed]\n"
		   "  labels show LABEL     one label: binding, state, battery, signal, last seen\n"
		   "  labels bind LABEL SKU | labels unbind LABEL\n"
		   "  labels flash LABEL    blink the label's LED to find it on the shelf\n"
		   "  labels page LABEL N   show page N (0 = the main image)\n"
		   "  labels refresh LABEL|--all   send the content again\n"
		   "  labels preview LABEL --png FILE   what the label should show now\n"
		   "  integrity         till prices that differ from shelf labels; stale labels\n"
		   "  sensors           per sniffer and counter: state, rates, rejects, alerts\n"
		   "  visits [--open]   visit counts by class (no pseudonyms are shown)\n"
		   "  kpi [--today|--interval]\n"
		   "                    entries, visitors, capture rate, conversion, dwell\n"
		   "  screens           per guide screen: state, last success/error, latency\n"
		   "  recs              the recommendation set in use, the last push\n"
		   "  rules             local rules: trigger, action, firings, open windows\n"
		   "  markdown          perishable markdowns: lots, current price, next step\n"
		   "options:\n"
		   "  -s SOCKET         control socket (default " DEFAULT_SOCKET
		   ", or $SHELFCTL_SOCKET)\n"
		   "  --json            print the reply as one JSON document\n");
}

/* Send @req, read the whole reply into a malloc'd string. Returns NULL on error. */
static char *transact(const char *path, const char *req, int *exit_code)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct dynbuf b;
	size_t len = strlen(req);
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "shelfctl: socket path too long: %s\n", path);
		*exit_code = EXIT_USAGE;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "shelfctl: cannot reach shelfd at %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		*exit_code = EXIT_UNREACHABLE;
		return NULL;
	}
	if (write(fd, req, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		fprintf(stderr, "shelfctl: sending to %s: %s\n", path, strerror(errno));
		close(fd);
		*exit_code = EXIT_UNREACHABLE;
		return NULL;
	}
	dynbuf_init(&b, REPLY_MAX);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[8192];
		ssize_t n;
		int pr = poll(&p, 1, TIMEOUT_MS);

		if (pr == 0) {
			fprintf(stderr, "shelfctl: no reply from shelfd within %d s\n",
				TIMEOUT_MS / 1000);
			goto err;
		}
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "shelfctl: reading reply: %s\n", strerror(errno));
			goto err;
		}
		if (n == 0)
			break;
		if (dynbuf_add(&b, buf, (size_t)n) < 0) {
			fprintf(stderr, "shelfctl: reply over %d bytes\n", REPLY_MAX);
			goto err;
		}
	}
	close(fd);
	if (!b.len) {
		fprintf(stderr, "shelfctl: shelfd closed the connection without a reply\n");
		dynbuf_free(&b);
		*exit_code = EXIT_UNREACHABLE;
		return NULL;
	}
	return b.buf; /* ownership passes to the caller */
err:
	close(fd);
	dynbuf_free(&b);
	*exit_code = EXIT_UNREACHABLE;
	return NULL;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v))
		return v->valuestring;
	return "-";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool is_null(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return !v || cJSON_IsNull(v);
}

static void fmt_age(double s, char *buf, size_t sz)
{
	long v = (long)s;

	if (v < 120)
		snprintf(buf, sz, "%lds", v);
	else if (v < 7200)
		snprintf(buf, sz, "%ldm%02lds", v / 60, v % 60);
	else if (v < 172800)
		snprintf(buf, sz, "%ldh%02ldm", v / 3600, (v % 3600) / 60);
	else
		snprintf(buf, sz, "%ldd%02ldh", v / 86400, (v % 86400) / 3600);
}

static void print_status(const cJSON *d)
{
	const cJSON *hq = cJSON_GetObjectItemCaseSensitive(d, "hq");
	const cJSON *ob = cJSON_GetObjectItemCaseSensitive(d, "outbox");
	const cJSON *dv = cJSON_GetObjectItemCaseSensitive(d, "devices");
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(d, "prices");
	const cJSON *lb = cJSON_GetObjectItemCaseSensitive(d, "labels");
	char up[32], age[32];
	bool healthy = !strcmp(str(hq, "state"), "connected") && num(dv, "down") == 0;

	fmt_age(num(d, "uptime_s"), up, sizeof(up));
	printf("store     %s   shelfd %s   pid %.0f   up %s   %s\n", str(d, "store"),
	       str(d, "version"), num(d, "pid"), up, healthy ? "HEALTHY" : "ATTENTION");
	printf("hq        %-12s since %s   %s:%.0f%s\n", str(hq, "state"), str(hq, "since"),
	       str(hq, "host"), num(hq, "port"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hq, "tls")) ? " (tls)" : "");
	if (!is_null(hq, "last_error"))
		printf("          last error: %s\n", str(hq, "last_error"));
	printf("          published %.0f   acked %.0f   in flight %.0f msgs\n",
	       num(hq, "published"), num(hq, "acked"), num(hq, "inflight"));
	if (is_null(ob, "oldest_age_s"))
		snprintf(age, sizeof(age), "-");
	else
		fmt_age(num(ob, "oldest_age_s"), age, sizeof(age));
	printf("outbox    %.0f events   %.0f bytes   oldest unsent %s   dropped %.0f\n",
	       num(ob, "depth"), num(ob, "bytes"), age, num(ob, "dropped"));
	printf("devices   %.0f total   %.0f ok   %.0f down\n", num(dv, "total"), num(dv, "ok"),
	       num(dv, "down"));
	if (pr)
		printf("prices    %.0f SKUs   %.0f scheduled   last batch %s (%s)\n",
		       num(pr, "skus"), num(pr, "scheduled"), str(pr, "last_id"),
		       str(pr, "last_status"));
	if (lb && num(lb, "total") > 0)
		printf("labels    %.0f (%.0f bound)   %.0f updated   %.0f in progress   %.0f "
		       "failed   "
		       "%.0f low battery   %.0f not seen\n",
		       num(lb, "total"), num(lb, "bound"), num(lb, "delivered"),
		       num(lb, "queued") + num(lb, "sent"), num(lb, "failed"),
		       num(lb, "low_battery"), num(lb, "not_seen"));
}

static void print_devices(const cJSON *d)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(d, "devices");
	const cJSON *o;

	printf("%-16s %-7s %-6s %10s %8s  %-24s %s\n", "NAME", "KIND", "STATE", "LINES_OK",
	       "ERRORS", "LAST_SEEN", "LAST_ERROR");
	cJSON_ArrayForEach(o, arr)
	{
		printf("%-16s %-7s %-6s %10.0f %8.0f  %-24s %s\n", str(o, "name"), str(o, "kind"),
		       str(o, "state"), num(o, "lines_ok"), num(o, "errors"), str(o, "last_seen"),
		       str(o, "last_error"));
	}
	printf("%.0f device(s)\n", num(d, "count"));
}

static void print_outbox(const cJSON *d)
{
	const cJSON *o, *drops = cJSON_GetObjectItemCaseSensitive(d, "dropped");
	char age[32];

	if (is_null(d, "oldest_age_s"))
		snprintf(age, sizeof(age), "-");
	else
		fmt_age(num(d, "oldest_age_s"), age, sizeof(age));
	printf("depth %.0f events   %.0f / %.0f bytes   oldest unsent %s   in flight %.0f   "
	       "sync %s   last seq %.0f\n",
	       num(d, "depth"), num(d, "bytes"), num(d, "max_bytes"), age, num(d, "inflight"),
	       str(d, "sync"), num(d, "last_seq"));
	printf("%-12s %10s %20s\n", "TYPE", "ROWS", "MIN_SEQ");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "types"))
	{
		printf("%-12s %10.0f %20.0f\n", str(o, "type"), num(o, "rows"), num(o, "min_seq"));
	}
	if (cJSON_GetArraySize(drops) > 0) {
		printf("dropped by the quota:");
		cJSON_ArrayForEach(o, drops)
		{
			printf(" %s=%.0f", o->string, o->valuedouble);
		}
		printf("\n");
	} else {
		printf("dropped by the quota: none\n");
	}
}

static void print_price_row(const cJSON *o)
{
	const cJSON *reg = cJSON_GetObjectItemCaseSensitive(o, "regular");
	char regbuf[32] = "-";

	if (cJSON_IsNumber(reg))
		snprintf(regbuf, sizeof(regbuf), "%.0f", reg->valuedouble);

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "removed")))
		printf("%-20s %12s %-4s %12s  %-30.30s %s\n", str(o, "sku"), "removed", "", "",
		       str(o, "name"), str(o, "batch"));
	else
		printf("%-20s %12.0f %-4s %12s  %-30.30s %s\n", str(o, "sku"), num(o, "price"),
		       str(o, "currency"), regbuf, str(o, "name"), str(o, "batch"));
}

static void print_prices(const cJSON *d)
{
	const cJSON *one = cJSON_GetObjectItemCaseSensitive(d, "price"), *o;

	printf("%-20s %12s %-4s %12s  %-30s %s\n", "SKU", "PRICE", "CUR", "REGULAR", "NAME",
	       "BATCH");
	if (one) {
		print_price_row(one);
		printf("issued_at %s   updated %s   promo_until %s   unit %s\n",
		       str(one, "issued_at"), str(one, "updated"), str(one, "promo_until"),
		       str(one, "unit"));
		return;
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "prices"))
	{
		print_price_row(o);
	}
	printf("%.0f of %.0f price(s)\n", num(d, "count"), num(d, "total"));
}

static void print_events(const cJSON *d)
{
	const cJSON *o;

	printf("%-18s %-26s %-7s %-10s %-9s %s\n", "SEQ", "TS", "TYPE", "SOURCE", "DELIVERED",
	       "SUMMARY");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "events"))
	{
		printf("%-18.0f %-26s %-7s %-10s %-9s %s\n", num(o, "seq"), str(o, "ts"),
		       str(o, "type"), str(o, "source"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "delivered")) ? "yes"
										      : "no",
		       str(o, "summary"));
	}
	printf("%.0f event(s)\n", num(d, "count"));
}

/* labels list | show L | bind L SKU | unbind L | flash L | refresh L|--all | preview L --png F */
static bool valid_labels_args(const char **args, size_t n, const char *state, const char *png)
{
	if (n == 0)
		return false;
	if (!strcmp(args[0], "list"))
		return n == 1 && !png;
	if (state)
		return false;
	if (!strcmp(args[0], "preview"))
		return n == 2 && png;
	if (png)
		return false;
	if (!strcmp(args[0], "bind") || !strcmp(args[0], "page"))
		return n == 3;
	return n == 2 && (!strcmp(args[0], "show") || !strcmp(args[0], "unbind") ||
			  !strcmp(args[0], "flash") || !strcmp(args[0], "refresh"));
}

/*
 * `labels preview`: shelfd sends the content and its hash; we draw it with
 * the same renderer and check that we got the same pixels (same hash).
 */
static int write_preview(const cJSON *d, const char *path)
{
	static uint8_t buf[ESL_IMG_MAX_BYTES];
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "content");
	struct label_content lc = {0};
	struct esl_image img;
	char hash[17];
	int64_t v;
	int rc;

	lc.sku = str(c, "sku");
	lc.name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
	lc.currency = str(c, "currency");
	lc.unit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "unit"));
	lc.not_for_sale = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "not_for_sale"));
	lc.price = json_get_int(c, "price", &v) == 0 ? v : 0;
	lc.regular = json_get_int(c, "regular", &v) == 0 ? v : -1;
	lc.promo_until_ms = json_get_int(c, "promo_until_ms", &v) == 0 ? v : 0;
	rc = render_label((uint8_t)num(d, "type_code"), &lc, &img, buf, sizeof(buf));
	if (rc < 0) {
		fprintf(stderr, "shelfctl: cannot draw the label: %s\n", strerror(-rc));
		return EXIT_FAIL;
	}
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)esl_img_hash(&img));
	if (strcmp(hash, str(d, "hash")))
		fprintf(stderr,
			"shelfctl: warning: this shelfctl draws %s, shelfd %s "
			"(different versions?)\n",
			hash, str(d, "hash"));
	rc = image_write_png(&img, path);
	if (rc < 0) {
		fprintf(stderr, "shelfctl: %s: %s\n", path, strerror(-rc));
		return EXIT_FAIL;
	}
	printf("%s: %ux%u, content %s\n", path, img.width, img.height, hash);
	return EXIT_OK;
}

static void print_label_row(const cJSON *o)
{
	char shows[32] = "-";

	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "shows_price")))
		snprintf(shows, sizeof(shows), "%.0f", num(o, "shows_price"));
	printf("%-9s %-20s %-16s %-10s %10s %6.0f %5.0f  %-24s %s\n", str(o, "label"),
	       str(o, "sku"), str(o, "type"), str(o, "state"), shows, num(o, "battery_mv"),
	       num(o, "rssi"), str(o, "last_seen"), str(o, "reason"));
}

static void print_labels(const cJSON *d)
{
	const cJSON *one = cJSON_GetObjectItemCaseSensitive(d, "label"), *o;

	if (!one && !cJSON_GetObjectItemCaseSensitive(d, "labels")) {
		printf("ok\n");
		return;
	}
	printf("%-9s %-20s %-16s %-10s %10s %6s %5s  %-24s %s\n", "LABEL", "SKU", "TYPE", "STATE",
	       "SHOWS", "MV", "RSSI", "LAST_SEEN", "REASON");
	if (one) {
		print_label_row(one);
		printf("content %s (wanted %s), %.0f attempt(s), %.0f superseded, %.0f C, lqi "
		       "%.0f\n",
		       str(one, "shown_hash"), str(one, "job_hash"), num(one, "attempts"),
		       num(one, "superseded"), num(one, "temp_c"), num(one, "lqi"));
		return;
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "labels"))
	{
		print_label_row(o);
	}
	printf("%.0f label(s)\n", num(d, "count"));
}

static void print_integrity(const cJSON *d)
{
	const cJSON *o;

	printf("price mismatches at the till:\n");
	printf("  %-20s %10s %10s %-11s %-10s %s\n", "SKU", "TILL", "LABEL", "KIND", "TILL_ID",
	       "RECEIPT");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "mismatches"))
	{
		printf("  %-20s %10.0f %10.0f %-11s %-10s %s\n", str(o, "sku"),
		       num(o, "till_price"), num(o, "label_price"), str(o, "kind"), str(o, "till"),
		       str(o, "receipt"));
	}
	printf("labels not showing their current price:\n");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "stale_labels"))
	{
		printf("  %-9s %-20s %-10s %s\n", str(o, "label"), str(o, "sku"), str(o, "state"),
		       str(o, "reason"));
	}
}

static void print_sensors(const cJSON *d)
{
	const cJSON *o, *v;

	printf("%-12s %-6s %-10s %-5s %s\n", "NAME", "KIND", "ZONE", "STATE", "FIGURES");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "sensors"))
	{
		printf("%-12s %-6s %-10s %-5s ", str(o, "name"), str(o, "kind"), str(o, "zone"),
		       str(o, "state"));
		if (!strcmp(str(o, "kind"), "probe")) {
			printf("%.0f sightings (%.2f/s, %.0f randomized) of %.0f lines; last %s\n",
			       num(o, "sightings"), num(o, "rate_1m"), num(o, "randomized"),
			       num(o, "lines"), str(o, "last_sighting"));
			printf("%37s rejects:", "");
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "rejects"))
			{
				printf(" %s %.0f", v->string, v->valuedouble);
			}
			printf("\n");
		} else {
			printf("in %.0f  out %.0f  u-turns %.0f  glitches %.0f  ambiguous %.0f  "
			       "(%.2f edges/s; last edge %s)\n",
			       num(o, "in"), num(o, "out"), num(o, "uturns"), num(o, "glitches"),
			       num(o, "ambiguous"), num(o, "edges_1m"), str(o, "last_edge"));
			char drift[24] = "-";

			if (!is_null(o, "closing_drift"))
				snprintf(drift, sizeof(drift), "%+.0f", num(o, "closing_drift"));
			printf("%37s today in %.0f out %.0f; closing drift %s; alerts:", "",
			       num(o, "today_in"), num(o, "today_out"), drift);
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "alerts"))
			{
				printf(" %s", v->valuestring);
			}
			if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "alerts")))
				printf(" none");
			printf("\n");
		}
		if (!is_null(o, "last_error"))
			printf("%37s last error: %s\n", "", str(o, "last_error"));
	}
	printf("sensing clock %s   restamped %.0f\n", str(d, "clock"), num(d, "restamped"));
}

static void print_visits(const cJSON *d)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(d, "open");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "closed");

	printf("open now  %.0f devices (%.0f inside): %.0f passers-by, %.0f visitors, %.0f "
	       "engaged, %.0f staff\n",
	       num(o, "sessions"), num(o, "inside"), num(o, "passer_by"), num(o, "visitor"),
	       num(o, "engaged"), num(o, "staff"));
	if (c)
		printf("closed    %.0f passers-by, %.0f visitors, %.0f engaged, %.0f staff; %.0f "
		       "repeat\n"
		       "          %.0f sightings, %.0f late, %.0f dropped (table full), %.0f "
		       "lone sightings evicted, %.0f across midnight\n",
		       num(c, "passer_by"), num(c, "visitor"), num(c, "engaged"), num(c, "staff"),
		       num(c, "repeat"), num(d, "sightings"), num(d, "late"), num(d, "table_full"),
		       num(d, "evicted"), num(d, "midnight_joins"));
}

/* A ratio as a percentage, or "-" (no value). */
static const char *pct(const cJSON *o, const char *key, char *buf, size_t sz)
{
	if (is_null(o, key))
		return "-";
	snprintf(buf, sz, "%.1f%%", num(o, key) * 100);
	return buf;
}

static void print_figures(const char *title, const cJSON *o)
{
	char a[16], b[16], c[16];

	if (!o || cJSON_IsNull(o))
		return;
	printf("%s  %s .. %s\n", title, str(o, "from"), str(o, "to"));
	printf("  entries %.0f   exits %.0f   receipts %.0f   conversion %s\n", num(o, "entries"),
	       num(o, "exits"), num(o, "receipts"), pct(o, "conversion", a, sizeof(a)));
	printf("  visitors %.0f (engaged %.0f)   passers-by %.0f   capture rate %s   staff %.0f\n",
	       num(o, "visitors"), num(o, "engaged"), num(o, "passers_by"),
	       pct(o, "capture_rate", b, sizeof(b)), num(o, "staff"));
	if (is_null(o, "dwell_avg_s"))
		printf("  dwell -");
	else
		printf("  dwell avg %.0f s  median %.0f s", num(o, "dwell_avg_s"),
		       num(o, "dwell_median_s"));
	printf("   repeat %.0f (%s of known devices)   randomized %.0f\n", num(o, "repeat"),
	       pct(o, "repeat_share", c, sizeof(c)), num(o, "randomized"));
}

static void print_kpi(const cJSON *d)
{
	print_figures("today (so far)", cJSON_GetObjectItemCaseSensitive(d, "today"));
	print_figures("this interval (a visit counts once it has ended: silence_min after its last "
		      "sighting)",
		      cJSON_GetObjectItemCaseSensitive(d, "interval"));
	print_figures("last interval", cJSON_GetObjectItemCaseSensitive(d, "last_interval"));
	print_figures("last day", cJSON_GetObjectItemCaseSensitive(d, "yesterday"));
}

static void print_screens(const cJSON *d)
{
	const cJSON *o;

	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "screens"))) {
		printf("no guide screens configured (devices of kind \"screen\")\n");
		return;
	}
	printf("%-16s %-10s %-8s %-9s %-8s %-24s %s\n", "SCREEN", "ZONE", "STATE", "LATENCY",
	       "PUSHES", "LAST SUCCESS", "LAST ERROR");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "screens"))
	{
		char lat[24] = "-";

		if (!is_null(o, "latency_ms"))
			snprintf(lat, sizeof(lat), "%.0f ms", num(o, "latency_ms"));
		printf("%-16s %-10s %-8s %-9s %-8.0f %-24s %s\n", str(o, "name"), str(o, "zone"),
		       str(o, "state"), lat, num(o, "pushes"),
		       is_null(o, "last_success") ? "never" : str(o, "last_success"),
		       str(o, "last_error")[0] ? str(o, "last_error") : "-");
		if (num(o, "retry_in_ms") > 0)
			printf("%16s retry in %.1f s (%.0f failures in a row)\n", "",
			       num(o, "retry_in_ms") / 1000, num(o, "failures"));
	}
}

static void print_recs(const cJSON *d)
{
	const cJSON *z;

	if (is_null(d, "id")) {
		printf("no recommendation set from HQ yet\n");
		return;
	}
	printf("set %s version %.0f issued %s: %.0f rules (%.0f usable: lift > 1)\n", str(d, "id"),
	       num(d, "version"), str(d, "issued_at"), num(d, "rules"), num(d, "usable"));
	printf("zones:");
	cJSON_ArrayForEach(z, cJSON_GetObjectItemCaseSensitive(d, "zones"))
	{
		printf(" %s", z->valuestring);
	}
	printf("%s\n",
	       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "zones")) ? "" : " none");
	if (is_null(d, "last"))
		printf("no recommendation pushed since shelfd started\n");
	else
		printf("%.0f pushes; last for %s receipt %s at %s\n", num(d, "pushes"),
		       str(cJSON_GetObjectItemCaseSensitive(d, "last"), "till"),
		       str(cJSON_GetObjectItemCaseSensitive(d, "last"), "receipt"),
		       str(cJSON_GetObjectItemCaseSensitive(d, "last"), "at"));
}

static void print_rules(const cJSON *d)
{
	const cJSON *o;

	if (is_null(d, "version")) {
		printf("no rules from HQ yet\n");
		return;
	}
	printf("rules.set %s version %.0f\n", str(d, "id"), num(d, "version"));
	printf("%-24s %-7s %-6s %-24s %-7s %s\n", "RULE", "ACTION", "FIRED", "LAST FIRED",
	       "WINDOWS", "WHEN");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "rules"))
	{
		printf("%-24s %-7s %-6.0f %-24s %-7.0f %s\n", str(o, "name"), str(o, "action"),
		       num(o, "fired"), is_null(o, "last_fired") ? "never" : str(o, "last_fired"),
		       num(o, "windows"), str(o, "when"));
		if (!is_null(o, "unless"))
			printf("%72s unless %s within %.0f s\n", "", str(o, "unless"),
			       num(o, "within_ms") / 1000);
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "temp_prices"))
	{
		printf("temporary price %s: %.0f (was %.0f) until %s, rule %s\n", str(o, "sku"),
		       num(o, "price"), num(o, "previous"), str(o, "until"), str(o, "rule"));
	}
}

static void print_markdown(const cJSON *d)
{
	const cJSON *o, *l, *nx;

	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "skus"))) {
		printf("no markdown from HQ\n");
		return;
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "skus"))
	{
		printf("%s: price %.0f (regular %.0f, floor %.0f), changes today %.0f of %.0f\n",
		       str(o, "sku"), num(o, "price"), num(o, "regular"), num(o, "floor"),
		       num(o, "changes_today"), num(o, "max_changes_per_day"));
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(o, "lots"))
		{
			printf("  lot %-12s expires %s  sold %.0f of %.0f%s\n", str(l, "lot"),
			       str(l, "expires_at"), num(l, "sold"), num(l, "quantity"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "live"))
				       ? ""
				       : "  (ended)");
		}
		nx = cJSON_GetObjectItemCaseSensitive(o, "next");
		if (cJSON_IsObject(nx))
			printf("  next: %s to %.0f (%.0f%%) at %s%s\n", str(nx, "kind"),
			       num(nx, "price"), num(nx, "percent"), str(nx, "at"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(nx, "delayed"))
				       ? " (the daily limit moved it)"
				       : "");
		else
			printf("  next: nothing planned\n");
	}
}

static bool valid_sensing_args(const char *cmd, const char **args, size_t n)
{
	if (!strcmp(cmd, "sensors"))
		return n == 0;
	if (!strcmp(cmd, "visits"))
		return n == 0 || (n == 1 && !strcmp(args[0], "--open"));
	return n == 0 ||
	       (n == 1 && (!strcmp(args[0], "--today") || !strcmp(args[0], "--interval")));
}

/* prices get SKU | prices list [AFTER] */
static bool valid_prices_args(const char **args, size_t n)
{
	if (n == 2 && !strcmp(args[0], "get"))
		return true;
	return (n == 1 || n == 2) && !strcmp(args[0], "list");
}

int main(int argc, char **argv)
{
	const char *sock = getenv("SHELFCTL_SOCKET");
	const char *cmd = NULL;
	const char *args[4];
	const char *state = NULL, *png = NULL;
	size_t nargs = 0;
	bool json = false;
	long long n = 0;
	int exit_code = EXIT_OK, i;
	cJSON *req, *reply, *data;
	char *reqs, *text;

	if (!sock || !sock[0])
		sock = DEFAULT_SOCKET;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "shelfctl: unknown option %s\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i++];
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			if (parse_ll(argv[++i], 1, 1000, &n) < 0) {
				fprintf(stderr,
					"shelfctl: -n takes a number from 1 to 1000, got \"%s\"\n",
					argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
			state = argv[++i];
		} else if (!strcmp(argv[i], "--png") && i + 1 < argc) {
			png = argv[++i];
		} else if ((argv[i][0] != '-' || !strcmp(argv[i], "--all") ||
			    !strcmp(argv[i], "--open") || !strcmp(argv[i], "--today") ||
			    !strcmp(argv[i], "--interval")) &&
			   nargs < ARRAY_SIZE(args)) {
			args[nargs++] = argv[i];
		} else {
			fprintf(stderr, "shelfctl: unexpected argument \"%s\" for %s\n", argv[i],
				cmd);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "devices") && strcmp(cmd, "outbox") &&
	    strcmp(cmd, "events") && strcmp(cmd, "prices") && strcmp(cmd, "labels") &&
	    strcmp(cmd, "integrity") && strcmp(cmd, "sensors") && strcmp(cmd, "visits") &&
	    strcmp(cmd, "kpi") && strcmp(cmd, "screens") && strcmp(cmd, "recs") &&
	    strcmp(cmd, "rules") && strcmp(cmd, "markdown")) {
		fprintf(stderr, "shelfctl: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "sensors") || !strcmp(cmd, "visits") || !strcmp(cmd, "kpi")) {
		if (!valid_sensing_args(cmd, args, nargs) || n || state || png) {
			fprintf(stderr, "shelfctl: wrong arguments for %s\n", cmd);
			usage(stderr);
			return EXIT_USAGE;
		}
	} else if (!strcmp(cmd, "labels") ? !valid_labels_args(args, nargs, state, png)
		   : strcmp(cmd, "prices")
			   ? nargs > 0 || (n && strcmp(cmd, "events")) || state || png
			   : !valid_prices_args(args, nargs) || state || png) {
		fprintf(stderr, "shelfctl: wrong arguments for %s\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", cmd);
	if (n)
		cJSON_AddNumberToObject(req, "n", (double)n);
	if (state)
		cJSON_AddStringToObject(req, "state", state);
	if (nargs) {
		cJSON *a = cJSON_AddArrayToObject(req, "args");

		for (size_t k = 0; k < nargs; k++)
			cJSON_AddItemToArray(a, cJSON_CreateString(args[k]));
	}
	reqs = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!reqs)
		return EXIT_FAIL;
	text = transact(sock, reqs, &exit_code);
	free(reqs);
	if (!text)
		return exit_code;
	reply = cJSON_Parse(text);
	free(text);
	if (!reply) {
		fprintf(stderr, "shelfctl: shelfd sent a reply that is not JSON\n");
		return EXIT_FAIL;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
		fprintf(stderr, "shelfctl: %s: %s\n", cmd, str(reply, "error"));
		cJSON_Delete(reply);
		return EXIT_FAIL;
	}
	data = cJSON_GetObjectItemCaseSensitive(reply, "data");
	if (png) {
		exit_code = write_preview(data, png);
	} else if (json) {
		char *out;

		json_ints_to_raw(data);
		out = cJSON_Print(data);

		if (out)
			puts(out);
		free(out);
	} else if (!strcmp(cmd, "status")) {
		print_status(data);
	} else if (!strcmp(cmd, "devices")) {
		print_devices(data);
	} else if (!strcmp(cmd, "outbox")) {
		print_outbox(data);
	} else if (!strcmp(cmd, "prices")) {
		print_prices(data);
	} else if (!strcmp(cmd, "labels")) {
		print_labels(data);
	} else if (!strcmp(cmd, "integrity")) {
		print_integrity(data);
	} else if (!strcmp(cmd, "sensors")) {
		print_sensors(data);
	} else if (!strcmp(cmd, "visits")) {
		print_visits(data);
	} else if (!strcmp(cmd, "kpi")) {
		print_kpi(data);
	} else if (!strcmp(cmd, "screens")) {
		print_screens(data);
	} else if (!strcmp(cmd, "recs")) {
		print_recs(data);
	} else if (!strcmp(cmd, "rules")) {
		print_rules(data);
	} else if (!strcmp(cmd, "markdown")) {
		print_markdown(data);
	} else {
		print_events(data);
	}
	cJSON_Delete(reply);
	return EXIT_OK;
}
