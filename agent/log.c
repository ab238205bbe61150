/*
 * log: stderr or syslog sink, level filter, per-call-site rate limiting.
 * See log.h.
 *
 * The logger's own state is the one mutable global besides signal flags:
 * every module logs, and threading a context through all of them would buy
 * nothing in a single-threaded daemon.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_SITES 64 /* rate-limit table slots (power of two) */
#define LOG_PROBES 4 /* slots tried per site before evicting the stalest */
#define LOG_MSG_MAX 1024 /* longer messages are truncated, marked with "..." */

struct log_site {
	const char *file; /* NULL when the slot is free */
	int line;
	int64_t window_start; /* monotonic ms */
	unsigned count; /* lines printed in this window */
	unsigned long suppressed;
};

static struct {
	char ident[32];
	enum log_level level;
	bool use_syslog;
	struct log_site sites[LOG_SITES];
} logger = {
	.ident = "shelfd",
	.level = LOG_LVL_INFO,
};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *ident, enum log_level level, bool use_syslog)
{
	if (logger.use_syslog)
		closelog();
	str_copy(logger.ident, sizeof(logger.ident), ident ? ident : "shelfd");
	log_set_level(level);
	logger.use_syslog = use_syslog;
	memset(logger.sites, 0, sizeof(logger.sites));
	if (use_syslog)
		openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	logger.level = level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	if (!s || !out)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Control characters would let a device forge log lines: show them as '?'. */
static void sanitize(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 && *s != '\t')
			*s = '?';
		else if (*s == 0x7f)
			*s = '?';
	}
}

static void emit(enum log_level lvl, const char *msg)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char line[LOG_MSG_MAX + 128];
	char ts[TS_BUFSZ];
	int n;

	if (logger.use_syslog) {
		syslog(prio[lvl], "%s", msg);
		return;
	}
	ts_format(now_wall_ms(), ts);
	n = snprintf(line, sizeof(line), "%s %s[%ld] %s: %s\n", ts, logger.ident, (long)getpid(),
		     level_names[lvl], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line so concurrent writers (the CLI, tests) do not interleave. */
	for (const char *p = line; n > 0;) {
		ssize_t w = write(STDERR_FILENO, p, (size_t)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		n -= (int)w;
	}
}

static void emit_suppressed(enum log_level lvl, const struct log_site *s, bool evicted)
{
	char msg[160];

	if (evicted)
		snprintf(msg, sizeof(msg), "(%lu similar messages suppressed at %s:%d)",
			 s->suppressed, s->file, s->line);
	else
		snprintf(msg, sizeof(msg), "(%lu similar messages suppressed)", s->suppressed);
	emit(lvl, msg);
}

static uint32_t site_hash(const char *file, int line)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)file; *p; p++)
		h = (h ^ *p) * 16777619u;
	return (h ^ (uint32_t)line) * 16777619u;
}

/*
 * Find or claim the slot for file:line. When all probed slots hold other
 * sites, the one with the oldest window is evicted (its pending suppressed
 * count, if any, is reported with its location).
 */
static struct log_site *site_get(enum log_level lvl, const char *file, int line, int64_t now)
{
	uint32_t h = site_hash(file, line);
	struct log_site *victim = NULL;

	for (unsigned i = 0; i < LOG_PROBES; i++) {
		struct log_site *s = &logger.sites[(h + i) & (LOG_SITES - 1)];

		if (s->file && s->line == line && strcmp(s->file, file) == 0)
			return s;
		if (!s->file) {
			if (!victim || victim->file)
				victim = s;
			continue;
		}
		if (!victim || (victim->file && s->window_start < victim->window_start))
			victim = s;
	}
	if (victim->file && victim->suppressed)
		emit_suppressed(lvl, victim, true);
	victim->file = file;
	victim->line = line;
	victim->window_start = now;
	victim->count = 0;
	victim->suppressed = 0;
	return victim;
}

void log_msg(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	struct log_site *s;
	int64_t now;
	va_list ap;
	int n;

	if (lvl > LOG_LVL_DEBUG)
		lvl = LOG_LVL_DEBUG;
	if (lvl > logger.level)
		return;
	if (!file)
		file = "?";

	now = now_mono_ms();
	s = site_get(lvl, file, line, now);
	if (now - s->window_start >= LOG_WINDOW_MS) {
		if (s->suppressed)
			emit_suppressed(lvl, s, false);
		s->window_start = now;
		s->count = 0;
		s->suppressed = 0;
	}
	if (s->count >= LOG_BURST) {
		s->suppressed++;
		return;
	}
	s->count++;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	sanitize(msg);
	emit(lvl, msg);
}
