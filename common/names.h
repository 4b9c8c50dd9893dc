/* What a user-supplied name may be: pool, job and node names arrive from
 * paths under the mount and become paths in the state directory, so they
 * must be one harmless path component. */
#ifndef SKY_NAMES_H
#define SKY_NAMES_H

#define SKY_NAME_MAX 255

/* 0 when name is one path component of 1..255 bytes, not "." or "..",
 * without '/', control characters or invalid UTF-8; else -EINVAL
 * (-ENAMETOOLONG when only the length is wrong). */
int sky_name_check(const char *name);

#endif
