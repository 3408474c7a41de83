/* SPDX-License-Identifier: ISC */
/*
 * systemd: what the service manager and the operator see of a build with
 * libsystemd and of one configured --without-systemd.  Runs in both.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "systemd.h"
#include "tap.h"

/* What one systemd_notify() delivers to NOTIFY_SOCKET, in buf ("" if nothing). */
static void
notified(char *buf, size_t size)
{
	char dir[] = "/tmp/rally-test-notify-XXXXXX";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	ssize_t n = -1;
	int fd;

	buf[0] = '\0';
	if (mkdtemp(dir) == NULL)
		return;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd != -1 && bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		setenv("NOTIFY_SOCKET", sun.sun_path, 1);
		systemd_notify("STATUS=%u job(s) running", 3u);
		unsetenv("NOTIFY_SOCKET");
		n = recv(fd, buf, size - 1, MSG_DONTWAIT);
	}
	buf[n > 0 ? n : 0] = '\0';
	if (fd != -1)
		close(fd);
	unlink(sun.sun_path);
	rmdir(dir);
}

static void
test_notifications(void)
{
	char buf[256];

	notified(buf, sizeof buf);
	if (systemd_built_in())
		is_str(buf, "STATUS=3 job(s) running",
		    "the manager receives the formatted state");
	else
		is_str(buf, "", "without systemd, no notification is sent");
	systemd_notify("READY=1");
	ok(1, "with NOTIFY_SOCKET unset, a notification is a quiet no-op");
}

static void
test_watchdog(void)
{
	char pid[32];

	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("WATCHDOG_USEC", "2000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	ok(systemd_watchdog_usec() == (systemd_built_in() ? 2000000 : 0),
	    systemd_built_in() ? "the watchdog interval comes from WATCHDOG_USEC" :
	    "without systemd, there is no watchdog to ping");
	setenv("WATCHDOG_PID", "1", 1);
	ok(systemd_watchdog_usec() == 0, "a watchdog meant for another pid is not ours");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void
test_journal_target(void)
{
	static const char text[] = "[database]\nconninfo = x\n[log]\ntarget = journal\n";
	struct conf c;
	char *cause = NULL;
	int rc = conf_load_buffer(text, sizeof text - 1, "rally.conf", &c, &cause);

	if (systemd_built_in()) {
		ok(rc == 0, "log.target = journal is accepted");
	} else {
		ok(rc == -1 && cause != NULL &&
		    strstr(cause, "--without-systemd") != NULL &&
		    strstr(cause, "use auto or stderr") != NULL,
		    "without systemd, log.target = journal is refused, saying why");
		if (cause != NULL)
			printf("# %s\n", cause);
	}
	if (rc == 0)
		conf_clear(&c);
	free(cause);
	if (!systemd_built_in()) {
		struct iovec iov = { "MESSAGE=x", 9 };

		ok(systemd_journal_sendv(&iov, 1) == -1,
		    "without systemd, the journal cannot be written");
	}
}

int
main(void)
{
	test_notifications();
	test_watchdog();
	test_journal_target();
	return tap_done();
}
