/* SSH key pairs the daemon makes itself: ed25519 keys generated with
 * OpenSSL, written in OpenSSH's own formats (so that ssh, ssh-keygen, sshd
 * and libssh2 all read them), their SHA256 fingerprints, and their removal.
 *
 * Used for the per-pool login key of cloud pools (kept in the pool's state,
 * deleted at teardown) and for host keys the daemon puts on a node itself and
 * then pins. Every function returns 0 or -errno; none keeps state, so all
 * are thread-safe. */
#ifndef SKY_SSHKEY_H
#define SKY_SSHKEY_H

#include <stddef.h>

/* Longest comment sky_sshkey_generate() takes. */
#define SKY_SSHKEY_COMMENT_MAX 256
/* Enough for any public line sky_sshkey_generate() returns. */
#define SKY_SSHKEY_LINE_MAX (96 + SKY_SSHKEY_COMMENT_MAX)
/* Enough for "SHA256:" + 43 characters + NUL. */
#define SKY_SSHKEY_FP_MAX 64
/* Enough for the public key blob of any key type OpenSSH makes. */
#define SKY_SSHKEY_BLOB_MAX 4096

/* Generates an ed25519 key pair. The private key goes to private_path in
 * OpenSSH's format, unencrypted, mode 0600; the public key to
 * "<private_path>.pub", mode 0644, as "ssh-ed25519 AAAA… comment". Both are
 * created with O_EXCL: -EEXIST if either exists, and then neither file is
 * touched. The public line (without newline) is copied to pub_line[pub_len]
 * (SKY_SSHKEY_LINE_MAX is enough); -ENOSPC, before any file is made, when
 * it does not fit. comment may be NULL or "", and must not hold a newline
 * or be longer than SKY_SSHKEY_COMMENT_MAX (-EINVAL). On failure no file is
 * left behind. The secret never stays in this process's memory. */
int sky_sshkey_generate(const char *private_path, const char *comment,
			char *pub_line, size_t pub_len);

/* A host key for a node the daemon provisions: the same generator and the
 * same files. The private file is what the provider installs as the node's
 * ssh_host_ed25519_key; pub_line is what the transport pins
 * (SKY_HOSTKEY_PINNED in transport/hostkey.h). */
int sky_sshkey_host_keypair(const char *private_path, const char *comment,
			    char *pub_line, size_t pub_len);

/* OpenSSH's fingerprint of a public key blob (the wire format: string type,
 * then the key's own fields), "SHA256:" + unpadded base64, as printed by
 * ssh-keygen -l -E sha256. -ENOSPC when out[outlen] is too small. */
int sky_sshkey_fingerprint(const unsigned char *blob, size_t len, char *out, size_t outlen);

/* Decodes the key of a public line: an authorized_keys, known_hosts-style
 * "type base64 [comment]" or .pub line (leading authorized_keys options are
 * skipped). *len is blob's size on entry and the blob's length on return.
 * -EINVAL when the line holds no well-formed key or the blob's type differs
 * from the line's; -ENOSPC when blob is too small (SKY_SSHKEY_BLOB_MAX is
 * enough). */
int sky_sshkey_blob_from_line(const char *pub_line, unsigned char *blob, size_t *len);

/* Deletes private_path and "<private_path>.pub". The private file is
 * overwritten with zeros first. A missing file is not an error. */
int sky_sshkey_remove(const char *private_path);

#endif
