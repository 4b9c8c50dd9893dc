/* Owns the daemon's log file descriptor and level (see log.h). */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static int log_stderr = 1;
static enum sky_log_level log_level = SKY_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int sky_log_open(const char *path, int also_stderr)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_stderr = also_stderr;
	return 0;
}

void sky_log_set_level(enum sky_log_level lvl)
{
	log_level = lvl;
}

void sky_log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_stderr = 1;
}

void sky_log(enum sky_log_level lvl, const char *module, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int k;
	va_list ap;

	if (lvl > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s: ",
		     ts.tv_nsec / 1000000, level_names[lvl], module);
	if (k > 0)
		n += (size_t)k;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k < sizeof(line) - n - 1 ? (size_t)k : sizeof(line) - n - 2;
	line[n++] = '\n';
	if (log_fd >= 0 && write(log_fd, line, n) < 0) {
		/* nowhere left to report a failing log */
	}
	if (log_stderr && write(STDERR_FILENO, line, n) < 0) {
	}
}
