/* Name validation for everything a user can name under the mount. */
#include "common/names.h"

#include <errno.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and out-of-range code points */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 control characters */
	if (cp >= 0x80 && cp < 0xa0)
		return 0;
	return len;
}

int sky_name_check(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n, i, k;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n == 0)
		return -EINVAL;
	if (n > SKY_NAME_MAX)
		return -ENAMETOOLONG;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	for (i = 0; i < n; i += k) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '/')
			return -EINVAL;
		k = utf8_seq_len(p + i, n - i);
		if (!k)
			return -EINVAL;
	}
	return 0;
}
