/*
 * log: the daemon's logger. Writes to stderr (default) or syslog, filters by
 * level, and rate-limits repeats: the same call site logging more than
 * LOG_BURST lines in LOG_WINDOW_MS is suppressed, and a summary line says how
 * many were dropped once the window passes. Never logs secrets: callers pass
 * only what may be shown.
 */
#ifndef SHELF_LOG_H
#define SHELF_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

#define LOG_BURST 20
#define LOG_WINDOW_MS 10000

/* Set up logging: @ident is the program name, @use_syslog picks the sink. */
void log_init(const char *ident, enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);
/* Parse "error"|"warn"|"info"|"debug". Returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(LOG_LVL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
