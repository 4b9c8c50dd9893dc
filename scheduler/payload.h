/* What kind of job payload a file is, detected by content: a script (run
 * directly when it starts with "#!", else with /bin/sh) or a tar archive
 * (plain or gzip) that must hold an executable regular file "run" at its
 * top ("run" or "./run"). */
#ifndef SKY_PAYLOAD_H
#define SKY_PAYLOAD_H

#include <stddef.h>

enum sky_payload_kind {
	SKY_PAYLOAD_SCRIPT,        /* run with /bin/sh */
	SKY_PAYLOAD_SHEBANG,       /* executable script, run directly */
	SKY_PAYLOAD_ARCHIVE,       /* tar or tar.gz with an executable run */
};

/* Inspects the file at path. Returns 0 and sets *kind, or -EINVAL with a
 * message in err when the file is an archive without an executable "run"
 * at its top, or a corrupt archive; other -errno for I/O errors. An empty
 * file is a (trivially successful) script. */
int sky_payload_detect(const char *path, enum sky_payload_kind *kind,
		       char *err, size_t errlen);

#endif
