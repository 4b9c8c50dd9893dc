/* Helpers for files, time, durations and buffers (see util.h). */
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int buf_reserve(struct sky_buf *b, size_t extra)
{
	size_t want = b->len + extra + 1;
	char *p;

	if (want <= b->cap)
		return 0;
	if (want < 64)
		want = 64;
	if (want < b->cap * 2)
		want = b->cap * 2;
	p = realloc(b->data, want);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = want;
	return 0;
}

int sky_buf_append(struct sky_buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int sky_buf_printf(struct sky_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int sky_buf_shquote(struct sky_buf *b, const char *s)
{
	int rc = sky_buf_append(b, "'", 1);

	for (; !rc && *s; s++)
		rc = *s == '\'' ? sky_buf_append(b, "'\\''", 4) : sky_buf_append(b, s, 1);
	return rc ? rc : sky_buf_append(b, "'", 1);
}

int sky_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void sky_buf_free(struct sky_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

size_t sky_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t k = n < size - 1 ? n : size - 1;
		memcpy(dst, src, k);
		dst[k] = '\0';
	}
	return n;
}

int sky_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	char *p;

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) && errno != ENOENT ? -1 : 0;
	return unlink(path) && errno != ENOENT ? -1 : 0;
}

int sky_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return unlink(path) ? -errno : 0;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

int sky_empty_dir(const char *path)
{
	char child[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(path);
	int rc = 0, r;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >= (int)sizeof(child)) {
			rc = -ENAMETOOLONG;
			continue;
		}
		if ((r = sky_rm_rf(child)) && !rc)
			rc = r;
	}
	closedir(d);
	return rc;
}

int sky_write_file_atomic(const char *path, const void *buf, size_t len, int durable)
{
	char tmp[PATH_MAX];
	const char *p = buf;
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)gettid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if ((rc = sky_write_all(fd, p, len)))
		goto out;
	if (durable && fsync(fd))
		rc = -errno;
out:
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int sky_read_file(const char *path, char **out, size_t *len, size_t max)
{
	struct sky_buf b = { 0 };
	char chunk[8192];
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > max) {
			rc = -EFBIG;
			goto out;
		}
		rc = sky_buf_append(&b, chunk, (size_t)r);
		if (rc)
			goto out;
	}
	if (!b.data && (rc = sky_buf_append(&b, "", 0)))
		goto out;
	*out = b.data;
	if (len)
		*len = b.len;
	b.data = NULL;
out:
	sky_buf_free(&b);
	close(fd);
	return rc;
}

int sky_append(const char *path, const void *buf, size_t len)
{
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len)
		rc = -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

int sky_append_line(const char *path, const char *line)
{
	struct sky_buf b = { 0 };
	int rc = sky_buf_printf(&b, "%s\n", line);

	if (!rc)
		rc = sky_append(path, b.data, b.len);
	sky_buf_free(&b);
	return rc;
}

double sky_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double sky_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void sky_fmt_time(double t, char *buf, size_t len)
{
	/* whole milliseconds first, with a hair of slack: a time read back
	 * by sky_parse_time (x.688 held as x.68799996) prints as it was read */
	long long ms = (long long)(t * 1000 + 1e-3);
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

double sky_parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	double frac = 0, scale = 0.1;

	if (!rest)
		return 0;
	if (*rest == '.')
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
			frac += (*rest - '0') * scale;
	return (double)timegm(&tm) + frac;
}

int sky_parse_duration(const char *s, long *secs)
{
	long total = 0;
	int any = 0;

	while (*s && isspace((unsigned char)*s))
		s++;
	while (*s && !isspace((unsigned char)*s)) {
		char *end;
		long v, mult;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno)
			return -EINVAL;
		switch (*end) {
		case 's': mult = 1; end++; break;
		case 'm': mult = 60; end++; break;
		case 'h': mult = 3600; end++; break;
		case 'd': mult = 86400; end++; break;
		case '\0': case ' ': case '\t':
			if (any)   /* "1h30" is ambiguous */
				return -EINVAL;
			mult = 1;
			break;
		default:
			return -EINVAL;
		}
		if (v > (LONG_MAX - total) / mult)
			return -EINVAL;
		total += v * mult;
		any = 1;
		s = end;
	}
	while (*s && isspace((unsigned char)*s))
		s++;
	if (*s || !any || total <= 0)
		return -EINVAL;
	*secs = total;
	return 0;
}

int sky_parse_size(const char *s, long long *bytes)
{
	static const char units[] = "KMGT";
	const char *u;
	long long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return -EINVAL;
		mult = 1LL << (10 * (u - units + 1));
		end++;
		if (toupper((unsigned char)*end) == 'I' && toupper((unsigned char)end[1]) == 'B')
			end += 2;
		else if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (v > LLONG_MAX / mult)
		return -ERANGE;
	*bytes = v * mult;
	return 0;
}

void sky_fmt_size(long long bytes, char *buf, size_t len)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };
	size_t i;

	for (i = 0; i < SKY_ARRAY_SIZE(units) && bytes > 0; i++) {
		long long unit = 1LL << (10 * (SKY_ARRAY_SIZE(units) - i));

		if (bytes % unit == 0) {
			snprintf(buf, len, "%lld %s", bytes / unit, units[i]);
			return;
		}
	}
	snprintf(buf, len, "%lld bytes", bytes);
}

size_t sky_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[65], prev, tmp;

	if (lb > 64 || la > 64)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) !=
				      tolower((unsigned char)b[j - 1]);
			tmp = row[j];
			row[j] = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
			if (prev + cost < row[j])
				row[j] = prev + cost;
			prev = tmp;
		}
	}
	return row[lb];
}
