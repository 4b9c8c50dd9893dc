/* ed25519 key pairs in OpenSSH's formats, their fingerprints and removal
 * (see sshkey.h).
 *
 * Why write the "openssh-key-v1" container by hand: OpenSSL has no writer
 * for it, and it is the one format that both OpenSSH (which refuses ed25519
 * in PKCS#8 PEM) and libssh2 1.10 read for ed25519. The container is
 * documented in OpenSSH's PROTOCOL.key; unencrypted, it is a handful of
 * length-prefixed strings. */
#include "transport/sshkey.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define ED25519_LEN 32
#define KEYTYPE "ssh-ed25519"
#define KEYTYPE_LEN (sizeof(KEYTYPE) - 1)
/* string type + string key */
#define PUB_BLOB_LEN (4 + KEYTYPE_LEN + 4 + ED25519_LEN)
#define B64_LEN(n) (((n) + 2) / 3 * 4)
#define PEM_WIDTH 70
/* The whole container with the longest comment, with room to spare. */
#define PRIV_MAX (512 + SKY_SSHKEY_COMMENT_MAX)
#define PEM_MAX (B64_LEN(PRIV_MAX) + B64_LEN(PRIV_MAX) / PEM_WIDTH + 128)

static const char pem_begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
static const char pem_end[] = "-----END OPENSSH PRIVATE KEY-----\n";

/* A bounded writer into a caller's array: an overflow sets err once and
 * later writes are dropped, so the encoder checks only at the end. */
struct wbuf {
	unsigned char *p;
	size_t len;
	size_t cap;
	int err;
};

static void put_bytes(struct wbuf *b, const void *p, size_t n)
{
	if (b->err || n > b->cap - b->len) {
		b->err = -ENOSPC;
		return;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_u32(struct wbuf *b, uint32_t v)
{
	unsigned char be[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
				 (unsigned char)(v >> 8), (unsigned char)v };

	put_bytes(b, be, 4);
}

static void put_string(struct wbuf *b, const void *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	put_bytes(b, p, n);
}

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict decoder for the padded base64 of key lines (EVP_DecodeBlock
 * counts padding as data and accepts whitespace inside). */
static int b64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	size_t i, o = 0, pad = 0;
	int bits = 0, v;

	while (n > 0 && in[n - 1] == '=') {
		n--;
		pad++;
	}
	if (n == 0 || pad > 2 || (n + pad) % 4)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if ((v = b64_value((unsigned char)in[i])) < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -ENOSPC;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return 0;
}

int sky_sshkey_fingerprint(const unsigned char *blob, size_t len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char b64[B64_LEN(EVP_MAX_MD_SIZE) + 1];
	unsigned int mdlen = 0;
	int n;

	if (!blob || !out)
		return -EINVAL;
	if (!EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL))
		return -EIO;
	n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	b64[n] = '\0';
	if ((size_t)snprintf(out, outlen, "SHA256:%s", (char *)b64) >= outlen)
		return -ENOSPC;
	return 0;
}

static int is_key_type(const char *s, size_t n)
{
	static const char *const prefixes[] = { "ssh-", "ecdsa-sha2-", "sk-" };
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (n > strlen(prefixes[i]) && !strncmp(s, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

/* Moves past one whitespace-separated field; inside double quotes
 * (authorized_keys options) whitespace does not end it. */
static const char *skip_field(const char *p)
{
	int quoted = 0;

	for (; *p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
		if (*p == '\\' && quoted && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
	}
	return p;
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int sky_sshkey_blob_from_line(const char *pub_line, unsigned char *blob, size_t *len)
{
	const char *type, *type_end, *key, *key_end;
	size_t n = 0;
	uint32_t tlen;
	int rc;

	if (!pub_line || !blob || !len)
		return -EINVAL;
	type = skip_space(pub_line);
	type_end = skip_field(type);
	if (!is_key_type(type, (size_t)(type_end - type))) {
		/* authorized_keys options come first */
		type = skip_space(type_end);
		type_end = skip_field(type);
		if (!is_key_type(type, (size_t)(type_end - type)))
			return -EINVAL;
	}
	key = skip_space(type_end);
	for (key_end = key; *key_end && *key_end != ' ' && *key_end != '\t' &&
	     *key_end != '\n' && *key_end != '\r'; key_end++)
		;
	if ((rc = b64_decode(key, (size_t)(key_end - key), blob, *len, &n)))
		return rc;
	/* the blob names its own type, which must be the line's */
	if (n < 4)
		return -EINVAL;
	tlen = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	if (tlen != (size_t)(type_end - type) || tlen > n - 4 || memcmp(blob + 4, type, tlen))
		return -EINVAL;
	*len = n;
	return 0;
}

/* Creates path (never replacing anything) with exactly mode, whatever the
 * umask, holding data; on failure nothing is left at path. */
static int write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode)) {
		rc = -errno;
		goto out;
	}
	if ((rc = sky_write_all(fd, p, len)))
		goto out;
	/* the key of a running pool must survive a crash of this machine */
	if (fsync(fd))
		rc = -errno;
out:
	if (close(fd) && !rc)
		rc = -errno;
	if (rc)
		unlink(path);
	return rc;
}

/* The "openssh-key-v1" container of one unencrypted key (PROTOCOL.key). */
static int encode_private(struct wbuf *b, const unsigned char *seed, const unsigned char *pk,
			  const unsigned char *pub_blob, const char *comment)
{
	static const char magic[] = "openssh-key-v1";   /* the NUL is part of it */
	unsigned char sk[2 * ED25519_LEN];
	uint32_t check;
	size_t start;
	unsigned char pad;
	int rc = 0;

	if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1)
		return -EIO;
	put_bytes(b, magic, sizeof(magic));
	put_string(b, "none", 4);           /* cipher */
	put_string(b, "none", 4);           /* kdf */
	put_string(b, "", 0);               /* kdf options */
	put_u32(b, 1);                      /* number of keys */
	put_string(b, pub_blob, PUB_BLOB_LEN);
	/* the private section, length-prefixed: its length is patched in below */
	put_u32(b, 0);
	start = b->len;
	put_u32(b, check);                  /* twice: decryption check */
	put_u32(b, check);
	put_string(b, KEYTYPE, KEYTYPE_LEN);
	put_string(b, pk, ED25519_LEN);
	/* OpenSSH keeps the 64-byte "secret key" of the reference code:
	 * seed then public key */
	memcpy(sk, seed, ED25519_LEN);
	memcpy(sk + ED25519_LEN, pk, ED25519_LEN);
	put_string(b, sk, sizeof(sk));
	put_string(b, comment, strlen(comment));
	/* padded to the cipher's block size, 8 for "none", with 1, 2, 3… */
	for (pad = 1; !b->err && (b->len - start) % 8; pad++)
		put_bytes(b, &pad, 1);
	if (b->err) {
		rc = b->err;
		goto out;
	}
	b->p[start - 4] = (unsigned char)((b->len - start) >> 24);
	b->p[start - 3] = (unsigned char)((b->len - start) >> 16);
	b->p[start - 2] = (unsigned char)((b->len - start) >> 8);
	b->p[start - 1] = (unsigned char)(b->len - start);
out:
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(&check, sizeof(check));
	return rc;
}

/* PEM armour with the base64 wrapped at 70 columns, as ssh-keygen writes. */
static int armour(const unsigned char *der, size_t len, char *out, size_t cap)
{
	unsigned char b64[B64_LEN(PRIV_MAX) + 1];
	size_t n, i, o;
	int rc = 0;

	if (len > PRIV_MAX)
		return -ENOSPC;
	n = (size_t)EVP_EncodeBlock(b64, der, (int)len);
	if (sizeof(pem_begin) + n + n / PEM_WIDTH + sizeof(pem_end) + 2 > cap) {
		rc = -ENOSPC;
		goto out;
	}
	memcpy(out, pem_begin, sizeof(pem_begin) - 1);
	o = sizeof(pem_begin) - 1;
	for (i = 0; i < n; i += PEM_WIDTH) {
		size_t chunk = n - i < PEM_WIDTH ? n - i : PEM_WIDTH;

		memcpy(out + o, b64 + i, chunk);
		o += chunk;
		out[o++] = '\n';
	}
	memcpy(out + o, pem_end, sizeof(pem_end));
out:
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}

int sky_sshkey_generate(const char *private_path, const char *comment,
			char *pub_line, size_t pub_len)
{
	unsigned char seed[ED25519_LEN], pk[ED25519_LEN];
	unsigned char pub_blob[PUB_BLOB_LEN];
	unsigned char priv[PRIV_MAX];
	char pem[PEM_MAX];
	char pub_b64[B64_LEN(PUB_BLOB_LEN) + 1];
	char pub_path[PATH_MAX], line[SKY_SSHKEY_LINE_MAX + 1];
	struct wbuf b = { .p = pub_blob, .cap = sizeof(pub_blob) };
	EVP_PKEY *pkey = NULL;
	size_t seed_len = sizeof(seed), pk_len = sizeof(pk), clen;
	int n, rc = 0;

	if (!private_path || !pub_line)
		return -EINVAL;
	if (!comment)
		comment = "";
	clen = strlen(comment);
	if (clen > SKY_SSHKEY_COMMENT_MAX || strpbrk(comment, "\r\n"))
		return -EINVAL;
	/* "ssh-ed25519 " + base64 + " comment" + NUL, known before any work */
	if (KEYTYPE_LEN + 1 + B64_LEN(PUB_BLOB_LEN) + (clen ? clen + 1 : 0) + 1 > pub_len)
		return -ENOSPC;
	if (snprintf(pub_path, sizeof(pub_path), "%s.pub", private_path) >= (int)sizeof(pub_path))
		return -ENAMETOOLONG;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!pkey || EVP_PKEY_get_raw_private_key(pkey, seed, &seed_len) != 1 ||
	    EVP_PKEY_get_raw_public_key(pkey, pk, &pk_len) != 1 ||
	    seed_len != ED25519_LEN || pk_len != ED25519_LEN) {
		rc = -EIO;
		goto out;
	}

	put_string(&b, KEYTYPE, KEYTYPE_LEN);
	put_string(&b, pk, ED25519_LEN);
	if ((rc = b.err))
		goto out;
	EVP_EncodeBlock((unsigned char *)pub_b64, pub_blob, PUB_BLOB_LEN);
	n = snprintf(line, sizeof(line), "%s %s%s%s", KEYTYPE, pub_b64, clen ? " " : "", comment);

	b = (struct wbuf){ .p = priv, .cap = sizeof(priv) };
	if ((rc = encode_private(&b, seed, pk, pub_blob, comment)))
		goto out;
	if ((rc = armour(priv, b.len, pem, sizeof(pem))))
		goto out;

	if ((rc = write_new(private_path, pem, strlen(pem), 0600)))
		goto out;
	line[n] = '\n';
	rc = write_new(pub_path, line, (size_t)n + 1, 0644);
	line[n] = '\0';
	if (rc) {
		unlink(private_path);
		goto out;
	}
	memcpy(pub_line, line, (size_t)n + 1);
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(priv, sizeof(priv));
	OPENSSL_cleanse(pem, sizeof(pem));
	EVP_PKEY_free(pkey);   /* clears its own copy of the secret */
	return rc;
}

int sky_sshkey_host_keypair(const char *private_path, const char *comment,
			    char *pub_line, size_t pub_len)
{
	return sky_sshkey_generate(private_path, comment, pub_line, pub_len);
}

/* Best effort only: on a journaling or copy-on-write filesystem the old
 * blocks may survive, but a plain unlink would leave the key readable in
 * free space for certain. */
static int wipe(const char *path)
{
	static const char zeros[4096];
	struct stat st;
	off_t left;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode))
		goto out;
	for (left = st.st_size; left > 0;) {
		ssize_t w = write(fd, zeros, left < (off_t)sizeof(zeros) ? (size_t)left : sizeof(zeros));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		left -= w;
	}
	if (fsync(fd))
		rc = -errno;
out:
	close(fd);
	return rc;
}

int sky_sshkey_remove(const char *private_path)
{
	char pub_path[PATH_MAX];
	int rc;

	if (!private_path)
		return -EINVAL;
	if (snprintf(pub_path, sizeof(pub_path), "%s.pub", private_path) >= (int)sizeof(pub_path))
		return -ENAMETOOLONG;
	/* a failed wipe still unlinks: a key left behind is worse */
	rc = wipe(private_path);
	if (unlink(private_path) && errno != ENOENT && !rc)
		rc = -errno;
	if (unlink(pub_path) && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}
