/*
 * esl-emu: the ESL base-station emulator. The real station logic (bs_core,
 * the same code as the Cortex-M firmware) on a pseudo-terminal, with a
 * simulated radio and labels (sim_radio) and a control socket (ctl).
 *
 * The pty has no baud rate, so the emulator paces itself: it never takes
 * bytes from the gateway, nor gives bytes to it, faster than baud/10 bytes/s
 * (token buckets refilled from the monotonic clock, bursts capped at 2 ms of
 * line time), which is what a real UART at that rate would do.
 *
 * Usage: see usage() below and firmware/README.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include "bs_core.h"
#include "ctl.h"
#include "image.h"
#include "sim_radio.h"
#include "tty.h"

#define TX_CAP (64u * 1024u)

struct emu {
	struct bs bs;
	struct sim *sim;
	struct ctl ctl;
	int master;
	int keep_slave;
	char slave[128];
	const char *link_path;
	unsigned baud;
	double bps; /* bytes per second each way */
	double burst;
	double rx_tokens, tx_tokens;
	unsigned long long t0_us, last_us;
	uint8_t tx[TX_CAP]; /* bytes for the gateway, paced out */
	size_t tx_n;
	uint32_t boot_id;
	uint32_t resets;
	uint64_t rx_total, tx_total, garbage_sent, tx_dropped, tx_lost;
	uint64_t rng;
	bool quit;
	bool verbose;
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static uint32_t now_ms(const struct emu *e)
{
	return (uint32_t)((tty_now_us() - e->t0_us) / 1000);
}

static uint32_t rnd32(struct emu *e)
{
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return (uint32_t)((e->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* The station's UART transmit path: whole frames into the paced buffer. */
static int emu_write(void *arg, const uint8_t *p, size_t n)
{
	struct emu *e = arg;

	if (n > TX_CAP - e->tx_n) {
		e->tx_dropped += n;
		return -1;
	}
	memcpy(e->tx + e->tx_n, p, n);
	e->tx_n += n;
	return 0;
}

static uint32_t new_boot_id(struct emu *e)
{
	uint32_t id = 0;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = rnd32(e) ^ (uint32_t)tty_now_us();
	return id ? id : 1;
}

/* Power-on (or simulated reboot): RAM state gone, new boot_id, BOOT frame. */
static void station_boot(struct emu *e)
{
	struct bs_config c = {.write = emu_write,
			      .write_arg = e,
			      .radio = &sim_radio_ops,
			      .radio_arg = e->sim,
			      .boot_id = new_boot_id(e),
			      .byte_us = (uint16_t)(10000000u / e->baud),
			      .caps = ESL_CAP_PACKBITS | ESL_CAP_BWR | ESL_CAP_FLASH |
				      ESL_CAP_PAGE | ESL_CAP_LABELS_REQ | ESL_CAP_RESUME};
	uint32_t now = now_ms(e);

	e->boot_id = c.boot_id;
	e->tx_n = 0; /* whatever the UART was sending is cut off */
	bs_init(&e->bs, &c, now);
	sim_reset(e->sim, &e->bs, now);
	if (e->verbose)
		fprintf(stderr, "esl-emu: boot, boot_id %08" PRIX32 "\n", e->boot_id);
}

static bool parse_id(const char *s, uint32_t *id)
{
	char *end;
	unsigned long v;

	if (!s || !*s || strlen(s) > 8)
		return false;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || *end || v > 0xFFFFFFFFul)
		return false;
	*id = (uint32_t)v;
	return true;
}

static void cmd_stats(struct emu *e, char *out, size_t cap)
{
	const struct esl_link_stats *l = &e->bs.link.st;
	const struct esl_dec_stats *d = &e->bs.link.dec.st;
	const struct bs_stats *b = &e->bs.st;
	const struct sim_stats *s = sim_stats(e->sim);

	snprintf(out, cap,
		 "{\"ok\":true,\"boot_id\":\"%08" PRIX32 "\",\"resets\":%" PRIu32
		 ",\"uptime_ms\":%" PRIu32 ",\"baud\":%u,\"labels\":%zu,\"known_labels\":%u,"
		 "\"rx_bytes\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"tx_pending\":%zu,"
		 "\"tx_dropped\":%" PRIu64 ",\"tx_lost\":%" PRIu64 ",\"garbage_sent\":%" PRIu64 ","
		 "\"frames_rx\":%" PRIu32 ",\"garbage\":%" PRIu32 ",\"hdr_err\":%" PRIu32
		 ",\"crc_err\":%" PRIu32 ",\"oversize\":%" PRIu32 ","
		 "\"frames_tx\":%" PRIu32 ",\"retransmits\":%" PRIu32 ",\"rx_dup\":%" PRIu32
		 ",\"rx_ooo\":%" PRIu32 ",\"naks_tx\":%" PRIu32 ",\"naks_rx\":%" PRIu32
		 ",\"link_failures\":%" PRIu32 ",\"peer_sessions\":%" PRIu32 ","
		 "\"hellos\":%" PRIu32 ",\"images_begun\":%" PRIu32 ",\"images_resumed\":%" PRIu32
		 ",\"images_complete\":%" PRIu32 ",\"delivered\":%" PRIu32 ",\"failed\":%" PRIu32
		 ",\"busy\":%" PRIu32 ",\"chunks\":%" PRIu32 ",\"chunk_errors\":%" PRIu32
		 ",\"evicted\":%" PRIu32 ",\"checkins\":%" PRIu32 ",\"checkins_dropped\":%" PRIu32
		 ",\"bad_frames\":%" PRIu32 ",\"xfers_active\":%u,"
		 "\"air_tx\":%" PRIu32 ",\"air_lost\":%" PRIu32 ",\"air_bytes\":%" PRIu64
		 ",\"radio_pending\":%u,\"loss\":%g}",
		 e->boot_id, e->resets, now_ms(e), e->baud, sim_label_count(e->sim), e->bs.nlabels,
		 e->rx_total, e->tx_total, e->tx_n, e->tx_dropped, e->tx_lost, e->garbage_sent,
		 d->frames, d->garbage, d->hdr_err, d->crc_err, d->oversize, l->tx_frames,
		 l->retransmits, l->rx_dup, l->rx_ooo, l->tx_naks, l->rx_naks, b->link_failures,
		 l->peer_sessions, b->hellos, b->images_begun, b->images_resumed,
		 b->images_complete, b->delivered, b->failed, b->busy, b->chunks, b->chunk_errors,
		 b->evicted, b->checkins, b->checkins_dropped, b->bad_frames,
		 bs_xfers_active(&e->bs), s->air_tx, s->air_lost, s->air_bytes, sim_pending(e->sim),
		 sim_loss(e->sim));
}

static void cmd_label(struct emu *e, const char *arg, char *out, size_t cap)
{
	uint32_t id;
	struct sim_label *l;

	if (!parse_id(arg, &id) || !(l = sim_label(e->sim, id))) {
		snprintf(out, cap, "{\"ok\":false,\"error\":\"no such label\"}");
		return;
	}
	snprintf(out, cap,
		 "{\"ok\":true,\"id\":\"%08" PRIX32 "\",\"type\":%u,\"width\":%u,\"height\":%u,"
		 "\"planes\":%u,\"hash\":\"%016" PRIx64 "\",\"battery_mv\":%u,\"temp_c\":%d,"
		 "\"rssi\":%d,\"lqi\":%u,\"page\":%u,\"fw\":\"%u.%u\",\"updates\":%" PRIu32
		 ",\"flashes\":%" PRIu32 ",\"pages\":%" PRIu32 ",\"failures\":%" PRIu32 "}",
		 l->id, l->type, l->width, l->height, l->planes, l->hash, l->battery_mv, l->temp_c,
		 l->rssi, l->lqi, l->page, l->fw >> 8, l->fw & 0xFF, l->updates, l->flashes,
		 l->pages, l->failures);
}

static void cmd_dump(struct emu *e, const char *id_s, const char *path, char *out, size_t cap)
{
	uint32_t id;
	struct sim_label *l;
	struct esl_image img;
	size_t n;
	int rc;

	if (!parse_id(id_s, &id) || !(l = sim_label(e->sim, id))) {
		snprintf(out, cap, "{\"ok\":false,\"error\":\"no such label\"}");
		return;
	}
	if (!path || !*path || strpbrk(path, "\"\\")) {
		snprintf(out, cap, "{\"ok\":false,\"error\":\"usage: dump ID PATH\"}");
		return;
	}
	img = (struct esl_image){l->width, l->height, l->planes, l->fb};
	n = strlen(path);
	if (n > 4 && strcmp(path + n - 4, ".png") == 0)
		rc = image_write_png(&img, path);
	else
		rc = image_write_pbm(&img, -1, path);
	if (rc < 0)
		snprintf(out, cap, "{\"ok\":false,\"error\":\"%s\"}", strerror(-rc));
	else
		snprintf(out, cap,
			 "{\"ok\":true,\"path\":\"%s\",\"width\":%u,\"height\":%u,\"planes\":%u,"
			 "\"hash\":\"%016" PRIx64 "\"}",
			 path, l->width, l->height, l->planes, l->hash);
}

/* Split off the next space-separated word of *@s (NUL-terminating it); NULL at the end. */
static char *next_word(char **s)
{
	char *w = *s;

	while (*w == ' ' || *w == '\t')
		w++;
	if (!*w)
		return NULL;
	*s = w;
	while (**s && **s != ' ' && **s != '\t')
		(*s)++;
	if (**s)
		*(*s)++ = '\0';
	return w;
}

static void on_command(void *arg, char *line, char *out, size_t cap)
{
	struct emu *e = arg;
	char *rest = line;
	char *verb = next_word(&rest);
	char *a1 = next_word(&rest);
	char *a2 = next_word(&rest);
	char *end;

	if (!verb) {
		snprintf(out, cap, "{\"ok\":false,\"error\":\"empty command\"}");
	} else if (strcmp(verb, "stats") == 0) {
		cmd_stats(e, out, cap);
	} else if (strcmp(verb, "label") == 0) {
		cmd_label(e, a1, out, cap);
	} else if (strcmp(verb, "dump") == 0) {
		cmd_dump(e, a1, a2, out, cap);
	} else if (strcmp(verb, "reset") == 0) {
		e->resets++;
		station_boot(e);
		snprintf(out, cap, "{\"ok\":true,\"boot_id\":\"%08" PRIX32 "\"}", e->boot_id);
	} else if (strcmp(verb, "garbage") == 0) {
		unsigned long n = a1 ? strtoul(a1, &end, 10) : 0;

		if (!a1 || *end || n == 0 || n > TX_CAP - e->tx_n) {
			snprintf(out, cap, "{\"ok\":false,\"error\":\"usage: garbage N (1..%zu)\"}",
				 TX_CAP - e->tx_n);
			return;
		}
		/* between frames: the buffer only ever holds whole frames */
		for (unsigned long i = 0; i < n; i++)
			e->tx[e->tx_n++] = (uint8_t)rnd32(e);
		e->garbage_sent += n;
		snprintf(out, cap, "{\"ok\":true,\"queued\":%lu}", n);
	} else if (strcmp(verb, "glitch") == 0) {
		/* the line drops out: whatever is in flight either way is lost */
		int q = tcflush(e->master, TCIFLUSH);
		size_t n = e->tx_n;

		e->tx_n = 0;
		snprintf(out, cap, "{\"ok\":%s,\"tx_dropped\":%zu}", q == 0 ? "true" : "false", n);
	} else if (strcmp(verb, "loss") == 0) {
		double pct = a1 ? strtod(a1, &end) : -1;

		if (!a1 || *end || pct < 0 || pct > 100) {
			snprintf(out, cap, "{\"ok\":false,\"error\":\"usage: loss PCT (0..100)\"}");
			return;
		}
		sim_set_loss(e->sim, pct);
		snprintf(out, cap, "{\"ok\":true,\"loss\":%g}", pct);
	} else if (strcmp(verb, "quit") == 0) {
		e->quit = true;
		snprintf(out, cap, "{\"ok\":true}");
	} else {
		snprintf(
			out, cap,
			"{\"ok\":false,\"error\":\"unknown command (stats, label ID, dump ID PATH, "
			"reset, garbage N, loss PCT, quit)\"}");
	}
}

/* Move bytes between the pty and the station, no faster than the line rate. */
static void pump(struct emu *e)
{
	unsigned long long t = tty_now_us();
	double dt = (double)(t - e->last_us) / 1e6;
	uint8_t buf[4096];

	e->last_us = t;
	e->rx_tokens += dt * e->bps;
	if (e->rx_tokens > e->burst)
		e->rx_tokens = e->burst;
	e->tx_tokens += dt * e->bps;
	if (e->tx_tokens > e->burst)
		e->tx_tokens = e->burst;
	if (e->rx_tokens >= 1) {
		size_t k = (size_t)e->rx_tokens;
		ssize_t r = read(e->master, buf, k < sizeof(buf) ? k : sizeof(buf));

		if (r > 0) {
			e->rx_tokens -= (double)r;
			e->rx_total += (uint64_t)r;
			bs_input(&e->bs, buf, (size_t)r, now_ms(e));
		}
	}
	if (e->tx_n && e->tx_tokens >= 1) {
		size_t k = (size_t)e->tx_tokens;
		ssize_t w = write(e->master, e->tx, k < e->tx_n ? k : e->tx_n);

		if (w < 0 && errno == EAGAIN) {
			/*
			 * Nobody is reading the pty and its queue is full: like a UART
			 * sending to a closed port, the bytes go out anyway and are lost.
			 */
			w = (ssize_t)(k < e->tx_n ? k : e->tx_n);
			e->tx_lost += (uint64_t)w;
		}
		if (w > 0) {
			e->tx_tokens -= (double)w;
			e->tx_total += (uint64_t)w;
			memmove(e->tx, e->tx + w, e->tx_n - (size_t)w);
			e->tx_n -= (size_t)w;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: esl-emu [options]\n"
		"  --labels SPEC      N (type 1) or N:TYPE,N:TYPE (types 1-3)     [100]\n"
		"  --first-id HEX     first label id                              [E1000001]\n"
		"  --checkin-ms N     label check-in interval (+-25%% jitter)      [30000]\n"
		"  --wake-ms N        max label wake-up latency                   [200]\n"
		"  --air-kbps N       air data rate                               [250]\n"
		"  --loss PCT         radio loss per air transfer                 [0]\n"
		"  --tries N          air attempts per operation                  [4]\n"
		"  --drain-mv N       battery drain per update                    [1]\n"
		"  --seed N           simulation seed                             [1]\n"
		"  --baud N           pace the serial link at N baud, 8N1         [115200]\n"
		"  --pty-link PATH    symlink to the pty slave\n"
		"  --ctl PATH         control socket: stats, label ID, dump ID PATH, reset,\n"
		"                     garbage N, glitch, loss PCT, quit\n"
		"  -v                 log to stderr\n"
		"Prints the pty slave path on stdout, then runs until SIGTERM/SIGINT or `quit`.\n");
}

static int parse_u32(const char *s, uint32_t *v, uint32_t max)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > max)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"labels", required_argument, NULL, 'l'},
		{"first-id", required_argument, NULL, 'f'},
		{"checkin-ms", required_argument, NULL, 'c'},
		{"wake-ms", required_argument, NULL, 'w'},
		{"air-kbps", required_argument, NULL, 'a'},
		{"loss", required_argument, NULL, 'L'},
		{"tries", required_argument, NULL, 't'},
		{"drain-mv", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},
		{"baud", required_argument, NULL, 'b'},
		{"pty-link", required_argument, NULL, 'p'},
		{"ctl", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sim_cfg sc = {.checkin_ms = 30000,
			     .wake_ms = 200,
			     .air_kbps = 250,
			     .loss_pct = 0,
			     .drain_mv = 1,
			     .tries = 4,
			     .seed = 1};
	const char *spec = "100", *ctl_path = NULL;
	uint32_t first_id = 0xE1000001, seed32 = 1;
	struct emu *e;
	char err[256];
	struct sigaction sa;
	int o, rc = 1;

	e = calloc(1, sizeof(*e));
	if (!e) {
		fprintf(stderr, "esl-emu: out of memory\n");
		return 1;
	}
	e->baud = 115200;
	e->master = e->keep_slave = -1;
	e->ctl.fd = -1;
	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		char *end;
		int bad = 0;

		switch (o) {
		case 'l':
			spec = optarg;
			break;
		case 'f':
			bad = !parse_id(optarg, &first_id);
			break;
		case 'c':
			bad = parse_u32(optarg, &sc.checkin_ms, 86400000) || !sc.checkin_ms;
			break;
		case 'w':
			bad = parse_u32(optarg, &sc.wake_ms, 600000);
			break;
		case 'a':
			bad = parse_u32(optarg, &sc.air_kbps, 100000) || !sc.air_kbps;
			break;
		case 'L':
			sc.loss_pct = strtod(optarg, &end);
			bad = *end || end == optarg || sc.loss_pct < 0 || sc.loss_pct > 100;
			break;
		case 't':
			bad = parse_u32(optarg, &sc.tries, 100) || !sc.tries;
			break;
		case 'd':
			bad = parse_u32(optarg, &sc.drain_mv, 1000);
			break;
		case 's':
			bad = parse_u32(optarg, &seed32, 0xFFFFFFFFu);
			sc.seed = seed32;
			break;
		case 'b':
			bad = parse_u32(optarg, &e->baud, 4000000) || e->baud < 1200;
			break;
		case 'p':
			e->link_path = optarg;
			break;
		case 'C':
			ctl_path = optarg;
			break;
		case 'v':
			e->verbose = true;
			break;
		case 'h':
			usage(stdout);
			free(e);
			return 0;
		default:
			usage(stderr);
			free(e);
			return 2;
		}
		if (bad) {
			const char *name = "?";

			for (const struct option *op = opts; op->name; op++)
				if (op->val == o)
					name = op->name;
			fprintf(stderr, "esl-emu: bad value for --%s: %s\n", name, optarg);
			free(e);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(e);
		return 2;
	}
	e->rng = sc.seed * 0x9E3779B97F4A7C15ull + 1;
	e->bps = e->baud / 10.0;
	e->burst = e->bps * 0.002 < 16 ? 16 : e->bps * 0.002;
	e->sim = sim_new(&sc, spec, first_id, err, sizeof(err));
	if (!e->sim) {
		fprintf(stderr, "esl-emu: %s\n", err);
		free(e);
		return 2;
	}
	e->master = tty_open_pty(e->slave, sizeof(e->slave), &e->keep_slave);
	if (e->master < 0) {
		fprintf(stderr, "esl-emu: pty: %s\n", strerror(-e->master));
		goto out;
	}
	if (e->link_path) {
		unlink(e->link_path);
		if (symlink(e->slave, e->link_path) != 0) {
			fprintf(stderr, "esl-emu: symlink %s: %s\n", e->link_path, strerror(errno));
			goto out;
		}
	}
	if (ctl_path) {
		int r = ctl_open(&e->ctl, ctl_path, on_command, e);

		if (r < 0) {
			fprintf(stderr, "esl-emu: control socket %s: %s\n", ctl_path, strerror(-r));
			goto out;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	e->t0_us = e->last_us = tty_now_us();
	station_boot(e);
	printf("%s\n", e->slave);
	fflush(stdout);
	if (e->verbose)
		fprintf(stderr, "esl-emu: %zu labels on %s at %u baud\n", sim_label_count(e->sim),
			e->slave, e->baud);

	while (!e->quit && !got_signal) {
		struct pollfd pfd[2 + CTL_MAX_CLIENTS];
		int n = 0, timeout;
		int32_t t;
		uint32_t now;

		pump(e);
		now = now_ms(e);
		sim_poll(e->sim, now);
		bs_poll(&e->bs, now);
		ctl_service(&e->ctl);

		t = bs_timeout(&e->bs, now);
		{
			int32_t ts = sim_timeout(e->sim, now);

			if (t < 0 || ts < t)
				t = ts;
		}
		if (e->tx_n || e->rx_tokens < 1)
			t = t < 0 || t > 1 ? 1 : t; /* pacing: look again in a millisecond */
		timeout = t < 0 ? 1000 : (int)(t > 1000 ? 1000 : t);
		if (e->rx_tokens >= 1)
			pfd[n++] = (struct pollfd){.fd = e->master, .events = POLLIN};
		n += ctl_pollfds(&e->ctl, pfd + n);
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "esl-emu: poll: %s\n", strerror(errno));
			goto out;
		}
	}
	rc = 0;
	if (e->verbose)
		fprintf(stderr, "esl-emu: exiting\n");
out:
	ctl_close(&e->ctl);
	if (e->link_path)
		unlink(e->link_path);
	if (e->master >= 0)
		close(e->master);
	if (e->keep_slave >= 0)
		close(e->keep_slave);
	sim_free(e->sim);
	free(e);
	return rc;
}
