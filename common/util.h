/* Small helpers shared by every module: files, time, durations, a growable
 * string buffer. No global state; every function returns 0 or -errno unless
 * it says otherwise. */
#ifndef SKY_UTIL_H
#define SKY_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#define SKY_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Growable NUL-terminated buffer. The owner calls sky_buf_free(). */
struct sky_buf {
	char *data;
	size_t len;
	size_t cap;
};
int sky_buf_append(struct sky_buf *b, const void *p, size_t n);
int sky_buf_printf(struct sky_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sky_buf_free(struct sky_buf *b);
/* Appends s single-quoted for sh (' becomes '\''). */
int sky_buf_shquote(struct sky_buf *b, const char *s);
/* write(2) until all n bytes are written (EINTR retried). */
int sky_write_all(int fd, const void *p, size_t n);

/* Copies src into dst[size] (always terminated, truncating); returns
 * strlen(src) so that truncation can be detected (>= size). */
size_t sky_strlcpy(char *dst, const char *src, size_t size);

int sky_mkdir_p(const char *path, mode_t mode);
/* Removes everything inside the directory path, keeping it. */
int sky_empty_dir(const char *path);
/* Removes path and everything below it; a missing path is not an error. */
int sky_rm_rf(const char *path);
/* Writes a whole file through a temporary name and rename(2), so readers see
 * the old content or the new, never a part. fsync when durable is set. */
int sky_write_file_atomic(const char *path, const void *buf, size_t len, int durable);
/* Reads at most max bytes of path into a NUL-terminated malloc'd buffer
 * (*out, owned by the caller). -EFBIG when the file is larger. */
int sky_read_file(const char *path, char **out, size_t *len, size_t max);
/* Appends len bytes in one write(2) with O_APPEND (creating the file), so
 * concurrent appenders never interleave within a record. */
int sky_append(const char *path, const void *buf, size_t len);
/* Appends one line (a '\n' is added). */
int sky_append_line(const char *path, const char *line);

double sky_now(void);      /* wall clock, seconds since the epoch */
double sky_mono(void);     /* monotonic seconds */
/* Formats t (seconds since the epoch) as 2026-01-02T03:04:05.678Z. */
void sky_fmt_time(double t, char *buf, size_t len);
/* The time "2026-11-29T05:43:26.123Z" (UTC, the milliseconds optional)
 * at the start of s, in epoch seconds, as sky_fmt_time writes it; 0 when
 * s does not start with one. */
double sky_parse_time(const char *s);

/* Parses "90s", "15m", "2h", "1d", "1h30m" or plain seconds into *secs.
 * Returns -EINVAL for anything else, including zero and overflow. */
int sky_parse_duration(const char *s, long *secs);
/* Parses a size: plain bytes ("4096") or a number with a binary unit, K, M,
 * G or T (1K = 1024), optionally followed by "B" or "iB", in any case:
 * "512M", "1G", "10GiB", "64mb". Returns -EINVAL for anything else and
 * -ERANGE past LLONG_MAX; 0 is a valid size (the caller says what it means). */
int sky_parse_size(const char *s, long long *bytes);
/* Formats bytes for people: "1 GiB", "64 MiB", "1536 KiB", "1000 bytes"
 * (the largest binary unit that divides it exactly). */
void sky_fmt_size(long long bytes, char *buf, size_t len);

/* The output limit of a job (its pool's max_output) as the transports see
 * it: they know files, not pools, so they ask with the path of a job's
 * stdout or stderr file. Returns the most bytes that file may hold, 0 for no
 * limit (also for a path that is no job's). Defined by the scheduler
 * (scheduler/results.c); takes the scheduler's lock, so a transport calls
 * it from its own threads, never from start() or cancel() (which the
 * scheduler calls with that lock held). */
long long sky_output_limit(const char *path);

/* Levenshtein distance (case-insensitive), for "did you mean" hints. */
size_t sky_edit_distance(const char *a, const char *b);

#endif
