/* Host-key verification policy (see hostkey.h).
 *
 * Why lines are read here and given to libssh2_knownhost_readline one at a
 * time, each into a collection of its own, instead of readfile into one:
 * readfile gives up at the first line it cannot parse (an @cert-authority
 * line or a security-key entry in a user's ~/.ssh/known_hosts is enough),
 * and a collection does not say which line an entry came from, which the
 * "changed" message must name. libssh2 still does the matching: hashed
 * names, comma lists, key types.
 *
 * Why the "[host]:port" name is built here and checkp is called with port
 * -1: given a port, libssh2 falls back to the bare "host" entry, which
 * belongs to port 22 only; another sshd on the same address would then be
 * reported as a changed key. OpenSSH does not fall back either. */
#include "transport/hostkey.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/sshkey.h"

#define NAME_MAX_LEN 255   /* libssh2 refuses longer known_hosts names */

static const struct {
	const char *name;
	int mask;
} key_types[] = {
	{ "ssh-ed25519", LIBSSH2_KNOWNHOST_KEY_ED25519 },
	{ "ecdsa-sha2-nistp256", LIBSSH2_KNOWNHOST_KEY_ECDSA_256 },
	{ "ecdsa-sha2-nistp384", LIBSSH2_KNOWNHOST_KEY_ECDSA_384 },
	{ "ecdsa-sha2-nistp521", LIBSSH2_KNOWNHOST_KEY_ECDSA_521 },
	{ "ssh-rsa", LIBSSH2_KNOWNHOST_KEY_SSHRSA },
	{ "ssh-dss", LIBSSH2_KNOWNHOST_KEY_SSHDSS },
};

/* libssh2's key-type bits for the type the blob names itself, or 0. */
static int blob_key_type(const unsigned char *key, size_t keylen)
{
	size_t i, tlen;

	if (keylen < 4)
		return 0;
	tlen = (size_t)key[0] << 24 | (size_t)key[1] << 16 | (size_t)key[2] << 8 | key[3];
	if (tlen > keylen - 4)
		return 0;
	for (i = 0; i < SKY_ARRAY_SIZE(key_types); i++)
		if (strlen(key_types[i].name) == tlen && !memcmp(key + 4, key_types[i].name, tlen))
			return key_types[i].mask;
	return 0;
}

/* The name OpenSSH files the host under. Characters that would change
 * the meaning of a known_hosts line are refused: the host comes from a
 * provider's API and ends up in the record file. */
static int lookup_name(const char *host, int port, char *out, size_t outlen)
{
	const char *p;

	if (!host || !*host || strchr("|@!#", host[0]))
		return -EINVAL;
	for (p = host; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == '*' || *p == '?' ||
		    (unsigned char)*p == 0x7f)
			return -EINVAL;
	if (port <= 0 || port == 22) {
		if (sky_strlcpy(out, host, outlen) >= outlen)
			return -ENAMETOOLONG;
	} else if ((size_t)snprintf(out, outlen, "[%s]:%d", host, port) >= outlen) {
		return -ENAMETOOLONG;
	}
	return 0;
}

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

/* What the lines seen so far say about the key. */
struct verdict {
	int matched, changed, revoked;
	char match_at[PATH_MAX + 16];
	char changed_at[PATH_MAX + 16];
	char revoked_at[PATH_MAX + 16];
	char old_fp[SKY_SSHKEY_FP_MAX];
};

static int same_key(const char *key_field, const unsigned char *key, size_t keylen)
{
	unsigned char blob[SKY_SSHKEY_BLOB_MAX];
	size_t n = sizeof(blob);

	return !sky_sshkey_blob_from_line(key_field, blob, &n) && n == keylen &&
	       !memcmp(blob, key, n);
}

static const char *next_field(const char *p)
{
	while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Weighs one known_hosts line. Lines libssh2 cannot parse are skipped, as
 * OpenSSH skips them. */
static int weigh_line(LIBSSH2_SESSION *s, const char *name, const unsigned char *key,
		      size_t keylen, int keymask, const char *line, const char *where,
		      struct verdict *v)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	const char *p = line, *type, *end;
	char *copy = NULL;
	unsigned char blob[SKY_SSHKEY_BLOB_MAX];
	size_t n = sizeof(blob);
	int rc = 0, r;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#' || *p == '\n' || *p == '\r')
		return 0;
	if (*p == '@') {
		/* "@revoked hosts type key": the key is refused for any host */
		if (!strncmp(p, "@revoked", 8) && (p[8] == ' ' || p[8] == '\t') &&
		    !v->revoked && same_key(next_field(next_field(p)), key, keylen)) {
			v->revoked = 1;
			sky_strlcpy(v->revoked_at, where, sizeof(v->revoked_at));
		}
		return 0;
	}
	type = next_field(p);
	/* only "host type key" is handed over: the comment is not needed, and
	 * what libssh2 makes of text after the key has varied by version */
	end = next_field(type);
	while (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
		end++;
	/* and NUL-terminated: readline looks one byte past len for a newline */
	if (!(copy = strndup(p, (size_t)(end - p))) || !(kh = libssh2_knownhost_init(s))) {
		rc = -ENOMEM;
		goto out;
	}
	if (libssh2_knownhost_readline(kh, copy, strlen(copy), LIBSSH2_KNOWNHOST_FILE_OPENSSH))
		goto out;
	r = libssh2_knownhost_checkp(kh, name, -1, (const char *)key, keylen,
				     LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
				     keymask, NULL);
	if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH && !v->matched) {
		v->matched = 1;
		sky_strlcpy(v->match_at, where, sizeof(v->match_at));
	} else if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && !v->changed) {
		v->changed = 1;
		sky_strlcpy(v->changed_at, where, sizeof(v->changed_at));
		if (sky_sshkey_blob_from_line(type, blob, &n) ||
		    sky_sshkey_fingerprint(blob, n, v->old_fp, sizeof(v->old_fp)))
			sky_strlcpy(v->old_fp, "another key", sizeof(v->old_fp));
	} else if (r == LIBSSH2_KNOWNHOST_CHECK_FAILURE) {
		rc = -ENOMEM;
	}
out:
	if (kh)
		libssh2_knownhost_free(kh);
	free(copy);
	return rc;
}

static int weigh_file(LIBSSH2_SESSION *s, const char *name, const unsigned char *key,
		      size_t keylen, int keymask, const char *path, struct verdict *v)
{
	char where[PATH_MAX + 16];
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	FILE *f;
	int rc = 0;

	if (!(f = fopen(path, "re")))
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &cap, f) >= 0) {
		snprintf(where, sizeof(where), "%s:%lu", path, ++lineno);
		if ((rc = weigh_line(s, name, key, keylen, keymask, line, where, v)))
			goto out;
	}
	if (ferror(f))
		rc = -EIO;
out:
	free(line);
	fclose(f);
	return rc;
}

int sky_hostkey_decide(const char *host, int port, const unsigned char *key, size_t keylen,
		       const char *const *files, int nfiles, char *msg, size_t msglen)
{
	char name[NAME_MAX_LEN + 1], fp[SKY_SSHKEY_FP_MAX];
	struct verdict *v = NULL;
	LIBSSH2_SESSION *s = NULL;
	int keymask, i, rc;

	set_msg(msg, msglen, "%s", "");
	if (!key || (nfiles > 0 && !files))
		return -EINVAL;
	if ((rc = lookup_name(host, port, name, sizeof(name)))) {
		set_msg(msg, msglen, "bad host name for known_hosts: %s", host ? host : "(null)");
		return rc;
	}
	if ((rc = sky_sshkey_fingerprint(key, keylen, fp, sizeof(fp))))
		return rc;
	if (!(keymask = blob_key_type(key, keylen))) {
		set_msg(msg, msglen, "host key for %s is of an unknown type: %s", name, fp);
		return -EINVAL;
	}
	/* the session is only the allocator of the knownhost collections */
	if (!(v = calloc(1, sizeof(*v))) || !(s = libssh2_session_init())) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nfiles; i++) {
		if (!files[i])
			continue;
		if ((rc = weigh_file(s, name, key, keylen, keymask, files[i], v))) {
			set_msg(msg, msglen, "cannot read known hosts %s: %s", files[i],
				strerror(-rc));
			goto out;
		}
	}
	if (v->revoked) {
		set_msg(msg, msglen, "host key for %s is revoked: %s (%s)", name, fp, v->revoked_at);
		rc = -EPERM;
	} else if (v->matched) {
		set_msg(msg, msglen, "host key for %s is known: %s (%s)", name, fp, v->match_at);
	} else if (v->changed) {
		set_msg(msg, msglen, "host key for %s changed: %s (known_hosts line %s has %s)",
			name, fp, v->changed_at, v->old_fp);
		rc = -EPERM;
	} else {
		set_msg(msg, msglen, "unknown host key for %s: %s", name, fp);
		rc = -ENOENT;
	}
out:
	if (s)
		libssh2_session_free(s);
	free(v);
	return rc;
}

/* The known_hosts line for a new key, as libssh2 writes it. */
static int format_line(const char *name, const unsigned char *key, size_t keylen,
		       char *out, size_t outlen, size_t *len)
{
	LIBSSH2_SESSION *s;
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct libssh2_knownhost *entry = NULL;
	int rc = 0;

	if (!(s = libssh2_session_init()))
		return -ENOMEM;
	if (!(kh = libssh2_knownhost_init(s))) {
		rc = -ENOMEM;
		goto out;
	}
	if (libssh2_knownhost_addc(kh, name, NULL, (const char *)key, keylen, NULL, 0,
				   LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
				   blob_key_type(key, keylen), &entry) ||
	    libssh2_knownhost_writeline(kh, entry, out, outlen, len,
					LIBSSH2_KNOWNHOST_FILE_OPENSSH))
		rc = -EIO;
out:
	if (kh)
		libssh2_knownhost_free(kh);
	libssh2_session_free(s);
	return rc;
}

/* Under an exclusive flock on record_file, so that two connections to the
 * same new host cannot both record, with different keys. */
static int accept_new(const char *host, int port, const unsigned char *key, size_t keylen,
		      const char *known_hosts, const char *record_file, char *msg, size_t msglen)
{
	const char *files[] = { known_hosts, record_file };
	char name[NAME_MAX_LEN + 1], fp[SKY_SSHKEY_FP_MAX];
	char line[2 * SKY_SSHKEY_BLOB_MAX + NAME_MAX_LEN + 64];
	size_t len = 0;
	ssize_t w;
	int fd, rc;

	fd = open(record_file, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		set_msg(msg, msglen, "cannot open %s: %s", record_file, strerror(errno));
		return rc;
	}
	while (flock(fd, LOCK_EX) && errno == EINTR)
		;
	rc = sky_hostkey_decide(host, port, key, keylen, files, 2, msg, msglen);
	if (rc != -ENOENT)
		goto out;
	if ((rc = lookup_name(host, port, name, sizeof(name))) ||
	    (rc = sky_sshkey_fingerprint(key, keylen, fp, sizeof(fp))) ||
	    (rc = format_line(name, key, keylen, line, sizeof(line), &len)))
		goto out;
	w = write(fd, line, len);
	if (w != (ssize_t)len || fsync(fd)) {
		rc = w >= 0 && w != (ssize_t)len ? -EIO : -errno;
		set_msg(msg, msglen, "cannot record host key in %s: %s", record_file, strerror(-rc));
		goto out;
	}
	set_msg(msg, msglen, "recorded new host key for %s: %s (in %s)", name, fp, record_file);
out:
	close(fd);   /* releases the lock */
	return rc;
}

static int default_known_hosts(char *out, size_t outlen)
{
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];

	if ((!home || !*home) && !getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) && res)
		home = pw.pw_dir;
	if (!home || !*home)
		return -ENOENT;
	if ((size_t)snprintf(out, outlen, "%s/.ssh/known_hosts", home) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int sky_hostkey_verify(const char *host, int port, const unsigned char *key, size_t keylen,
		       const char *known_hosts, const char *record_file,
		       enum sky_hostkey_policy policy, const char *pinned_pub_line,
		       char *msg, size_t msglen)
{
	unsigned char pinned[SKY_SSHKEY_BLOB_MAX];
	char fp[SKY_SSHKEY_FP_MAX], pinned_fp[SKY_SSHKEY_FP_MAX], path[PATH_MAX];
	const char *h = host ? host : "(null)";
	size_t n = sizeof(pinned);
	int rc;

	set_msg(msg, msglen, "%s", "");
	if (!key)
		return -EINVAL;
	if (policy == SKY_HOSTKEY_PINNED) {
		if (!pinned_pub_line || sky_sshkey_blob_from_line(pinned_pub_line, pinned, &n) ||
		    sky_sshkey_fingerprint(pinned, n, pinned_fp, sizeof(pinned_fp))) {
			set_msg(msg, msglen, "no valid pinned host key for %s", h);
			return -EINVAL;
		}
		if ((rc = sky_sshkey_fingerprint(key, keylen, fp, sizeof(fp))))
			return rc;
		if (n != keylen || memcmp(pinned, key, n)) {
			set_msg(msg, msglen, "host key for %s is %s, not the pinned %s", h, fp,
				pinned_fp);
			return -EPERM;
		}
		set_msg(msg, msglen, "host key for %s is the pinned %s", h, fp);
		return 0;
	}
	if (!known_hosts) {
		if ((rc = default_known_hosts(path, sizeof(path))))
			return rc;
		known_hosts = path;
	}
	if (policy == SKY_HOSTKEY_ACCEPT_NEW) {
		if (!record_file)
			return -EINVAL;
		return accept_new(host, port, key, keylen, known_hosts, record_file, msg, msglen);
	}
	if (policy != SKY_HOSTKEY_STRICT)
		return -EINVAL;
	rc = sky_hostkey_decide(host, port, key, keylen, &known_hosts, 1, msg, msglen);
	if (rc == -ENOENT) {
		size_t used = msg ? strlen(msg) : 0;

		if (msg && used < msglen)
			set_msg(msg + used, msglen - used,
				" (add it to %s, or set host_key_policy = accept-new)", known_hosts);
		rc = -EPERM;
	}
	return rc;
}

int sky_hostkey_check(LIBSSH2_SESSION *s, const char *host, int port,
		      const char *known_hosts, const char *record_file,
		      enum sky_hostkey_policy policy, const char *pinned_pub_line,
		      char *msg, size_t msglen)
{
	const char *key;
	size_t len = 0;
	int type = 0;

	if (!s)
		return -EINVAL;
	key = libssh2_session_hostkey(s, &len, &type);
	if (!key || !len) {
		set_msg(msg, msglen, "no host key from %s", host ? host : "(null)");
		return -EPROTO;
	}
	return sky_hostkey_verify(host, port, (const unsigned char *)key, len, known_hosts,
				  record_file, policy, pinned_pub_line, msg, msglen);
}
