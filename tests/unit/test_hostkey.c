/* Unit tests for host-key verification (transport/hostkey.c): known_hosts
 * files as OpenSSH writes them (plain, "[host]:port", hashed by ssh-keygen
 * -H), the accept-new record, pinned keys, and the check against a real
 * sshd's key. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libssh2.h>

#include "common/util.h"
#include "sshd_helper.h"
#include "transport/hostkey.h"
#include "transport/sshkey.h"

/* A host key made by ssh-keygen: its .pub line, blob and fingerprint. */
struct hk {
	char line[1024];
	unsigned char blob[SKY_SSHKEY_BLOB_MAX];
	size_t len;
	char fp[SKY_SSHKEY_FP_MAX];
};

static char tmpdir[PATH_MAX];
static struct hk A, B, C;   /* ed25519, ed25519, ecdsa */
static struct test_sshd sshd;

static int make_key(struct hk *k, const char *name, const char *type)
{
	char path[PATH_MAX + 32], fp[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (test_sh(NULL, 0, "ssh-keygen -q -t %s -N '' -C %s -f '%s'", type, name, path) ||
	    test_sh(k->line, sizeof(k->line), "cat '%s.pub'", path) ||
	    test_sh(fp, sizeof(fp), "ssh-keygen -l -E sha256 -f '%s.pub' | cut -d' ' -f2", path))
		return -1;
	k->len = sizeof(k->blob);
	if (sky_sshkey_blob_from_line(k->line, k->blob, &k->len) ||
	    sky_sshkey_fingerprint(k->blob, k->len, k->fp, sizeof(k->fp)))
		return -1;
	/* our fingerprint is ssh-keygen's */
	return strcmp(fp, k->fp) ? -1 : 0;
}

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/skyfs-test-hostkey.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpdir) || libssh2_init(0))
		return -1;
	return make_key(&A, "a", "ed25519") || make_key(&B, "b", "ed25519") ||
	       make_key(&C, "c", "ecdsa") ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	libssh2_exit();
	return sky_rm_rf(tmpdir);
}

/* Writes tmpdir/name (replacing it) and returns its path in a static slot. */
static const char *kh_file(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *kh_file(const char *name, const char *fmt, ...)
{
	static char paths[4][PATH_MAX];
	static int next;
	char *path = paths[next++ % 4];
	va_list ap;
	FILE *f;

	snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int decide1(const char *host, int port, const struct hk *k, const char *file,
		   char *msg, size_t len)
{
	return sky_hostkey_decide(host, port, k->blob, k->len, &file, 1, msg, len);
}

static void test_plain_match(void **state)
{
	char msg[1024];
	const char *f;

	(void)state;
	f = kh_file("plain", "# a comment\n\nnot a line\n127.0.0.1 %s\n", A.line);
	assert_int_equal(decide1("127.0.0.1", 22, &A, f, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, A.fp));
	assert_non_null(strstr(msg, ":4)"));   /* names the line */
	assert_int_equal(decide1("127.0.0.1", 0, &A, f, msg, sizeof(msg)), 0);
	/* comma lists, and a key with no comment */
	f = kh_file("plain", "node1,127.0.0.1,node2 %.80s\n", A.line);
	assert_int_equal(decide1("node2", 22, &A, f, msg, sizeof(msg)), 0);
	assert_int_equal(decide1("127.0.0.1", 22, &A, f, msg, sizeof(msg)), 0);
	assert_int_equal(decide1("node", 22, &A, f, msg, sizeof(msg)), -ENOENT);
	/* another type of key for the host: not a change, just unknown */
	f = kh_file("plain", "127.0.0.1 %s\n", C.line);
	assert_int_equal(decide1("127.0.0.1", 22, &A, f, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(decide1("127.0.0.1", 22, &C, f, msg, sizeof(msg)), 0);
}

static void test_port_form(void **state)
{
	char msg[1024];
	const char *f;

	(void)state;
	f = kh_file("port", "[127.0.0.1]:2222 %s\n", A.line);
	assert_int_equal(decide1("127.0.0.1", 2222, &A, f, msg, sizeof(msg)), 0);
	assert_int_equal(decide1("127.0.0.1", 22, &A, f, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(decide1("127.0.0.1", 2223, &A, f, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(decide1("127.0.0.1", 2222, &B, f, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "[127.0.0.1]:2222"));
	/* the port-22 entry is not the one of another port (OpenSSH agrees) */
	f = kh_file("port", "127.0.0.1 %s\n", A.line);
	assert_int_equal(decide1("127.0.0.1", 2222, &B, f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "unknown host key for [127.0.0.1]:2222"));
}

static void test_hashed(void **state)
{
	char msg[1024], out[4096];
	const char *f;

	(void)state;
	f = kh_file("hashed", "127.0.0.1 %s\n[127.0.0.1]:2222 %s\n", A.line, A.line);
	assert_int_equal(test_sh(NULL, 0, "ssh-keygen -H -f '%s' >/dev/null 2>&1", f), 0);
	assert_int_equal(test_sh(out, sizeof(out), "cat '%s'", f), 0);
	assert_null(strstr(out, "127.0.0.1"));
	assert_int_equal(strncmp(out, "|1|", 3), 0);
	assert_int_equal(decide1("127.0.0.1", 22, &A, f, msg, sizeof(msg)), 0);
	assert_int_equal(decide1("127.0.0.1", 2222, &A, f, msg, sizeof(msg)), 0);
	assert_int_equal(decide1("127.0.0.1", 22, &B, f, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "changed"));
	assert_int_equal(decide1("127.0.0.2", 22, &A, f, msg, sizeof(msg)), -ENOENT);
}

static void test_changed(void **state)
{
	char msg[1024], where[PATH_MAX + 16];
	const char *f;

	(void)state;
	f = kh_file("changed", "# nodes\n127.0.0.1 %s\n", A.line);
	assert_int_equal(decide1("127.0.0.1", 22, &B, f, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "host key for 127.0.0.1 changed"));
	assert_non_null(strstr(msg, B.fp));   /* what the node sent */
	assert_non_null(strstr(msg, A.fp));   /* what the file has */
	snprintf(where, sizeof(where), "%s:2", f);
	assert_non_null(strstr(msg, where));
}

static void test_unknown(void **state)
{
	char msg[1024], missing[PATH_MAX + 16];
	const char *f;

	(void)state;
	f = kh_file("empty", "%s", "");
	assert_int_equal(decide1("127.0.0.1", 22, &A, f, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "unknown host key for 127.0.0.1"));
	assert_non_null(strstr(msg, A.fp));
	/* a missing file is an empty one */
	snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
	assert_int_equal(decide1("127.0.0.1", 22, &A, missing, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(sky_hostkey_decide("h", 22, A.blob, A.len, NULL, 0, NULL, 0), -ENOENT);
	/* an unreadable one is not */
	assert_int_not_equal(decide1("127.0.0.1", 22, &A, tmpdir, msg, sizeof(msg)), -ENOENT);
	assert_int_not_equal(decide1("127.0.0.1", 22, &A, tmpdir, msg, sizeof(msg)), 0);
	/* names that would change the meaning of a known_hosts line */
	assert_int_equal(decide1("a b", 22, &A, f, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(decide1("a,b", 22, &A, f, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(decide1("|1|x", 22, &A, f, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(decide1("", 22, &A, f, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(sky_hostkey_decide("h", 22, (const unsigned char *)"\0\0\0\1x", 5,
					    &f, 1, msg, sizeof(msg)), -EINVAL);
}

static void test_several_files(void **state)
{
	const char *files[3];
	char msg[1024];

	(void)state;
	files[0] = kh_file("f1", "127.0.0.1 %s\n", B.line);
	files[1] = kh_file("f2", "@cert-authority * %s\n127.0.0.1 %s\n", B.line, A.line);
	files[2] = NULL;
	/* a key listed anywhere wins over another key listed elsewhere */
	assert_int_equal(sky_hostkey_decide("127.0.0.1", 22, A.blob, A.len, files, 3, msg,
					    sizeof(msg)), 0);
	assert_int_equal(sky_hostkey_decide("127.0.0.1", 22, A.blob, A.len, files, 1, msg,
					    sizeof(msg)), -EPERM);
	/* except a revoked one */
	files[2] = kh_file("f3", "@revoked * %s\n", A.line);
	assert_int_equal(sky_hostkey_decide("127.0.0.1", 22, A.blob, A.len, files, 3, msg,
					    sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "revoked"));
	assert_int_equal(sky_hostkey_decide("127.0.0.1", 22, B.blob, B.len, files, 3, msg,
					    sizeof(msg)), 0);
}

static void test_strict(void **state)
{
	char msg[1024], home[PATH_MAX + 16], *old;
	const char *f;

	(void)state;
	f = kh_file("strict", "127.0.0.1 %s\n", A.line);
	assert_int_equal(sky_hostkey_verify("127.0.0.1", 22, A.blob, A.len, f, NULL,
					    SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(sky_hostkey_verify("127.0.0.2", 22, A.blob, A.len, f, NULL,
					    SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "unknown host key for 127.0.0.2: "));
	assert_non_null(strstr(msg, A.fp));
	assert_non_null(strstr(msg, "host_key_policy = accept-new"));
	assert_int_equal(sky_hostkey_verify("127.0.0.1", 22, B.blob, B.len, f, NULL,
					    SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "changed"));

	/* no file named: ~/.ssh/known_hosts */
	old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	snprintf(home, sizeof(home), "%s/home/.ssh", tmpdir);
	assert_int_equal(sky_mkdir_p(home, 0700), 0);
	kh_file("home/.ssh/known_hosts", "127.0.0.9 %s\n", A.line);
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	setenv("HOME", home, 1);
	assert_int_equal(sky_hostkey_verify("127.0.0.9", 22, A.blob, A.len, NULL, NULL,
					    SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), 0);
	if (old)
		setenv("HOME", old, 1);
	else
		unsetenv("HOME");
	free(old);
}

static int count_lines(const char *path)
{
	char out[64];

	if (test_sh(out, sizeof(out), "wc -l < '%s'", path))
		return -1;
	return atoi(out);
}

static void test_accept_new(void **state)
{
	char msg[1024], rec[PATH_MAX + 16], out[1024];
	struct stat st;
	const char *kh;

	(void)state;
	kh = kh_file("an-known", "127.0.0.5 %s\n", A.line);
	snprintf(rec, sizeof(rec), "%s/an-record", tmpdir);
	assert_int_equal(sky_hostkey_verify("127.0.0.1", 2222, A.blob, A.len, kh, NULL,
					    SKY_HOSTKEY_ACCEPT_NEW, NULL, msg, sizeof(msg)), -EINVAL);
	/* first use: recorded */
	assert_int_equal(sky_hostkey_verify("127.0.0.1", 2222, A.blob, A.len, kh, rec,
					    SKY_HOSTKEY_ACCEPT_NEW, NULL, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "recorded"));
	assert_non_null(strstr(msg, A.fp));
	assert_int_equal(stat(rec, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_lines(rec), 1);
	/* a line OpenSSH reads */
	assert_int_equal(test_sh(out, sizeof(out), "ssh-keygen -F '[127.0.0.1]:2222' -f '%s'",
				 rec), 0);
	assert_non_null(strstr(out, "[127.0.0.1]:2222 ssh-ed25519 "));
	/* then known */
	assert_int_equal(sky_hostkey_verify("127.0.0.1", 2222, A.blob, A.len, kh, rec,
					    SKY_HOSTKEY_ACCEPT_NEW, NULL, msg, sizeof(msg)), 0);
	assert_null(strstr(msg, "recorded"));
	assert_int_equal(count_lines(rec), 1);
	/* never a changed key, recorded or not */
	assert_int_equal(sky_hostkey_verify("127.0.0.1", 2222, B.blob, B.len, kh, rec,
					    SKY_HOSTKEY_ACCEPT_NEW, NULL, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "changed"));
	assert_non_null(strstr(msg, B.fp));
	assert_int_equal(count_lines(rec), 1);
	/* known_hosts holds another key: refused, nothing recorded */
	assert_int_equal(sky_hostkey_verify("127.0.0.5", 22, B.blob, B.len, kh, rec,
					    SKY_HOSTKEY_ACCEPT_NEW, NULL, msg, sizeof(msg)), -EPERM);
	assert_int_equal(count_lines(rec), 1);
	/* another host: a second line; STRICT over the record accepts both */
	assert_int_equal(sky_hostkey_verify("127.0.0.6", 22, B.blob, B.len, kh, rec,
					    SKY_HOSTKEY_ACCEPT_NEW, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(count_lines(rec), 2);
	assert_int_equal(sky_hostkey_verify("127.0.0.6", 22, B.blob, B.len, rec, NULL,
					    SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(sky_hostkey_verify("127.0.0.1", 2222, A.blob, A.len, rec, NULL,
					    SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), 0);
}

static void test_pinned(void **state)
{
	char msg[1024];

	(void)state;
	assert_int_equal(sky_hostkey_verify("10.0.0.1", 22, A.blob, A.len, NULL, NULL,
					    SKY_HOSTKEY_PINNED, A.line, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, A.fp));
	assert_int_equal(sky_hostkey_verify("10.0.0.1", 22, B.blob, B.len, NULL, NULL,
					    SKY_HOSTKEY_PINNED, A.line, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "10.0.0.1"));
	assert_non_null(strstr(msg, A.fp));
	assert_non_null(strstr(msg, B.fp));
	assert_int_equal(sky_hostkey_verify("10.0.0.1", 22, A.blob, A.len, NULL, NULL,
					    SKY_HOSTKEY_PINNED, NULL, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(sky_hostkey_verify("10.0.0.1", 22, A.blob, A.len, NULL, NULL,
					    SKY_HOSTKEY_PINNED, "ssh-ed25519 AAAA", msg,
					    sizeof(msg)), -EINVAL);
}

static int sshd_setup(void **state)
{
	char dir[PATH_MAX + 16], keys[PATH_MAX + 32];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/sshd", tmpdir);
	snprintf(keys, sizeof(keys), "%s/authorized_keys", dir);
	if (mkdir(dir, 0700))
		return -1;
	return test_sshd_start(&sshd, dir, keys);
}

static int sshd_teardown(void **state)
{
	(void)state;
	test_sshd_stop(&sshd);
	return 0;
}

static void test_real_sshd(void **state)
{
	char msg[1024], name[64], fp[256], rec[PATH_MAX + 16], pub[1024];
	const char *empty;
	LIBSSH2_SESSION *s;
	int sock = -1;

	(void)state;
	assert_int_equal(test_sh(fp, sizeof(fp),
				 "ssh-keygen -l -E sha256 -f '%s.pub' | cut -d' ' -f2", sshd.host_key), 0);
	assert_int_equal(test_sh(pub, sizeof(pub), "cat '%s.pub'", sshd.host_key), 0);
	snprintf(name, sizeof(name), "[127.0.0.1]:%d", sshd.port);
	snprintf(rec, sizeof(rec), "%s/sshd-record", tmpdir);
	empty = kh_file("sshd-empty", "%s", "");

	assert_non_null(s = test_ssh_connect(sshd.port, &sock));
	assert_int_equal(sky_hostkey_check(s, "127.0.0.1", sshd.port, empty, NULL,
					   SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, name));
	assert_non_null(strstr(msg, fp));
	test_ssh_close(s, sock);

	assert_non_null(s = test_ssh_connect(sshd.port, &sock));
	assert_int_equal(sky_hostkey_check(s, "127.0.0.1", sshd.port, empty, rec,
					   SKY_HOSTKEY_ACCEPT_NEW, NULL, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "recorded"));
	assert_non_null(strstr(msg, fp));
	test_ssh_close(s, sock);

	assert_non_null(s = test_ssh_connect(sshd.port, &sock));
	assert_int_equal(sky_hostkey_check(s, "127.0.0.1", sshd.port, rec, NULL,
					   SKY_HOSTKEY_STRICT, NULL, msg, sizeof(msg)), 0);
	/* the sshd's own .pub pins it; another key does not */
	assert_int_equal(sky_hostkey_check(s, "127.0.0.1", sshd.port, NULL, NULL,
					   SKY_HOSTKEY_PINNED, pub, msg, sizeof(msg)), 0);
	assert_int_equal(sky_hostkey_check(s, "127.0.0.1", sshd.port, NULL, NULL,
					   SKY_HOSTKEY_PINNED, A.line, msg, sizeof(msg)), -EPERM);
	test_ssh_close(s, sock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_match),
		cmocka_unit_test(test_port_form),
		cmocka_unit_test(test_hashed),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_several_files),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_accept_new),
		cmocka_unit_test(test_pinned),
		cmocka_unit_test_setup_teardown(test_real_sshd, sshd_setup, sshd_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
