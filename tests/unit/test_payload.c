/* Unit tests for payload kind detection (scheduler/payload.c). Archives are
 * made with the system's tar, plus a few headers built by hand for the
 * corners tar does not produce on demand (base-256 sizes, GNU 'L', pax). */
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

#include "common/util.h"
#include "scheduler/payload.h"

#define NO_RUN "archive has no executable \"run\" at its top"

static char dir[PATH_MAX];
static int have_tar;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command inside the scratch directory; it must succeed. */
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static const char *at(const char *name)
{
	static char path[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int detect(const char *name, enum sky_payload_kind *kind, char *err, size_t errlen)
{
	return sky_payload_detect(at(name), kind, err, errlen);
}

static void expect_kind(const char *name, enum sky_payload_kind want)
{
	enum sky_payload_kind kind = (enum sky_payload_kind)-1;
	char err[512];

	assert_int_equal(detect(name, &kind, err, sizeof(err)), 0);
	assert_int_equal(kind, want);
}

static void expect_err(const char *name, const char *msg)
{
	enum sky_payload_kind kind = (enum sky_payload_kind)-1;
	char err[512];

	assert_int_equal(detect(name, &kind, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
	assert_int_equal(kind, (enum sky_payload_kind)-1);
}

static void expect_err_prefix(const char *name, const char *prefix)
{
	enum sky_payload_kind kind;
	char err[512];

	assert_int_equal(detect(name, &kind, err, sizeof(err)), -EINVAL);
	if (strncmp(err, prefix, strlen(prefix)))
		fail_msg("\"%s\" does not start with \"%s\"", err, prefix);
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/skyfs-test-payload.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	have_tar = system("tar --version >/dev/null 2>&1") == 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return sky_rm_rf(dir);
}

/* src/: an executable run and a data file. */
static void make_src(void)
{
	sh("mkdir -p src && printf '#!/bin/sh\\necho hi\\n' > src/run && chmod 755 src/run"
	   " && head -c 3000 /dev/zero > src/data.bin");
}

static void test_tar(void **state)
{
	(void)state;
	if (!have_tar)
		skip();
	make_src();
	sh("tar -cf plain.tar -C src data.bin run");
	expect_kind("plain.tar", SKY_PAYLOAD_ARCHIVE);
	sh("tar -czf zipped.tar.gz -C src run data.bin");
	expect_kind("zipped.tar.gz", SKY_PAYLOAD_ARCHIVE);
	sh("tar -cf dot.tar -C src .");              /* ./run */
	expect_kind("dot.tar", SKY_PAYLOAD_ARCHIVE);
	sh("tar -czf dot.tgz -C src .");
	expect_kind("dot.tgz", SKY_PAYLOAD_ARCHIVE);
	sh("tar --format=v7 -cf v7.tar -C src run");  /* no ustar magic */
	expect_kind("v7.tar", SKY_PAYLOAD_ARCHIVE);
	sh("tar --format=pax -cf pax.tar -C src run data.bin");
	expect_kind("pax.tar", SKY_PAYLOAD_ARCHIVE);
	sh("chmod 700 src/run && tar -cf owner.tar -C src run");   /* any x bit will do */
	expect_kind("owner.tar", SKY_PAYLOAD_ARCHIVE);
}

static void test_tar_without_run(void **state)
{
	(void)state;
	if (!have_tar)
		skip();
	make_src();
	sh("chmod 644 src/run && tar -cf noexec.tar -C src run data.bin");
	expect_err("noexec.tar", NO_RUN " (\"run\" is not executable: chmod +x run before packing)");
	sh("mkdir -p nested/app && cp -p src/run nested/app/run && chmod 755 nested/app/run"
	   " && tar -czf nested.tgz -C nested app");
	expect_err("nested.tgz", NO_RUN " (found \"app/run\": pack from inside its directory)");
	sh("tar -cf norun.tar -C src data.bin");
	expect_err("norun.tar", NO_RUN);
	sh("mkdir -p link && ln -sf /bin/true link/run && tar -cf link.tar -C link run");
	expect_err("link.tar", NO_RUN " (\"run\" is not a regular file)");
	sh("mkdir -p d/run && tar -cf dir.tar -C d run");
	expect_err("dir.tar", NO_RUN " (\"run\" is not a regular file)");
	sh("tar -czf empty.tgz -T /dev/null");
	expect_err("empty.tgz", NO_RUN);
	/* the last "run" wins, as it would when tar extracts */
	sh("chmod 755 src/run && tar -cf later.tar -C src run && mkdir -p other"
	   " && printf x > other/run && chmod 644 other/run && tar -rf later.tar -C other run");
	expect_err("later.tar", NO_RUN " (\"run\" is not executable: chmod +x run before packing)");
}

static void test_tar_long_names(void **state)
{
	const char *deep = "a234567890/b234567890/c234567890/d234567890/e234567890/"
			   "f234567890/g234567890/h234567890/i234567890/j234567890";

	(void)state;
	if (!have_tar)
		skip();
	make_src();
	sh("mkdir -p long/%s && cp -p src/run long/%s/run", deep, deep);
	sh("tar --format=gnu -cf gnu.tar -C long a234567890");       /* 'L' headers */
	expect_err_prefix("gnu.tar", NO_RUN " (found \"a234567890/b234567890/");
	sh("tar --format=pax -cf pax.tar -C long a234567890");       /* 'x' path= */
	expect_err_prefix("pax.tar", NO_RUN " (found \"a234567890/b234567890/");
	sh("cp -p src/run long/ && tar --format=gnu -cf gnu2.tar -C long a234567890 run");
	expect_kind("gnu2.tar", SKY_PAYLOAD_ARCHIVE);
}

static void test_corrupt(void **state)
{
	(void)state;
	sh("printf '\\037\\213garbage that is not deflate data at all' > garbage.gz");
	expect_err_prefix("garbage.gz", "corrupt archive: ");
	sh("printf '\\037\\213' > magic-only.gz");
	expect_err_prefix("magic-only.gz", "corrupt archive: ");
	sh("printf 'echo hi\\n' | gzip -c > script.gz");
	expect_err("script.gz", "corrupt archive: not a tar archive");
	if (!have_tar)
		return;
	make_src();
	sh("head -c 100000 /dev/urandom > src/big.bin && tar -cf big.tar -C src big.bin run"
	   " && head -c 40000 big.tar > cut.tar");
	expect_err_prefix("cut.tar", "corrupt archive: truncated");
	sh("tar -czf big.tgz -C src big.bin run && head -c 50000 big.tgz > cut.tgz");
	expect_err_prefix("cut.tgz", "corrupt archive: ");
	/* a second header whose checksum no longer matches */
	sh("tar -cf bad.tar -C src data.bin run"
	   " && printf 'XX' | dd of=bad.tar bs=1 seek=3584 conv=notrunc 2>/dev/null");
	expect_err("bad.tar", "corrupt archive: bad tar header at byte 3584");
}

static void test_scripts(void **state)
{
	enum sky_payload_kind kind;
	char err[256];

	(void)state;
	sh("printf '#!/usr/bin/env python3\\nprint(1)\\n' > shebang");
	expect_kind("shebang", SKY_PAYLOAD_SHEBANG);
	sh("printf 'echo hi\\n' > plain.sh");
	expect_kind("plain.sh", SKY_PAYLOAD_SCRIPT);
	sh(": > empty");
	expect_kind("empty", SKY_PAYLOAD_SCRIPT);
	sh("printf '#' > hash");
	expect_kind("hash", SKY_PAYLOAD_SCRIPT);
	/* longer than a tar block, so the header test really runs */
	sh("for i in $(seq 200); do echo \"echo line $i\"; done > long.sh");
	expect_kind("long.sh", SKY_PAYLOAD_SCRIPT);
	sh("(echo '#!/bin/sh'; for i in $(seq 200); do echo \"echo $i\"; done) > long-shebang");
	expect_kind("long-shebang", SKY_PAYLOAD_SHEBANG);
	assert_int_equal(detect("missing", &kind, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open payload"));
}

/* Hand-built tar pieces. */
static void tar_header(unsigned char *h, const char *name, char type, unsigned mode,
		       unsigned long long size, int base256)
{
	unsigned sum = 0;
	int i;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	if (base256) {
		h[124] = 0x80;
		for (i = 0; i < 8; i++)
			h[135 - i] = (unsigned char)(size >> (8 * i));
	} else {
		snprintf((char *)h + 124, 12, "%011llo", size);
	}
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar\0" "00", 8);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static void write_entry(FILE *f, const char *name, char type, unsigned mode,
			const char *data, size_t size, int base256)
{
	unsigned char h[512], pad[512] = { 0 };

	tar_header(h, name, type, mode, size, base256);
	assert_int_equal(fwrite(h, 1, 512, f), 512);
	if (size) {
		assert_int_equal(fwrite(data, 1, size, f), size);
		assert_int_equal(fwrite(pad, 1, (512 - size % 512) % 512, f),
				 (512 - size % 512) % 512);
	}
}

static FILE *open_crafted(const char *name)
{
	FILE *f = fopen(at(name), "wb");

	assert_non_null(f);
	return f;
}

static void close_crafted(FILE *f)
{
	unsigned char zero[1024] = { 0 };

	assert_int_equal(fwrite(zero, 1, sizeof(zero), f), sizeof(zero));
	assert_int_equal(fclose(f), 0);
}

static void test_crafted(void **state)
{
	static char big[700];
	FILE *f;

	(void)state;
	memset(big, 'z', sizeof(big));
	/* a base-256 size must be skipped exactly to find the next header */
	f = open_crafted("b256.tar");
	write_entry(f, "data", '0', 0644, big, sizeof(big), 1);
	write_entry(f, "run", '0', 0755, "#!/bin/sh\n", 10, 0);
	close_crafted(f);
	expect_kind("b256.tar", SKY_PAYLOAD_ARCHIVE);

	/* GNU long name: the 'L' data names the next entry */
	f = open_crafted("L.tar");
	write_entry(f, "././@LongLink", 'L', 0644, "./run", 6, 0);
	write_entry(f, "truncated-name", '0', 0755, "x", 1, 0);
	close_crafted(f);
	expect_kind("L.tar", SKY_PAYLOAD_ARCHIVE);

	/* pax path= names the next entry; the header's own name is ignored */
	f = open_crafted("x.tar");
	write_entry(f, "PaxHeaders/run", 'x', 0644, "12 path=run\n", 12, 0);
	write_entry(f, "something-else", '0', 0755, "x", 1, 0);
	close_crafted(f);
	expect_kind("x.tar", SKY_PAYLOAD_ARCHIVE);

	/* and the other way round: a pax path= that moves "run" away */
	f = open_crafted("x2.tar");
	write_entry(f, "PaxHeaders/run", 'x', 0644, "16 path=sub/run\n", 16, 0);
	write_entry(f, "run", '0', 0755, "x", 1, 0);
	close_crafted(f);
	expect_err("x2.tar", NO_RUN " (found \"sub/run\": pack from inside its directory)");

	/* a corrupt pax record */
	f = open_crafted("x3.tar");
	write_entry(f, "PaxHeaders/run", 'x', 0644, "99 path=run\n", 12, 0);
	write_entry(f, "run", '0', 0755, "x", 1, 0);
	close_crafted(f);
	expect_err("x3.tar", "corrupt archive: bad pax header record");

	/* an archive that ends without its zero blocks is still read */
	f = open_crafted("noend.tar");
	write_entry(f, "run", '0', 0755, "x", 1, 0);
	assert_int_equal(fclose(f), 0);
	expect_kind("noend.tar", SKY_PAYLOAD_ARCHIVE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tar),
		cmocka_unit_test(test_tar_without_run),
		cmocka_unit_test(test_tar_long_names),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_crafted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
