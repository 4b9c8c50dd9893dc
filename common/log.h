/* One logging function for the whole daemon, with levels and a module prefix.
 *
 * Each .c file defines LOG_MODULE before including this header and calls
 * log_error()/log_warn()/log_info()/log_debug(). Lines go to the log file set
 * with sky_log_open() (the state directory's skyfs.log) and, in the
 * foreground, to stderr. Thread-safe: one write(2) per line.
 * Never pass credentials to these functions. */
#ifndef SKY_LOG_H
#define SKY_LOG_H

enum sky_log_level { SKY_LOG_ERROR, SKY_LOG_WARN, SKY_LOG_INFO, SKY_LOG_DEBUG };

/* Opens (appends to) path; also_stderr mirrors each line to stderr. */
int sky_log_open(const char *path, int also_stderr);
void sky_log_set_level(enum sky_log_level lvl);
void sky_log_close(void);
void sky_log(enum sky_log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifndef LOG_MODULE
#define LOG_MODULE "skyfs"
#endif
#define log_error(...) sky_log(SKY_LOG_ERROR, LOG_MODULE, __VA_ARGS__)
#define log_warn(...)  sky_log(SKY_LOG_WARN, LOG_MODULE, __VA_ARGS__)
#define log_info(...)  sky_log(SKY_LOG_INFO, LOG_MODULE, __VA_ARGS__)
#define log_debug(...) sky_log(SKY_LOG_DEBUG, LOG_MODULE, __VA_ARGS__)

#endif
