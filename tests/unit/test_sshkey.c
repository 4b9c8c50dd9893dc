/* Unit tests for the key generator (transport/sshkey.c): the files are what
 * OpenSSH's ssh-keygen reads and writes, and the key logs in to a real
 * sshd through libssh2. */
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
#include "transport/sshkey.h"

static char tmpdir[PATH_MAX];
static struct test_sshd sshd;

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/skyfs-test-sshkey.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return libssh2_init(0) ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	libssh2_exit();
	return sky_rm_rf(tmpdir);
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

/* The first two fields of a public line: type and base64, no comment. */
static void key_part(const char *line, char *out, size_t len)
{
	const char *sp = strchr(line, ' ');

	sp = sp ? strchr(sp + 1, ' ') : NULL;
	snprintf(out, len, "%.*s", sp ? (int)(sp - line) : (int)strlen(line), line);
}

static void test_files_and_modes(void **state)
{
	char key[PATH_MAX], pub[PATH_MAX + 8], line[SKY_SSHKEY_LINE_MAX], *data = NULL;
	struct stat st;
	size_t len, col;
	const char *p;
	mode_t old;

	(void)state;
	path_of(key, sizeof(key), "modes");
	snprintf(pub, sizeof(pub), "%s.pub", key);
	/* the modes are exact whatever the umask */
	old = umask(0277);
	assert_int_equal(sky_sshkey_generate(key, "pool-a@skyfs", line, sizeof(line)), 0);
	umask(old);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* ed25519 blobs all start with the same 19 bytes */
	assert_int_equal(strncmp(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37), 0);
	assert_string_equal(line + strlen(line) - 13, " pool-a@skyfs");
	assert_int_equal(sky_read_file(pub, &data, &len, 4096), 0);
	assert_int_equal(len, strlen(line) + 1);
	assert_memory_equal(data, line, strlen(line));
	assert_int_equal(data[len - 1], '\n');
	free(data);

	assert_int_equal(sky_read_file(key, &data, &len, 8192), 0);
	assert_int_equal(strncmp(data, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
	assert_non_null(strstr(data, "\n-----END OPENSSH PRIVATE KEY-----\n"));
	/* "openssh-key-v1\0" + string "none" */
	assert_int_equal(strncmp(data + 36, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", 42), 0);
	/* wrapped as ssh-keygen does: 70 columns, only the last line shorter */
	for (p = data + 36; strncmp(p, "-----END", 8); p += col + 1) {
		col = strcspn(p, "\n");
		assert_true(col > 0 && col <= 70);
		assert_true(col == 70 || !strncmp(p + col + 1, "-----END", 8));
	}
	free(data);

	/* no comment: no trailing space */
	path_of(key, sizeof(key), "nocomment");
	assert_int_equal(sky_sshkey_generate(key, NULL, line, sizeof(line)), 0);
	assert_null(strchr(strchr(line, ' ') + 1, ' '));
	assert_int_equal(sky_sshkey_remove(key), 0);
}

static void test_ssh_keygen_reads_it(void **state)
{
	char key[PATH_MAX], line[SKY_SSHKEY_LINE_MAX], out[1024], want[512], got[512];
	char fp[SKY_SSHKEY_FP_MAX];
	unsigned char blob[SKY_SSHKEY_BLOB_MAX];
	size_t n = sizeof(blob);

	(void)state;
	path_of(key, sizeof(key), "keygen");
	assert_int_equal(sky_sshkey_generate(key, "check me", line, sizeof(line)), 0);
	/* ssh-keygen -y derives the public key from the private file */
	assert_int_equal(test_sh(out, sizeof(out), "ssh-keygen -y -f '%s' 2>&1", key), 0);
	key_part(line, want, sizeof(want));
	key_part(out, got, sizeof(got));
	assert_string_equal(got, want);
	/* and agrees on the fingerprint */
	assert_int_equal(sky_sshkey_blob_from_line(line, blob, &n), 0);
	assert_int_equal(n, 51);
	assert_int_equal(sky_sshkey_fingerprint(blob, n, fp, sizeof(fp)), 0);
	assert_int_equal(strlen(fp), 7 + 43);
	assert_int_equal(test_sh(out, sizeof(out),
				 "ssh-keygen -l -E sha256 -f '%s.pub' | cut -d' ' -f2", key), 0);
	assert_string_equal(out, fp);
	/* the private file too, and the comment survives in it */
	assert_int_equal(test_sh(out, sizeof(out), "ssh-keygen -l -E sha256 -f '%s'", key), 0);
	assert_non_null(strstr(out, fp));
	assert_non_null(strstr(out, "check me"));
	assert_int_equal(sky_sshkey_remove(key), 0);
}

static void test_refuses_to_overwrite(void **state)
{
	char key[PATH_MAX], pub[PATH_MAX + 8], line[SKY_SSHKEY_LINE_MAX];
	char line2[SKY_SSHKEY_LINE_MAX], *a = NULL, *b = NULL;

	(void)state;
	path_of(key, sizeof(key), "exists");
	snprintf(pub, sizeof(pub), "%s.pub", key);
	assert_int_equal(sky_sshkey_generate(key, "one", line, sizeof(line)), 0);
	assert_int_equal(sky_read_file(key, &a, NULL, 8192), 0);
	assert_int_equal(sky_sshkey_generate(key, "two", line2, sizeof(line2)), -EEXIST);
	assert_int_equal(sky_read_file(key, &b, NULL, 8192), 0);
	assert_string_equal(a, b);
	free(b);
	/* a left-over .pub alone also stops it, and no private file stays */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(sky_sshkey_generate(key, "two", line2, sizeof(line2)), -EEXIST);
	assert_int_equal(access(key, F_OK), -1);
	assert_int_equal(sky_sshkey_remove(key), 0);
	free(a);
}

static void test_remove(void **state)
{
	char key[PATH_MAX], pub[PATH_MAX + 8], line[SKY_SSHKEY_LINE_MAX];

	(void)state;
	path_of(key, sizeof(key), "gone");
	snprintf(pub, sizeof(pub), "%s.pub", key);
	assert_int_equal(sky_sshkey_generate(key, "x", line, sizeof(line)), 0);
	assert_int_equal(sky_sshkey_remove(key), 0);
	assert_int_equal(access(key, F_OK), -1);
	assert_int_equal(access(pub, F_OK), -1);
	/* missing files are fine, either of them */
	assert_int_equal(sky_sshkey_remove(key), 0);
	assert_int_equal(sky_sshkey_generate(key, "x", line, sizeof(line)), 0);
	assert_int_equal(unlink(pub), 0);
	assert_int_equal(sky_sshkey_remove(key), 0);
	assert_int_equal(access(key, F_OK), -1);
}

static void test_each_key_differs(void **state)
{
	char k1[PATH_MAX], k2[PATH_MAX], l1[SKY_SSHKEY_LINE_MAX], l2[SKY_SSHKEY_LINE_MAX];
	char *d1 = NULL, *d2 = NULL;

	(void)state;
	path_of(k1, sizeof(k1), "diff1");
	path_of(k2, sizeof(k2), "diff2");
	assert_int_equal(sky_sshkey_host_keypair(k1, "same", l1, sizeof(l1)), 0);
	assert_int_equal(sky_sshkey_host_keypair(k2, "same", l2, sizeof(l2)), 0);
	assert_string_not_equal(l1, l2);
	assert_int_equal(sky_read_file(k1, &d1, NULL, 8192), 0);
	assert_int_equal(sky_read_file(k2, &d2, NULL, 8192), 0);
	assert_string_not_equal(d1, d2);
	free(d1);
	free(d2);
	assert_int_equal(sky_sshkey_remove(k1), 0);
	assert_int_equal(sky_sshkey_remove(k2), 0);
}

static void test_bad_arguments(void **state)
{
	char key[PATH_MAX], line[SKY_SSHKEY_LINE_MAX], big[SKY_SSHKEY_COMMENT_MAX + 2];

	(void)state;
	path_of(key, sizeof(key), "bad");
	assert_int_equal(sky_sshkey_generate(key, "two\nlines", line, sizeof(line)), -EINVAL);
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sky_sshkey_generate(key, big, line, sizeof(line)), -EINVAL);
	/* "ssh-ed25519 " + 68 + " c" + NUL = 83: one short is refused, nothing made */
	assert_int_equal(sky_sshkey_generate(key, "c", line, 82), -ENOSPC);
	assert_int_equal(access(key, F_OK), -1);
	assert_int_equal(sky_sshkey_generate(key, "c", line, 83), 0);
	assert_int_equal(strlen(line), 82);
	assert_int_equal(sky_sshkey_remove(key), 0);
	path_of(key, sizeof(key), "no-such-dir/key");
	assert_int_equal(sky_sshkey_generate(key, "c", line, sizeof(line)), -ENOENT);
}

static void test_blob_from_line(void **state)
{
	/* made by ssh-keygen -t ed25519 */
	static const char known[] =
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICSsDu1iRxEveyYcb39tpLvs6bNg8LQOBT6qjEPDUkPV u@h";
	unsigned char blob[SKY_SSHKEY_BLOB_MAX];
	char fp[SKY_SSHKEY_FP_MAX], fp2[SKY_SSHKEY_FP_MAX];
	size_t n = sizeof(blob);

	(void)state;
	assert_int_equal(sky_sshkey_blob_from_line(known, blob, &n), 0);
	assert_int_equal(n, 51);
	assert_memory_equal(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
	assert_int_equal(sky_sshkey_fingerprint(blob, n, fp, sizeof(fp)), 0);
	assert_string_equal(fp, "SHA256:4qrahN+7POeyqU5h+fIbiNKTb/JpmAwREBJtmqiOA2E");
	assert_int_equal(test_sh(fp2, sizeof(fp2),
				 "echo '%s' | ssh-keygen -l -E sha256 -f - | cut -d' ' -f2", known), 0);
	assert_string_equal(fp, fp2);
	assert_int_equal(sky_sshkey_fingerprint(blob, n, fp2, 50), -ENOSPC);

	/* authorized_keys options, quoted spaces included, and no comment */
	n = sizeof(blob);
	assert_int_equal(sky_sshkey_blob_from_line(
		"from=\"10.0.0.1\",command=\"echo a b\" ssh-ed25519 "
		"AAAAC3NzaC1lZDI1NTE5AAAAICSsDu1iRxEveyYcb39tpLvs6bNg8LQOBT6qjEPDUkPV\n", blob, &n), 0);
	assert_int_equal(n, 51);

	n = sizeof(blob);
	assert_int_equal(sky_sshkey_blob_from_line("", blob, &n), -EINVAL);
	assert_int_equal(sky_sshkey_blob_from_line("ssh-ed25519", blob, &n), -EINVAL);
	assert_int_equal(sky_sshkey_blob_from_line("ssh-ed25519 AAAA*AAA", blob, &n), -EINVAL);
	assert_int_equal(sky_sshkey_blob_from_line("ssh-ed25519 AAAAC3Nza", blob, &n), -EINVAL);
	/* the blob says ed25519, the line says rsa */
	assert_int_equal(sky_sshkey_blob_from_line(
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAICSsDu1iRxEveyYcb39tpLvs6bNg8LQOBT6qjEPDUkPV",
		blob, &n), -EINVAL);
	n = 50;
	assert_int_equal(sky_sshkey_blob_from_line(known, blob, &n), -ENOSPC);
}

/* sshd lets in the current user with keys/login.pub; keys/other is not
 * listed. */
static int sshd_setup(void **state)
{
	char dir[PATH_MAX], key[PATH_MAX + 16], line[SKY_SSHKEY_LINE_MAX];

	(void)state;
	path_of(dir, sizeof(dir), "sshd");
	if (mkdir(dir, 0700))
		return -1;
	snprintf(key, sizeof(key), "%s/login", dir);
	if (sky_sshkey_generate(key, "login", line, sizeof(line)))
		return -1;
	snprintf(key, sizeof(key), "%s/other", dir);
	if (sky_sshkey_generate(key, "other", line, sizeof(line)))
		return -1;
	snprintf(key, sizeof(key), "%s/login.pub", dir);
	return test_sshd_start(&sshd, dir, key);
}

static int sshd_teardown(void **state)
{
	(void)state;
	test_sshd_stop(&sshd);
	return 0;
}

static void test_logs_in_with_libssh2(void **state)
{
	char key[PATH_MAX + 16], pub[PATH_MAX + 16], out[256], *priv = NULL, *pubdata = NULL;
	const char *user = test_user();
	LIBSSH2_SESSION *s;
	size_t privlen = 0, publen = 0;
	int sock = -1;

	(void)state;
	snprintf(key, sizeof(key), "%s/login", sshd.dir);
	snprintf(pub, sizeof(pub), "%s/login.pub", sshd.dir);

	/* from the files */
	assert_non_null(s = test_ssh_connect(sshd.port, &sock));
	assert_int_equal(libssh2_userauth_publickey_fromfile(s, user, pub, key, NULL), 0);
	assert_int_equal(test_ssh_exec(s, "echo ok", out, sizeof(out)), 0);
	assert_string_equal(out, "ok\n");
	test_ssh_close(s, sock);

	/* from memory, as a transport holding the key would */
	assert_int_equal(sky_read_file(key, &priv, &privlen, 8192), 0);
	assert_int_equal(sky_read_file(pub, &pubdata, &publen, 8192), 0);
	assert_non_null(s = test_ssh_connect(sshd.port, &sock));
	assert_int_equal(libssh2_userauth_publickey_frommemory(s, user, strlen(user), pubdata,
							       publen, priv, privlen, NULL), 0);
	assert_int_equal(test_ssh_exec(s, "echo ok", out, sizeof(out)), 0);
	assert_string_equal(out, "ok\n");
	test_ssh_close(s, sock);
	free(priv);
	free(pubdata);

	/* a key sshd does not list is refused: the server really checks */
	snprintf(key, sizeof(key), "%s/other", sshd.dir);
	snprintf(pub, sizeof(pub), "%s/other.pub", sshd.dir);
	assert_non_null(s = test_ssh_connect(sshd.port, &sock));
	assert_int_not_equal(libssh2_userauth_publickey_fromfile(s, user, pub, key, NULL), 0);
	assert_int_equal(libssh2_userauth_authenticated(s), 0);
	test_ssh_close(s, sock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_and_modes),
		cmocka_unit_test(test_ssh_keygen_reads_it),
		cmocka_unit_test(test_refuses_to_overwrite),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_each_key_differs),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_blob_from_line),
		cmocka_unit_test_setup_teardown(test_logs_in_with_libssh2, sshd_setup,
						sshd_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
