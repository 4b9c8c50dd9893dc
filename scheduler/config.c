/* The configuration file: site defaults for a user's mounts, in
 * $XDG_CONFIG_HOME/skyfs/config (else ~/.config/skyfs/config), or the file
 * -o config=FILE names. "key = value" lines, '#' comments:
 *
 *   state = /var/lib/skyfs        the state directory (-o state= wins)
 *   provider = aws, runpod        spec defaults: a spec that does not set
 *   region = us-                  the key gets this instead of the built-in
 *   orphan_timeout = 30m          default
 *   aws_profile = research        AWS_PROFILE, unless the environment has one
 *   runpod_profile = work         SKYFS_RUNPOD_PROFILE (the [work] section of
 *                                 ~/.runpod/config.toml), the same way
 *
 * Read once at start-up, before any thread; MNT/config shows what is in
 * effect and where it came from (the file holds no secrets, and none is
 * shown: profiles are names). */
#define LOG_MODULE "config"
#include "scheduler/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "scheduler/spec.h"

static const char *const spec_defaults[] = { "provider", "region", "orphan_timeout" };

/* Credentials profile names: the file's value goes into the variable the
 * provider reads, unless the environment already sets it. */
static const struct {
	const char *key, *env;
} profiles[] = {
	{ "aws_profile", "AWS_PROFILE" },
	{ "runpod_profile", "SKYFS_RUNPOD_PROFILE" },
};

static struct {
	char path[4096];
	int found;
	char state[4096];
	char profile[SKY_ARRAY_SIZE(profiles)][128];
	int profile_used[SKY_ARRAY_SIZE(profiles)];   /* the environment had none */
	int set[3];                  /* spec_defaults[i] came from the file */
} C;

static int default_path(char *out, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg && *xdg == '/')
		return (size_t)snprintf(out, len, "%s/skyfs/config", xdg) < len ? 0 : -ENAMETOOLONG;
	if (home && *home)
		return (size_t)snprintf(out, len, "%s/.config/skyfs/config", home) < len ? 0 :
		       -ENAMETOOLONG;
	return -ENOENT;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'); e--)
		;
	*e = '\0';
	return s;
}

static int apply(const char *key, const char *val, char *err, size_t errlen)
{
	char why[512];
	size_t i;

	if (!strcmp(key, "state")) {
		if (val[0] != '/') {
			snprintf(err, errlen, "state: \"%s\" is not an absolute path", val);
			return -EINVAL;
		}
		return (size_t)snprintf(C.state, sizeof(C.state), "%s", val) < sizeof(C.state) ? 0 :
		       -ENAMETOOLONG;
	}
	for (i = 0; i < SKY_ARRAY_SIZE(profiles); i++)
		if (!strcmp(key, profiles[i].key)) {
			if (!*val || strlen(val) >= sizeof(C.profile[i]) || strpbrk(val, " \t[]\"'")) {
				snprintf(err, errlen, "%s: \"%s\" is not a profile name", key, val);
				return -EINVAL;
			}
			snprintf(C.profile[i], sizeof(C.profile[i]), "%s", val);
			return 0;
		}
	for (i = 0; i < SKY_ARRAY_SIZE(spec_defaults); i++)
		if (!strcmp(key, spec_defaults[i])) {
			if (sky_spec_set_default(key, val, why, sizeof(why))) {
				/* the spec parser's "line 1: " is not this file's line */
				snprintf(err, errlen, "%s", strncmp(why, "line 1: ", 8) ? why : why + 8);
				return -EINVAL;
			}
			C.set[i] = 1;
			return 0;
		}
	snprintf(err, errlen, "unknown key \"%s\" (known: state, provider, region, "
		 "orphan_timeout, aws_profile, runpod_profile)", key);
	return -EINVAL;
}

int sky_config_load(const char *path, char *err, size_t errlen)
{
	char *text = NULL, *line, *next, msg[768];
	const char *env;
	size_t i;
	int rc, n = 0;

	if (path)
		snprintf(C.path, sizeof(C.path), "%s", path);
	else if (default_path(C.path, sizeof(C.path)))
		return 0;
	rc = sky_read_file(C.path, &text, NULL, 1 << 20);
	if (rc == -ENOENT && !path)
		return 0;   /* no file: the built-in defaults */
	if (rc) {
		snprintf(err, errlen, "%s: %s", C.path, strerror(-rc));
		return rc;
	}
	C.found = 1;
	for (next = text; (line = strsep(&next, "\n")); ) {
		char *eq, *key, *val;

		n++;
		line[strcspn(line, "#")] = '\0';
		if (!*trim(line))
			continue;
		if (!(eq = strchr(line, '='))) {
			snprintf(err, errlen, "%s: line %d: expected key = value", C.path, n);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if ((rc = apply(key, val, msg, sizeof(msg)))) {
			snprintf(err, errlen, "%s: line %d: %s", C.path, n, msg);
			break;
		}
	}
	free(text);
	for (i = 0; !rc && i < SKY_ARRAY_SIZE(profiles); i++)
		if (C.profile[i][0] && (!(env = getenv(profiles[i].env)) || !*env)) {
			setenv(profiles[i].env, C.profile[i], 1);
			C.profile_used[i] = 1;
		}
	return rc;
}

const char *sky_config_state(void)
{
	return C.state[0] ? C.state : NULL;
}

int sky_config_render(const char *state_dir, struct sky_buf *out)
{
	size_t i;

	if (C.found)
		sky_buf_printf(out, "file: %s\n", C.path);
	else
		sky_buf_printf(out, "file: none%s%s%s\n", C.path[0] ? " (looked for " : "", C.path,
			       C.path[0] ? ")" : "");
	sky_buf_printf(out, "state: %s\n", state_dir);
	for (i = 0; i < SKY_ARRAY_SIZE(spec_defaults); i++) {
		const char *v = sky_spec_get_default(spec_defaults[i]);

		sky_buf_printf(out, "%s: %s (%s)\n", spec_defaults[i], v ? v : "-",
			       C.set[i] ? "config" : "built-in");
	}
	for (i = 0; i < SKY_ARRAY_SIZE(profiles); i++) {
		const char *env = getenv(profiles[i].env);

		if (C.profile_used[i])
			sky_buf_printf(out, "%s: %s (config)\n", profiles[i].key, C.profile[i]);
		else if (env && *env)
			sky_buf_printf(out, "%s: %s (%s%s)\n", profiles[i].key, env, profiles[i].env,
				       C.profile[i][0] ? " wins over the config" : "");
		else
			sky_buf_printf(out, "%s: - (default)\n", profiles[i].key);
	}
	return out->data ? 0 : -ENOMEM;
}
