/*
 * Logging: one line per event on stderr, "tagpurge[level]: message".
 * Messages are short, lower-case, no trailing period; details after a colon.
 * Nothing that could be a secret (passwords, tokens, conninfo) is ever passed
 * here: callers log names of settings, not their values.
 * Part of the floor (broker/lib/README): includes nothing outside broker/lib/.
 */
#ifndef TP_LOG_H
#define TP_LOG_H

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/*
 * Line formats: LOG_TEXT "2026-11-21T12:00:00.000Z tagpurge[info]: message";
 * LOG_JSON {"ts":"...","level":"info","msg":"..."}; LOG_JOURNAL "<6>message"
 * (the syslog priority prefix journald reads from a service's stderr; it
 * adds its own time).  log_init_from_env() picks LOG_JOURNAL when stderr is
 * the journal (systemd sets JOURNAL_STREAM).
 */
enum log_format { LOG_TEXT = 0, LOG_JSON, LOG_JOURNAL };

void log_set_format(enum log_format);
void log_init_from_env(void);
void log_set_level(enum log_level);
enum log_level log_get_level(void);
void log_msg(enum log_level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
