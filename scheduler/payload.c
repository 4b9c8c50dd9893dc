/* Payload kind detection (see payload.h).
 *
 * An archive is checked once, whole, when it is submitted: a corrupt or
 * truncated one is refused here rather than failing later on a node. The
 * walk reads through zlib's gzread(), which reads plain files transparently,
 * so one loop serves tar and tar.gz. Later entries with the same name
 * replace earlier ones when tar extracts, so the last "run" decides. */
/* payload.h uses size_t without including <stddef.h> */
#include <stddef.h>

#include "scheduler/payload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define TAR_BLOCK 512
#define TAR_META_MAX (1 << 20)   /* long names and pax headers past this are skipped */
#define TAR_NAME_MAX (155 + 1 + 100 + 1)   /* ustar prefix/name; longer names are cut */

enum run_state { RUN_NONE, RUN_EXEC, RUN_NOEXEC, RUN_NOTREG };

struct tar_walk {
	gzFile f;
	int direct;                  /* plain tar: skips are real seeks */
	unsigned long long pos;      /* uncompressed offset */
	unsigned long long fsize;
	char *err;
	size_t errlen;
	char *next_name;             /* from a GNU 'L' or pax 'x' header */
	long long next_size;         /* from a pax 'x' header, -1 if none */
	enum run_state run;
	char deeper[TAR_NAME_MAX];   /* a run below the top, for the hint */
};

static int __attribute__((format(printf, 4, 5)))
set_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* A tar number: octal digits padded with spaces/NULs, or base-256 (high bit
 * of the first byte set) for values too large for the octal field. */
static int tar_num(const unsigned char *p, size_t n, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i = 0;

	if (p[0] & 0x80) {
		if (p[0] & 0x40)    /* negative */
			return -EINVAL;
		v = p[0] & 0x3f;
		for (i = 1; i < n; i++) {
			if (v >> 55)
				return -EINVAL;
			v = (v << 8) | p[i];
		}
		*out = v;
		return 0;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\0'))
		i++;
	if (i == n || p[i] < '0' || p[i] > '7')
		return -EINVAL;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = (v << 3) | (unsigned)(p[i] - '0');
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return -EINVAL;
	*out = v;
	return 0;
}

/* The checksum treats its own field as spaces; some old tars summed signed
 * chars, so either sum is accepted. */
static int tar_checksum_ok(const unsigned char *h)
{
	unsigned long long want;
	long usum = 0, ssum = 0;
	size_t i;

	if (tar_num(h + 148, 8, &want))
		return 0;
	for (i = 0; i < TAR_BLOCK; i++) {
		unsigned char b = (i >= 148 && i < 156) ? ' ' : h[i];

		usum += b;
		ssum += (signed char)b;
	}
	return (long long)want == usum || (long long)want == ssum;
}

static int is_zero_block(const unsigned char *h)
{
	size_t i;

	for (i = 0; i < TAR_BLOCK; i++)
		if (h[i])
			return 0;
	return 1;
}

static int gz_fail(struct tar_walk *w)
{
	int errnum = Z_OK;
	const char *msg = gzerror(w->f, &errnum);

	if (errnum == Z_ERRNO) {
		int e = errno ? errno : EIO;

		return set_err(w->err, w->errlen, -e, "cannot read payload: %s", strerror(e));
	}
	if (errnum == Z_MEM_ERROR)
		return set_err(w->err, w->errlen, -ENOMEM, "out of memory");
	return set_err(w->err, w->errlen, -EINVAL, "corrupt archive: %s",
		       errnum == Z_OK ? "unexpected end of data" : msg);
}

/* Reads up to n bytes; *got < n only at a clean end of data. zlib reports a
 * truncated gzip stream as a short read with Z_BUF_ERROR, not as -1, so
 * every short read asks gzerror(). */
static int walk_read(struct tar_walk *w, void *buf, size_t n, size_t *got)
{
	int errnum;

	*got = 0;
	while (*got < n) {
		int r = gzread(w->f, (char *)buf + *got, (unsigned)(n - *got));

		if (r < 0)
			return gz_fail(w);
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	w->pos += *got;
	if (*got < n) {
		gzerror(w->f, &errnum);
		if (errnum != Z_OK)
			return gz_fail(w);
	}
	return 0;
}

static int truncated(struct tar_walk *w)
{
	return set_err(w->err, w->errlen, -EINVAL,
		       "corrupt archive: truncated at byte %llu", w->pos);
}

static int walk_read_full(struct tar_walk *w, void *buf, size_t n)
{
	size_t got;
	int rc = walk_read(w, buf, n, &got);

	if (!rc && got < n)
		rc = truncated(w);
	return rc;
}

static unsigned long long padded(unsigned long long n)
{
	return (n + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

static int walk_skip(struct tar_walk *w, unsigned long long n)
{
	char buf[65536];

	if (w->direct) {
		/* a plain file: seek instead of reading what nobody needs */
		if (n > w->fsize - w->pos)
			return truncated(w);
		if (gzseek(w->f, (z_off_t)n, SEEK_CUR) < 0)
			return gz_fail(w);
		w->pos += n;
		return 0;
	}
	while (n > 0) {
		size_t chunk = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		int rc = walk_read_full(w, buf, chunk);

		if (rc)
			return rc;
		n -= chunk;
	}
	return 0;
}

/* Reads an entry's data (a long name or a pax header) into a NUL-terminated
 * buffer; *out stays NULL when it is too large to matter. */
static int walk_read_meta(struct tar_walk *w, unsigned long long size, char **out)
{
	char *buf;
	int rc;

	*out = NULL;
	if (size > TAR_META_MAX)
		return walk_skip(w, padded(size));
	buf = malloc((size_t)padded(size) + 1);
	if (!buf)
		return set_err(w->err, w->errlen, -ENOMEM, "out of memory");
	rc = walk_read_full(w, buf, (size_t)padded(size));
	if (rc) {
		free(buf);
		return rc;
	}
	buf[size] = '\0';
	*out = buf;
	return 0;
}

/* Takes path= and size= from pax records ("LEN key=value\n"). */
static int pax_apply(struct tar_walk *w, const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end) {
		char *sp;
		unsigned long rlen = strtoul(p, &sp, 10);
		const char *kv, *rec_end;

		if (sp == p || *sp != ' ' || rlen > (size_t)(end - p) || p + rlen <= sp + 1)
			return set_err(w->err, w->errlen, -EINVAL,
				       "corrupt archive: bad pax header record");
		kv = sp + 1;
		rec_end = p + rlen - 1;   /* the '\n' */
		if (!strncmp(kv, "path=", 5) && rec_end > kv + 5) {
			free(w->next_name);
			w->next_name = strndup(kv + 5, (size_t)(rec_end - kv - 5));
			if (!w->next_name)
				return set_err(w->err, w->errlen, -ENOMEM, "out of memory");
		} else if (!strncmp(kv, "size=", 5)) {
			w->next_size = strtoll(kv + 5, NULL, 10);
		}
		p += rlen;
	}
	return 0;
}

static void note_entry(struct tar_walk *w, char *name, char type, unsigned long long mode)
{
	int regular = type == '0' || type == '\0' || type == '7';
	size_t n = strlen(name);
	const char *slash;

	/* a trailing '/' is a directory, whatever the type says (old tars) */
	for (; n > 1 && name[n - 1] == '/'; regular = 0)
		name[--n] = '\0';
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if (!strcmp(name, "run")) {
		if (!regular)
			w->run = RUN_NOTREG;
		else
			w->run = (mode & 0111) ? RUN_EXEC : RUN_NOEXEC;
		return;
	}
	slash = strrchr(name, '/');
	if (regular && slash && !strcmp(slash, "/run") && !w->deeper[0])
		snprintf(w->deeper, sizeof(w->deeper), "%s", name);
}

/* One header block h: returns 0 to go on, 1 at the end of the archive. */
static int walk_header(struct tar_walk *w, const unsigned char *h)
{
	unsigned long long size, mode;
	char name[TAR_NAME_MAX], *meta = NULL;
	char type = (char)h[156];
	int rc;

	if (!tar_checksum_ok(h))
		return set_err(w->err, w->errlen, -EINVAL, w->pos == TAR_BLOCK ?
			       "corrupt archive: not a tar archive" :
			       "corrupt archive: bad tar header at byte %llu", w->pos - TAR_BLOCK);
	if (tar_num(h + 124, 12, &size) || tar_num(h + 100, 8, &mode))
		return set_err(w->err, w->errlen, -EINVAL,
			       "corrupt archive: bad size or mode at byte %llu",
			       w->pos - TAR_BLOCK);
	if (type == 'L' || type == 'x') {
		if ((rc = walk_read_meta(w, size, &meta)))
			return rc;
		if (type == 'x' && meta)
			rc = pax_apply(w, meta, (size_t)size);
		else if (meta) {
			free(w->next_name);
			w->next_name = meta;
			meta = NULL;
		}
		free(meta);
		return rc;
	}
	if (type == 'g' || type == 'K')
		return walk_skip(w, padded(size));
	if (w->next_size >= 0)
		size = (unsigned long long)w->next_size;
	/* POSIX ustar splits long names into prefix/name; GNU uses those bytes
	 * for other fields and says so with a different magic */
	if (w->next_name)
		snprintf(name, sizeof(name), "%s", w->next_name);
	else if (!memcmp(h + 257, "ustar\0", 6) && h[345])
		snprintf(name, sizeof(name), "%.155s/%.100s", h + 345, h + 0);
	else
		snprintf(name, sizeof(name), "%.100s", h + 0);
	note_entry(w, name, type, mode);
	free(w->next_name);
	w->next_name = NULL;
	w->next_size = -1;
	/* links, devices, directories and fifos carry no data */
	if (type >= '1' && type <= '6')
		return 0;
	return walk_skip(w, padded(size));
}

static int check_archive(const char *path, unsigned long long fsize, char *err, size_t errlen)
{
	struct tar_walk w = {
		.fsize = fsize, .err = err, .errlen = errlen, .next_size = -1,
	};
	unsigned char h[TAR_BLOCK];
	size_t got;
	int rc;

	w.f = gzopen(path, "rbe");
	if (!w.f) {
		rc = errno ? -errno : -ENOMEM;
		return set_err(err, errlen, rc, "cannot open payload: %s", strerror(-rc));
	}
	gzbuffer(w.f, 65536);      /* before gzdirect(), which starts reading */
	w.direct = gzdirect(w.f);
	for (;;) {
		if ((rc = walk_read(&w, h, sizeof(h), &got)))
			goto out;
		/* an archive may end without its two zero blocks */
		if (got == 0 && w.pos > 0)
			break;
		if (got < sizeof(h)) {
			rc = w.pos < TAR_BLOCK ?
				set_err(err, errlen, -EINVAL, "corrupt archive: not a tar archive") :
				truncated(&w);
			goto out;
		}
		if (is_zero_block(h))
			break;
		if ((rc = walk_header(&w, h)))
			goto out;
	}
	switch (w.run) {
	case RUN_EXEC:
		break;
	case RUN_NOEXEC:
		rc = set_err(err, errlen, -EINVAL, "archive has no executable \"run\" at its top "
			     "(\"run\" is not executable: chmod +x run before packing)");
		break;
	case RUN_NOTREG:
		rc = set_err(err, errlen, -EINVAL, "archive has no executable \"run\" at its top "
			     "(\"run\" is not a regular file)");
		break;
	case RUN_NONE:
		if (w.deeper[0])
			rc = set_err(err, errlen, -EINVAL, "archive has no executable \"run\" at "
				     "its top (found \"%s\": pack from inside its directory)",
				     w.deeper);
		else
			rc = set_err(err, errlen, -EINVAL,
				     "archive has no executable \"run\" at its top");
		break;
	}
out:
	free(w.next_name);
	gzclose(w.f);
	return rc;
}

int sky_payload_detect(const char *path, enum sky_payload_kind *kind,
		       char *err, size_t errlen)
{
	unsigned char h[TAR_BLOCK];
	size_t n = 0;
	struct stat st;
	int fd, rc = 0;

	if (errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_err(err, errlen, -errno, "cannot open payload: %s", strerror(errno));
	if (fstat(fd, &st)) {
		rc = set_err(err, errlen, -errno, "cannot stat payload: %s", strerror(errno));
		goto out;
	}
	while (n < sizeof(h)) {
		ssize_t r = read(fd, h + n, sizeof(h) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = set_err(err, errlen, -errno, "cannot read payload: %s",
				     strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if ((n >= 2 && h[0] == 0x1f && h[1] == 0x8b) ||
	    (n == sizeof(h) && (!memcmp(h + 257, "ustar", 5) || tar_checksum_ok(h)))) {
		rc = check_archive(path, (unsigned long long)st.st_size, err, errlen);
		if (!rc)
			*kind = SKY_PAYLOAD_ARCHIVE;
	} else {
		*kind = n >= 2 && h[0] == '#' && h[1] == '!' ?
			SKY_PAYLOAD_SHEBANG : SKY_PAYLOAD_SCRIPT;
	}
out:
	close(fd);
	return rc;
}
