/* libFuzzer target: payload kind detection (scheduler/payload.c), which
 * reads a file: the input is written to a memory file and detected through
 * its /proc/self/fd path. Exercises the script/shebang test and the whole
 * tar and tar.gz walk (headers, checksums, GNU long names, pax records).
 * A mutated header almost never keeps a valid checksum, which would stop
 * the walk at the first one: every block of a plain tar that carries the
 * ustar magic gets its checksum recomputed first (v7 headers, without the
 * magic, and gzip'd archives are fed as they are). Corpus:
 * tests/fuzz/corpus/payload. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scheduler/payload.h"

#define BLOCK 512

static int fd = -1;
static char path[64];

static void fix_checksums(uint8_t *p, size_t size)
{
	size_t off, i;
	unsigned sum;

	if (size >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return;
	for (off = 0; off + BLOCK <= size; off += BLOCK) {
		uint8_t *h = p + off;
		char field[9];

		if (memcmp(h + 257, "ustar", 5))
			continue;
		for (sum = 0, i = 0; i < BLOCK; i++)
			sum += i >= 148 && i < 156 ? ' ' : h[i];
		snprintf(field, sizeof(field), "%06o", sum & 0777777);
		memcpy(h + 148, field, 7);   /* six digits and a NUL */
		h[155] = ' ';
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum sky_payload_kind kind = (enum sky_payload_kind)-1;
	char err[512];
	uint8_t *copy;
	int rc;

	if (fd < 0) {
		fd = memfd_create("fuzz_payload", MFD_CLOEXEC);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (!(copy = malloc(size ? size : 1)))
		return 0;
	if (size)
		memcpy(copy, data, size);
	fix_checksums(copy, size);
	if (ftruncate(fd, 0) || (size && pwrite(fd, copy, size, 0) != (ssize_t)size)) {
		perror("fuzz_payload: writing the memory file");
		abort();
	}
	free(copy);
	rc = sky_payload_detect(path, &kind, err, sizeof(err));
	if (rc == 0 && kind != SKY_PAYLOAD_SCRIPT && kind != SKY_PAYLOAD_SHEBANG &&
	    kind != SKY_PAYLOAD_ARCHIVE) {
		fprintf(stderr, "fuzz_payload: success without a kind\n");
		abort();
	}
	if (rc == 0 && kind != SKY_PAYLOAD_ARCHIVE &&
	    (kind == SKY_PAYLOAD_SHEBANG) != (size >= 2 && data[0] == '#' && data[1] == '!')) {
		fprintf(stderr, "fuzz_payload: a script's kind does not follow its first bytes\n");
		abort();
	}
	if (rc && (rc != -EINVAL || !err[0] || !memchr(err, '\0', sizeof(err)))) {
		fprintf(stderr, "fuzz_payload: rc %d with message \"%s\"\n", rc, err);
		abort();
	}
	return 0;
}
