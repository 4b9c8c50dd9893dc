/* A real sshd and libssh2 client for the SSH unit tests (see sshd_helper.h). */
#include "sshd_helper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SSHD_PATH "/usr/sbin/sshd"   /* sshd re-executes itself: absolute path */

const char *test_user(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? pw->pw_name : "root";
}

int test_sh(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	size_t len = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (!(p = popen(cmd, "r")))
		return -1;
	if (out && outlen) {
		len = fread(out, 1, outlen - 1, p);
		out[len] = '\0';
		while (len > 0 && out[len - 1] == '\n')
			out[--len] = '\0';
	}
	while (fgetc(p) != EOF)   /* let it finish writing */
		;
	st = pclose(p);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd, port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &alen))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void print_log(const char *dir)
{
	char path[PATH_MAX + 16], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sshd.log", dir);
	if (!(f = fopen(path, "r")))
		return;
	fprintf(stderr, "--- %s\n", path);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static int write_config(const struct test_sshd *d, const char *authorized_keys, char *path,
			size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/sshd_config", d->dir);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f,
		"ListenAddress 127.0.0.1:%d\n"
		"HostKey %s\n"
		"PidFile %s/sshd.pid\n"
		"AuthorizedKeysFile %s\n"
		"PermitRootLogin prohibit-password\n"
		"PubkeyAuthentication yes\n"
		"PasswordAuthentication no\n"
		"KbdInteractiveAuthentication no\n"
		"UsePAM no\n"
		"StrictModes no\n"
		"MaxStartups 100:30:200\n"
		"LogLevel VERBOSE\n",
		d->port, d->host_key, d->dir, authorized_keys);
	return fclose(f) ? -1 : 0;
}

/* One try on one port: -1 failed for good, 1 lost the port to a race. */
static int spawn(struct test_sshd *d, const char *config)
{
	char log[PATH_MAX + 16];
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int i, fd, st;

	snprintf(log, sizeof(log), "%s/sshd.log", d->dir);
	d->pid = fork();
	if (d->pid < 0) {
		d->pid = 0;
		return -1;
	}
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(SSHD_PATH, SSHD_PATH, "-D", "-e", "-f", config, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {   /* 10 s */
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return test_sh(NULL, 0, "grep -q 'Address already in use' '%s'", log) ? -1 : 1;
		}
		if ((fd = tcp_connect(d->port)) >= 0) {
			close(fd);
			return 0;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "sshd did not listen on port %d within 10 s\n", d->port);
	return -1;
}

int test_sshd_start(struct test_sshd *d, const char *dir, const char *authorized_keys)
{
	char config[PATH_MAX + 16];
	int attempt, rc = -1;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->host_key, sizeof(d->host_key), "%s/ssh_host_ed25519_key", dir);
	/* privilege separation needs it; only root can make it */
	if (getuid() == 0)
		mkdir("/run/sshd", 0755);
	if (access(SSHD_PATH, X_OK)) {
		fprintf(stderr, "%s missing: install openssh-server\n", SSHD_PATH);
		return -1;
	}
	if (access(d->host_key, F_OK) &&
	    test_sh(NULL, 0, "ssh-keygen -q -t ed25519 -N '' -C test-host -f '%s'", d->host_key)) {
		fprintf(stderr, "ssh-keygen could not make %s\n", d->host_key);
		return -1;
	}
	for (attempt = 0; attempt < 5 && rc; attempt++) {
		if ((d->port = free_port()) < 0 ||
		    write_config(d, authorized_keys, config, sizeof(config)))
			break;
		if ((rc = spawn(d, config)) < 0)
			break;
	}
	if (rc) {
		fprintf(stderr, "sshd failed to start (%s -D -f %s)\n", SSHD_PATH, config);
		print_log(dir);
		test_sshd_stop(d);
		return -1;
	}
	return 0;
}

void test_sshd_stop(struct test_sshd *d)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int i, st;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid)
			goto out;
		nanosleep(&pause, NULL);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
out:
	d->pid = 0;
}

LIBSSH2_SESSION *test_ssh_connect(int port, int *sock)
{
	LIBSSH2_SESSION *s;
	char *err = NULL;

	if ((*sock = tcp_connect(port)) < 0) {
		fprintf(stderr, "connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
		return NULL;
	}
	if (!(s = libssh2_session_init())) {
		close(*sock);
		return NULL;
	}
	libssh2_session_set_blocking(s, 1);
	libssh2_session_set_timeout(s, 10000);
	if (libssh2_session_handshake(s, *sock)) {
		libssh2_session_last_error(s, &err, NULL, 0);
		fprintf(stderr, "handshake with 127.0.0.1:%d: %s\n", port, err);
		test_ssh_close(s, *sock);
		return NULL;
	}
	return s;
}

void test_ssh_close(LIBSSH2_SESSION *s, int sock)
{
	if (s) {
		libssh2_session_disconnect(s, "test done");
		libssh2_session_free(s);
	}
	if (sock >= 0)
		close(sock);
}

int test_ssh_exec(LIBSSH2_SESSION *s, const char *cmd, char *out, size_t outlen)
{
	LIBSSH2_CHANNEL *ch;
	size_t len = 0;
	ssize_t n;
	int status = -1;

	if (!(ch = libssh2_channel_open_session(s)))
		return -1;
	if (libssh2_channel_exec(ch, cmd))
		goto out;
	while (len + 1 < outlen &&
	       (n = libssh2_channel_read(ch, out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	if (!libssh2_channel_close(ch) && !libssh2_channel_wait_closed(ch))
		status = libssh2_channel_get_exit_status(ch);
out:
	libssh2_channel_free(ch);
	return status;
}
